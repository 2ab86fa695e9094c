// @ts-check
// Per layer: W and ∂L/∂W side by side, and the current batch's deltas δ = ∂L/∂z. Each
// heatmap keeps its own colour range per layer, grown and never shrunk, so change is visible.
//
// Every matrix is its own small Plotly figure: the scheduler can then spread a deep network's
// heatmaps over several animation frames, one figure at a time.
import { ChartText, TABLE_MAX_ROWS } from "../chart-text.js";
import { BASE_LAYOUT, StableRange } from "../charts.js";
import { DIVERGING } from "../colors.js";
import { createElement } from "../dom.js";
import { PLOT_CONFIG, Plotly } from "../plotly.js";
import { formatNumber, layerName, layerTitle } from "../words.js";
/** @import { Frame, FrameLayer, Matrix } from "../protocol.js" */

/** @typedef {{ key: "W" | "dW" | "delta", title: string, yTitle: string, hover: string }} Panel */
/** @typedef {{ inputs: number, units: number }} Shape a layer's W: inputs × units */

/** @type {Panel[]} */
const PANELS = [
  { key: "W", title: "W", yTitle: "input i", hover: "W[%{y}→%{x}] = %{z:.4g}" },
  { key: "dW", title: "∂L/∂W", yTitle: "input i", hover: "∂L/∂W[%{y}→%{x}] = %{z:.4g}" },
  {
    key: "delta",
    title: "δ = ∂L/∂z (batch)",
    yTitle: "sample",
    hover: "sample %{y}, unit %{x}: δ = %{z:.4g}",
  },
];

/**
 * Whole-number ticks, at most about eight of them.
 * @param {number} count
 */
function tickStep(count) {
  return Math.max(1, Math.ceil(count / 8));
}

/**
 * @param {number} rows
 * @param {number} columns
 */
function emptyLike(rows, columns) {
  return Array.from({ length: rows }, () => new Array(columns).fill(null));
}

/** One matrix of one layer: a heatmap on a diverging scale whose range only grows. */
class MatrixHeatmap {
  /**
   * @param {Panel} panel
   * @param {number} layerIndex
   * @param {Shape} shape
   * @param {number} layerCount
   */
  constructor(panel, layerIndex, shape, layerCount) {
    this.panel = panel;
    this.layerWords = layerName(layerIndex, layerCount);
    /** @type {Matrix | null} */
    this.matrix = null;
    this.shape = shape; // {inputs, units}
    this.range = new StableRange();
    const id = `heatmap-${panel.key}-${layerIndex}`;
    this.element = createElement("div", { className: "chart matrix-heatmap", id, "data-testid": id });
    /** @type {ChartText | null} made by describe() */
    this.text = null;
  }

  /** After the element is on the page: its name and table (they live beside the layer's row). */
  describe() {
    this.text = new ChartText(this.element, {
      label: `${this.panel.title} of layer ${this.layerWords.split(" ")[1]}`,
      name: () => this.accessibleName(),
      table: () => this.table(),
    });
  }

  accessibleName() {
    const { title, key } = this.panel;
    const what = key === "delta" ? "samples × units" : "inputs × units";
    const size = key === "delta" ? `${this.matrix?.length ?? 0} × ${this.shape.units}` : `${this.shape.inputs} × ${this.shape.units}`;
    const head = `Heatmap of ${title} for ${this.layerWords}, ${what} ${size}`;
    if (!this.matrix) return `${head}: not computed yet`;
    const values = this.matrix.flat().filter((v) => v !== null && Number.isFinite(v));
    if (!values.length) return `${head}: not computed yet`;
    return `${head}: from ${formatNumber(Math.min(...values))} to ${formatNumber(Math.max(...values))}`;
  }

  table() {
    if (!this.matrix) return null;
    const { title, key } = this.panel;
    const rowName = key === "delta" ? "sample" : "input";
    const rows = this.matrix.slice(0, TABLE_MAX_ROWS).map((row, r) => [`${rowName} ${r}`, ...row]);
    const more = this.matrix.length > rows.length ? ` (the first ${rows.length} of ${this.matrix.length} rows)` : "";
    return {
      caption: `${title} of ${this.layerWords}: rows are ${rowName}s, columns units${more}`,
      columns: [rowName, ...Array.from({ length: this.shape.units }, (_, j) => `unit ${j}`)],
      rows,
    };
  }

