// @ts-check
// What the network outputs: for 2-D data the decision boundary (or output surface) over the
// input plane with the training and test points; otherwise predicted against target (a
// confusion matrix for classes).
import { ChartText, spreadRows } from "../chart-text.js";
import { BASE_LAYOUT, StableRange } from "../charts.js";
import { BINARY_CLASSES, CATEGORICAL, DIVERGING, classScale, rgb, scaleInterpolator } from "../colors.js";
import { argmax, forward, gridOver, planeOf } from "../forward.js";
import { PLOT_CONFIG, Plotly } from "../plotly.js";
import { formatNumber } from "../words.js";

/** @import { Dataset, Frame, FrameLayer, Matrix, Task, Vector } from "../protocol.js" */
/** @import { ColorScale } from "../colors.js" */
/** @import { Plane } from "../forward.js" */

const GRID = 40; // grid side of the boundary; the browser smooths it as it scales the image
const SURFACE_OPACITY = 0.7;

/**
 * How a task's targets and outputs map to colours.
 * @typedef {{ kind: "classes", n: number, colors: string[], scale: ColorScale, zmin: number, zmax: number, threshold?: undefined, low?: undefined, high?: undefined }
 *   | { kind: "binary", low: number, high: number, threshold: number }
 *   | { kind: "regression", threshold?: undefined, low?: undefined, high?: undefined }} Encoding
 */
/** @typedef {{ colorscale: ColorScale, zmin: number, zmax: number }} ColorAxis */

/**
 * @param {Task | null} task
 * @param {Dataset} dataset
 * @param {string | undefined} outputActivation
 * @returns {Encoding}
 */
function encodingFor(task, dataset, outputActivation) {
  if (task === "multiclass") {
    const n = dataset.y_train[0].length;
    const colors = CATEGORICAL.slice(0, n);
    return { kind: "classes", n, colors, scale: classScale(colors), zmin: -0.5, zmax: n - 0.5 };
  }
  if (task === "binary") {
    const targets = dataset.y_train.map((row) => row[0]);
    const signed = Math.min(...targets) < 0 || outputActivation === "tanh";
    return { kind: "binary", low: signed ? -1 : 0, high: 1, threshold: signed ? 0 : 0.5 };
  }
  return { kind: "regression" };
}

export class OutputView {
  /**
   * @param {HTMLElement} element
   * @param {{ gridMargin: { fraction: number, least: number } }} options
   */
  constructor(element, { gridMargin }) {
    this.element = element;
    this.gridMargin = gridMargin; // the boundary grid's room past the points (the server's)
    /** @type {Dataset | null} */
    this.dataset = null;
    /** @type {Task | null} */
    this.task = null;
    /** @type {Frame | null} */
    this.frame = null;
    this.showTest = false;
    this.discretize = false;
    /** @type {Plane | null} the input plane, when the inputs live on one */
    this.plane = null;
    this.twoDimensional = false;
    /** @type {{ x: Vector, y: Vector, rows: Matrix } | null} the boundary's grid (2-D data) */
    this.grid = null;
    /** @type {Matrix} the grid's points as the network's inputs */
    this.gridInputs = [];
    /** @type {{ key: string, train: PlotlyObject, test: PlotlyObject } | null} */
    this.pointTraces = null;
    /** @type {string | null} what the drawn figure shows besides the surface */
    this.figure = null;
    this.regressionRange = new StableRange();
    this.canvas = document.createElement("canvas");
    this.canvas.width = GRID;
    this.canvas.height = GRID;
    this.text = new ChartText(element, { label: "Output", name: () => this.accessibleName(), table: () => this.table() });
  }

  /** What the chart shows now, with the frame's accuracy (or loss). */
  accessibleName() {
    if (!this.dataset || !this.frame) return "Output of the network: nothing yet";
    const train = this.dataset.x_train.length;
    const test = this.dataset.x_test.length;
    const points = `${train} train points${this.showTest ? ` and ${test} test points` : ""}`;
    const accuracy = this.frame.accuracy;
    const score =
      accuracy === null || accuracy === undefined
        ? `train data loss ${formatNumber(this.frame.loss)}`
        : `train accuracy ${(100 * accuracy).toFixed(1)} %`;
    if (this.twoDimensional) {
      const [xName, yName] = this.dataset.plane ? ["x1", "x2"] : this.dataset.feature_names;
      return `Decision boundary: the network's output over the plane ${xName}, ${yName} (orange negative, blue positive), with ${points}; ${score}`;
    }
    const what = this.task === "multiclass" ? "Confusion matrix, predicted class against target" : "Predicted against target";
    return `${what}, ${points}; ${score}`;
  }

