// @ts-check
// ŷ for many rows from a frame's weights, for the views that need predictions the frame does
// not carry: the decision boundary over a grid and predicted-vs-target. The same dense
// forward pass as the engine's forward_all: z = x·W + b, a = f(z), layer by layer.

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

// TF Playground's input features of a point (x1, x2) on the plane, by id (the API's
// data.features) with the label the server gives the column (app/engine/datasets.py FEATURES).
/** @typedef {{ id: string, label: string, of: (point: Vector) => number }} Feature */
/** @type {Feature[]} */
export const FEATURES = [
  { id: "x1", label: "x1", of: (p) => p[0] },
  { id: "x2", label: "x2", of: (p) => p[1] },
  { id: "x1_squared", label: "x1²", of: (p) => p[0] * p[0] },
  { id: "x2_squared", label: "x2²", of: (p) => p[1] * p[1] },
  { id: "x1_x2", label: "x1·x2", of: (p) => p[0] * p[1] },
  { id: "sin_x1", label: "sin x1", of: (p) => Math.sin(p[0]) },
  { id: "sin_x2", label: "sin x2", of: (p) => Math.sin(p[1]) },
];

/** @typedef {{ train: Matrix, test: Matrix, inputs: (point: Vector) => Vector }} Plane */

/** The data's points on the plane {train, test} — its rows, or the plane the server sent with
 *  feature columns — and how a point becomes the network's inputs; null off the plane.
 * @param {Dataset} dataset
 * @returns {Plane | null}
 */
export function planeOf(dataset) {
  if (dataset.plane) {
    const found = dataset.feature_names.map((name) => FEATURES.find((f) => f.label === name));
    const columns = found.filter((column) => column !== undefined);
    if (columns.length < found.length) return null;
    return {
      train: dataset.plane.x_train,
      test: dataset.plane.x_test,
      inputs: (point) => columns.map((column) => column.of(point)),
    };
  }
  if (dataset.feature_names.length !== 2) return null;
  return { train: dataset.x_train, test: dataset.x_test, inputs: (point) => point };
}

/** The grid the decision boundary is drawn on: the points' extent plus a margin on each side,
 *  margin = span × fraction + least (the server's numbers: the page's gridMargin, as
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