  /** @param {FrameLayer} layer */
  render(layer) {
    const { key, hover } = this.panel;
    const matrix = layer[key];
    const rows = key === "delta" ? Math.max(1, matrix?.length ?? 1) : this.shape.inputs;
    const limit = this.range.cover(matrix);
    const trace = {
      type: "heatmap",
      z: matrix ?? emptyLike(rows, this.shape.units),
      zmin: -limit,
      zmax: limit,
      colorscale: DIVERGING,
      showscale: false, // Plotly would redraw a colour bar every frame: the title gives the range
      hovertemplate: `${hover}<extra></extra>`,
      xgap: 1,
      ygap: 1,
    };
    Plotly.react(this.element, [trace], this.layout(matrix, rows, limit), PLOT_CONFIG);
    this.matrix = matrix ?? null;
    this.text?.update();
  }

  /**
   * @param {Matrix | null | undefined} matrix
   * @param {number} rows
   * @param {number} limit
   */
  layout(matrix, rows, limit) {
    const { title, yTitle } = this.panel;
    const units = this.shape.units;
    const caption = matrix
      ? `<b>${title}</b> · ±${limit.toPrecision(2)}`
      : `<b>${title}</b> · not computed yet`;
    return {
      ...BASE_LAYOUT,
      plot_bgcolor: "#fafafa",
      margin: { l: 38, r: 6, t: 20, b: 30 },
      title: { text: caption, font: { size: 11 }, x: 0.5, y: 0.98, yanchor: "top" },
      // Fixed ranges and whole-number ticks: a matrix not computed yet keeps its frame.
      xaxis: {
        title: { text: "unit j", font: { size: 10 }, standoff: 2 },
        tickfont: { size: 9 },
        fixedrange: true,
        range: [-0.5, units - 0.5],
        dtick: tickStep(units),
        showgrid: false,
        zeroline: false,
      },
      yaxis: {
        title: { text: yTitle, font: { size: 10 }, standoff: 2 },
        tickfont: { size: 9 },
        fixedrange: true,
        range: [rows - 0.5, -0.5],
        dtick: tickStep(rows),
        showgrid: false,
        zeroline: false,
      },
    };
  }
}

export class HeatmapsView {
  /** @param {HTMLElement} container */
  constructor(container) {
    this.container = container;
    /** @type {MatrixHeatmap[][]} [layer][panel] */
    this.figures = [];
    /** @type {Frame | null} */
    this.frame = null;
  }

  /** A new network: one row per layer, fresh ranges. shapes: [{inputs, units}]. Returns the
   *  figures, each drawn on its own (see `drawFigure`).
   * @param {Shape[]} shapes
   */
  setStructure(shapes) {
    for (const figure of this.figures.flat()) Plotly.purge(figure.element);
    this.figures = shapes.map((shape, k) => PANELS.map((panel) => new MatrixHeatmap(panel, k, shape, shapes.length)));
    const rows = this.figures.map((figures, k) => {
      return createElement("div", { className: "layer-row", "data-testid": `heatmap-layer-${k}` }, [
        createElement("h3", { className: "layer-heading", text: layerTitle(k, shapes.length) }),
        createElement(
          "div",
          { className: "matrix-row" },
          figures.map((figure) => figure.element),
        ),
      ]);
    });
    this.container.replaceChildren(...rows);
    for (const figure of this.figures.flat()) figure.describe();
    return this.figures.flatMap((figures, k) => figures.map((figure) => ({ k, figure })));
  }

  /** @param {Frame} frame */
  ingest(frame) {
    this.frame = frame;
  }

  /**
   * @param {number} k
   * @param {MatrixHeatmap} figure
   */
  drawFigure(k, figure) {
    if (this.frame) figure.render(this.frame.layers[k]);
  }
}