  /** Each point (train, then test when shown): its inputs, target and the network's output. */
  table() {
    if (!this.dataset || !this.frame) return null;
    const layers = this.frame.layers;
    /** @type {[string, Matrix, Matrix][]} */
    const sets = [["train", this.dataset.x_train, this.dataset.y_train]];
    if (this.showTest) sets.push(["test", this.dataset.x_test, this.dataset.y_test]);
    /** @type {(string | number)[][]} */
    const rows = [];
    for (const [name, x, y] of sets) {
      const outputs = forward(layers, x);
      x.forEach((inputs, n) => rows.push([`${name} ${n}`, ...inputs, y[n].join(" "), outputs[n].map((v) => formatNumber(v)).join(" ")]));
    }
    const shown = spreadRows(rows);
    const more = shown.length < rows.length ? ` (${shown.length} of ${rows.length} points, spread)` : "";
    return {
      caption: `Each data point, its target and the network's output${more}`,
      columns: ["point", ...this.dataset.feature_names, "target", "output"],
      rows: shown,
    };
  }

  /**
   * @param {Dataset} dataset
   * @param {Task | null} task
   */
  setData(dataset, task) {
    this.dataset = dataset;
    this.task = task;
    const plane = planeOf(dataset);
    this.plane = plane;
    this.twoDimensional = plane !== null;
    this.regressionRange.reset();
    this.pointTraces = null;
    this.figure = null;
    if (plane) {
      this.grid = gridOver([...plane.train, ...plane.test], GRID, this.gridMargin);
      this.gridInputs = this.grid.rows.map(plane.inputs);
    }
  }

  /** @param {boolean} show */
  setShowTest(show) {
    this.showTest = show;
  }

  /**
   * TF Playground's "discretize output": each grid point shows its class, not a shade.
   * @param {boolean} on
   */
  setDiscretize(on) {
    this.discretize = on;
  }

  /** @param {Frame} frame */
  ingest(frame) {
    this.frame = frame;
  }

  draw() {
    const frame = this.frame;
    if (!this.dataset || !frame) return;
    const layers = frame.layers;
    const encoding = encodingFor(this.task, this.dataset, layers.at(-1)?.activation);
    if (this.twoDimensional) this.renderBoundary(layers, encoding);
    else if (encoding.kind === "classes") this.renderConfusion(layers, encoding);
    else this.renderPredictedVsTarget(layers, encoding);
    this.text.update();
  }

  /**
   * z over the grid: the predicted class, or the (first) output.
   * @param {FrameLayer[]} layers
   * @param {Encoding} encoding
   */
  surface(layers, encoding) {
    const outputs = forward(layers, this.gridInputs);
    const values = outputs.map((row) => {
      if (encoding.kind === "classes") return argmax(row);
      if (this.discretize && encoding.kind === "binary") {
        return row[0] >= encoding.threshold ? encoding.high : encoding.low;
      }
      return row[0];
    });
    const z = [];
    for (let r = 0; r < GRID; r += 1) z.push(values.slice(r * GRID, (r + 1) * GRID));
    return z;
  }

  /**
   * @param {Matrix} targets
   * @param {Encoding} encoding
   */
  pointColors(targets, encoding) {
    if (encoding.kind === "classes") return targets.map((row) => argmax(row));
    return targets.map((row) => row[0]);
  }

  /**
   * @param {Encoding} encoding
   * @param {Matrix} z
   * @returns {ColorAxis}
   */
  colorAxis(encoding, z) {
    if (encoding.kind === "classes") {
      return { colorscale: encoding.scale, zmin: encoding.zmin, zmax: encoding.zmax };
    }
    if (encoding.kind === "binary") {
      return { colorscale: DIVERGING, zmin: encoding.low, zmax: encoding.high };
    }
    const limit = this.regressionRange.cover(z);
    return { colorscale: DIVERGING, zmin: -limit, zmax: limit };
  }

