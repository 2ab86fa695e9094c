// @ts-check
// ŷ for many rows from a frame's weights, for the views that need predictions the frame does
// not carry: the decision boundary over a grid and predicted-vs-target. The same dense
// forward pass as the engine's forward_all: z = x·W + b, a = f(z), layer by layer.

import { pageConfig } from "./config.js";
/** @import { Dataset, FrameLayer, Matrix, Vector } from "./protocol.js" */

/** @type {Record<string, (z: number) => number>} */
const ACTIVATIONS = {
  sigmoid: (z) => 1 / (1 + Math.exp(-z)),
  tanh: Math.tanh,
  relu: (z) => Math.max(0, z),
  leaky_relu: (z) => (z > 0 ? z : 0.01 * z),
  linear: (z) => z,
};

/** @param {Vector} row */
function softmaxInPlace(row) {
  const largest = Math.max(...row);
  let sum = 0;
  for (let j = 0; j < row.length; j += 1) {
    row[j] = Math.exp(row[j] - largest);
    sum += row[j];
  }
  for (let j = 0; j < row.length; j += 1) row[j] /= sum;
}

/** @typedef {Pick<FrameLayer, "W" | "b" | "activation">} DenseLayer a layer as the forward pass needs it */

/**
 * rows (n, n_in) → outputs (n, n_out) through layers [{W (n_in, n_out), b, activation}].
 * @param {DenseLayer[]} layers
 * @param {Matrix} rows
 * @returns {Matrix}
 */
export function forward(layers, rows) {
  return rows.map((input) => {
    let a = input;
    for (const layer of layers) {
      const units = layer.W[0].length;
      const z = layer.b ? [...layer.b] : new Array(units).fill(0);
      for (let i = 0; i < a.length; i += 1) {
        const weights = layer.W[i];
        for (let j = 0; j < units; j += 1) z[j] += a[i] * weights[j];
      }
      if (layer.activation === "softmax") {
        softmaxInPlace(z);
      } else {
        const f = ACTIVATIONS[layer.activation];
        if (!f) throw new Error(`no forward pass for activation ${layer.activation}`);
        for (let j = 0; j < units; j += 1) z[j] = f(z[j]);
      }
      a = z;
    }
    return a;
  });
}

/**
 * Every layer's activations for `rows`: [(n, units of layer 0), (n, units of layer 1), …].
 * @param {DenseLayer[]} layers
 * @param {Matrix} rows
 */
export function forwardLayers(layers, rows) {
  /** @type {Matrix[]} */
  const outputs = [];
  let a = rows;
  for (const layer of layers) {
    a = forward([layer], a);
    outputs.push(a);
  }
  return outputs;
}

// The columns of TF Playground's input features of a point (x1, x2), by the server's id (its
// page config's features: id, label, formula). The page computes them for the boundary;
// tests/browser/test_forward_js.py holds each equal to the engine's (app/engine/datasets.py).
/** @type {Record<string, (point: Vector) => number>} */
export const FEATURE_COLUMNS = {
  x1: (p) => p[0],
  x2: (p) => p[1],
  x1_squared: (p) => p[0] * p[0],
  x2_squared: (p) => p[1] * p[1],
  x1_x2: (p) => p[0] * p[1],
  sin_x1: (p) => Math.sin(p[0]),
  sin_x2: (p) => Math.sin(p[1]),
};

/**
 * The column of the feature a dataset's column is labelled with; null for a label no feature
 * has (an upload's own column). A feature the server has and the page cannot compute is an
 * error, never a boundary silently missing.
 * @param {string} label
 * @returns {((point: Vector) => number) | null}
 */
function columnLabelled(label) {
  const feature = pageConfig().features.find((candidate) => candidate.label === label);
  if (!feature) return null;
  const column = FEATURE_COLUMNS[feature.id];
  if (!column) throw new Error(`no column for input feature ${feature.id} (${feature.formula})`);
  return column;
}

/** @typedef {{ train: Matrix, test: Matrix, inputs: (point: Vector) => Vector }} Plane */

/** The data's points on the plane {train, test} — its rows, or the plane the server sent with
 *  feature columns — and how a point becomes the network's inputs; null off the plane.
 * @param {Dataset} dataset
 * @returns {Plane | null}
 */
export function planeOf(dataset) {
  if (dataset.plane) {
    const found = dataset.feature_names.map(columnLabelled);
    const columns = found.filter((column) => column !== null);
    if (columns.length < found.length) return null;
    return {
      train: dataset.plane.x_train,
      test: dataset.plane.x_test,
      inputs: (point) => columns.map((column) => column(point)),
    };
  }
  if (dataset.feature_names.length !== 2) return null;
  return { train: dataset.x_train, test: dataset.x_test, inputs: (point) => point };
}

/** The grid the decision boundary is drawn on: the points' extent plus a margin on each side,
 *  margin = span × fraction + least (the server's numbers: the page config's grid_margin, as
 *  /boundary uses them).
 * @param {Matrix} points (n, 2)
 * @param {number} resolution points per side
 * @param {{ fraction: number, least: number }} margin
 * @returns {{ x: Vector, y: Vector, rows: Matrix }} rows: (resolution², 2), x fastest
 */
export function gridOver(points, resolution, margin) {
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  /** @param {Vector} values */
  const axis = (values) => {
    const low = Math.min(...values);
    const high = Math.max(...values);
    const room = (high - low) * margin.fraction + margin.least;
    const step = (high - low + 2 * room) / (resolution - 1);
    return Array.from({ length: resolution }, (_, k) => low - room + k * step);
  };
  const gx = axis(xs);
  const gy = axis(ys);
  const rows = [];
  for (const y of gy) for (const x of gx) rows.push([x, y]);
  return { x: gx, y: gy, rows };
}

/** @param {Vector} row */
export function argmax(row) {
  let best = 0;
  for (let k = 1; k < row.length; k += 1) if (row[k] > row[best]) best = k;
  return best;
}