  /**
   * @param {Matrix} x
   * @param {Matrix} y
   * @param {Encoding} encoding
   * @param {ColorAxis} axis
   * @param {string} name
   * @param {string} outline
   */
  pointsTrace(x, y, encoding, axis, name, outline) {
    /** @param {number} value */
    const binaryColor = (value) => BINARY_CLASSES[value > (encoding.threshold ?? 0) ? 1 : 0];
    const color =
      encoding.kind === "binary" ? y.map((row) => binaryColor(row[0])) : this.pointColors(y, encoding);
    return {
      type: "scatter",
      mode: "markers",
      name,
      x: x.map((p) => p[0]),
      y: x.map((p) => p[1]),
      marker: {
        size: 6,
        color,
        ...(encoding.kind === "binary"
          ? {}
          : { colorscale: axis.colorscale, cmin: axis.zmin, cmax: axis.zmax }),
        line: { color: outline, width: 1 },
      },
      hovertemplate: `${name} (%{x:.2f}, %{y:.2f})<extra></extra>`,
    };
  }

  /** The train and test points: made once per dataset and colouring, so that a frame, which
   *  changes only the surface, never makes Plotly recompute them.
   * @param {Plane} plane
   * @param {Dataset} dataset
   * @param {Encoding} encoding
   * @param {ColorAxis} axis
   */
  points(plane, dataset, encoding, axis) {
    const key = JSON.stringify([encoding.kind, encoding.threshold, axis.zmin, axis.zmax]);
    if (!this.pointTraces || this.pointTraces.key !== key) {
      this.pointTraces = {
        key,
        train: this.pointsTrace(
          plane.train,
          dataset.y_train,
          encoding,
          axis,
          "train",
          "#ffffff",
        ),
        test: this.pointsTrace(plane.test, dataset.y_test, encoding, axis, "test", "#000000"),
      };
    }
    return this.pointTraces;
  }

  /**
   * The surface as a picture, one pixel per grid point, coloured as the points are. It is a
   * layout image rather than a heatmap trace: a frame then swaps one image and Plotly does
   * not recompute the figure (TF Playground draws its boundary on a canvas the same way).
   * @param {Matrix} z
   * @param {ColorAxis} axis
   * @param {Encoding} encoding
   */
  surfaceImage(z, axis, encoding) {
    const context = this.canvas.getContext("2d");
    if (!context) throw new Error("this browser draws no 2-D canvas");
    const image = context.createImageData(GRID, GRID);
    const diverging = scaleInterpolator(DIVERGING);
    const colors = encoding.kind === "classes" ? encoding.colors : null;
    /** @type {(value: number) => [number, number, number]} */
    const color = colors
      ? (value) => rgb(colors[value])
      : (value) => diverging((value - axis.zmin) / (axis.zmax - axis.zmin));
    let offset = 0;
    for (let row = GRID - 1; row >= 0; row -= 1) {
      // image rows run top-down, y runs bottom-up
      for (let column = 0; column < GRID; column += 1) {
        const value = z[row][column];
        const [r, g, b] = color(value);
        image.data[offset] = r;
        image.data[offset + 1] = g;
        image.data[offset + 2] = b;
        image.data[offset + 3] = 255;
        offset += 4;
      }
    }
    context.putImageData(image, 0, 0);
    return this.canvas.toDataURL();
  }

  /**
   * @param {FrameLayer[]} layers
   * @param {Encoding} encoding
   */
  renderBoundary(layers, encoding) {
    const { plane, dataset, grid } = this;
    if (!plane || !dataset || !grid) return;
    const z = this.surface(layers, encoding);
    const axis = this.colorAxis(encoding, z);
    const points = this.points(plane, dataset, encoding, axis);
    const source = this.surfaceImage(z, axis, encoding);
    const figure = `${points.key} ${this.showTest}`;
    if (this.figure === figure) {
      // Only the surface changed: swap the picture, Plotly redraws nothing else.
      Plotly.relayout(this.element, { "images[0].source": source });
      return;
    }
    this.figure = figure;
    const [xName, yName] = dataset.plane ? ["x1", "x2"] : dataset.feature_names;
    const { x, y } = grid;
    const [xLast, yLast] = [x[x.length - 1], y[y.length - 1]];
    const traces = [points.train, { ...points.test, visible: this.showTest }];
    const layout = {
      ...BASE_LAYOUT,
      margin: { l: 30, r: 8, t: 8, b: 26 },
      showlegend: false,
      uirevision: "keep",
      xaxis: {
        range: [x[0], xLast],
        title: { text: xName, font: { size: 10 }, standoff: 2 },
        showgrid: false,
        zeroline: false,
        constrain: "domain",
      },
      yaxis: {
        range: [y[0], yLast],
        scaleanchor: "x",
        showgrid: false,
        zeroline: false,
        title: { text: yName, font: { size: 10 }, standoff: 2 },
      },
      images: [
        {
          source,
          xref: "x",
          yref: "y",
          x: x[0],
          y: yLast,
          sizex: xLast - x[0],
          sizey: yLast - y[0],
          sizing: "stretch",
          layer: "below",
          opacity: SURFACE_OPACITY,
        },
      ],
    };
    Plotly.react(this.element, traces, layout, PLOT_CONFIG);
  }

  /**
   * @param {FrameLayer[]} layers
   * @param {Extract<Encoding, { kind: "classes" }>} encoding
   */
  renderConfusion(layers, encoding) {
    const dataset = /** @type {Dataset} */ (this.dataset);
    /**
     * @param {Matrix} x
     * @param {Matrix} y
     */
    const split = (x, y) => {
      const counts = Array.from({ length: encoding.n }, () => new Array(encoding.n).fill(0));
      forward(layers, x).forEach((row, k) => {
        counts[argmax(y[k])][argmax(row)] += 1;
      });
      return counts;
    };
    const names = dataset.class_names || Array.from({ length: encoding.n }, (_, k) => String(k));
    const useTest = this.showTest && dataset.x_test.length > 0;
    const counts = useTest ? split(dataset.x_test, dataset.y_test) : split(dataset.x_train, dataset.y_train);
    const trace = {
      type: "heatmap",
      z: counts,
      x: names,
      y: names,
      text: counts.map((row) => row.map(String)),
      texttemplate: "%{text}",
      colorscale: [
        [0, "#ffffff"],
        [1, "#2b6cb0"],
      ],
      showscale: false,
      hovertemplate: "target %{y}, predicted %{x}: %{z}<extra></extra>",
    };
    const layout = {
      ...BASE_LAYOUT,
      margin: { l: 80, r: 8, t: 26, b: 60 },
      title: { text: `predicted vs target (${useTest ? "test" : "train"})`, font: { size: 12 }, x: 0.02 },
      xaxis: { title: { text: "predicted", font: { size: 10 } }, tickangle: -30 },
      yaxis: { title: { text: "target", font: { size: 10 } }, autorange: "reversed" },
    };
    Plotly.react(this.element, [trace], layout, PLOT_CONFIG);
  }

  /**
   * @param {FrameLayer[]} layers
   * @param {Encoding} encoding
   */
  renderPredictedVsTarget(layers, encoding) {
    const dataset = /** @type {Dataset} */ (this.dataset);
    /**
     * @param {Matrix} x
     * @param {Matrix} y
     * @param {string} name
     * @param {string} color
     */
    const pair = (x, y, name, color) => ({
      type: "scatter",
      mode: "markers",
      name,
      x: y.map((row) => row[0]),
      y: forward(layers, x).map((row) => row[0]),
      marker: { size: 8, color, line: { color: "#333", width: 1 } },
      hovertemplate: `${name}: target %{x:.3g}, predicted %{y:.3g}<extra></extra>`,
    });
    const targets = dataset.y_train.map((row) => row[0]);
    const low = Math.min(...targets, encoding.low ?? Infinity);
    const high = Math.max(...targets, encoding.high ?? -Infinity);
    const traces = [
      {
        type: "scatter",
        mode: "lines",
        x: [low, high],
        y: [low, high],
        hoverinfo: "skip",
        line: { color: "#999", dash: "dot", width: 1 },
        name: "ideal",
      },
      pair(dataset.x_train, dataset.y_train, "train", CATEGORICAL[0]),
    ];
    if (this.showTest && dataset.x_test.length) {
      traces.push(pair(dataset.x_test, dataset.y_test, "test", CATEGORICAL[1]));
    }
    const layout = {
      ...BASE_LAYOUT,
      margin: { l: 44, r: 8, t: 26, b: 36 },
      title: { text: "predicted vs target", font: { size: 12 }, x: 0.02 },
      showlegend: false,
      uirevision: "keep",
      xaxis: { title: { text: "target", font: { size: 10 }, standoff: 2 }, gridcolor: "#eee" },
      yaxis: { title: { text: "predicted", font: { size: 10 }, standoff: 2 }, gridcolor: "#eee" },
    };
    Plotly.react(this.element, traces, layout, PLOT_CONFIG);
  }
}
