// @ts-check
// Chart wrappers that own their data and expose verbs, like TF Playground's
// AppendingLineChart: a frame adds a point; Plotly draws in place and is never re-created.
import { spreadRows } from "./chart-text.js";
import { FONT, PLOT_CONFIG, Plotly } from "./plotly.js";

/**
 * A symmetric colour range that only grows: a value past it widens it, nothing shrinks it,
 * so the same colour keeps meaning the same number from frame to frame.
 */
export class StableRange {
  /** @param {number} [floor] the smallest limit given */
  constructor(floor = 1e-12) {
    this.floor = floor;
    this.limit = 0;
  }

  /**
   * Widen to cover every finite value of a 2-D array; returns the limit.
   * @param {(number | null)[][] | null | undefined} rows
   */
  cover(rows) {
    let largest = 0;
    for (const row of rows || []) {
      for (const value of row) {
        const magnitude = Math.abs(/** @type {number} */ (value)); // null: 0
        if (magnitude > largest && Number.isFinite(magnitude)) largest = magnitude;
      }
    }
    if (largest > this.limit) this.limit = largest * 1.05; // headroom: fewer rescales early on
    return Math.max(this.limit, this.floor);
  }

  reset() {
    this.limit = 0;
  }
}

export const BASE_LAYOUT = Object.freeze({
  font: FONT,
  paper_bgcolor: "rgba(0,0,0,0)",
  plot_bgcolor: "#ffffff",
  hoverlabel: { font: { family: FONT.family, size: 12 } },
});

/**
 * @typedef {object} Series one line of a LineChart
 * @property {string} name
 * @property {string} color
 * @property {"y2"} [yaxis]
 * @property {string} [dash]
 * @property {number} [width]
 * @property {boolean} [visible]
 */

/**
 * A line chart of one or more series over a shared x, capped at `cap` points: past the cap
 * every other point is dropped (the first and the newest stay), so a long run keeps its shape.
 * Points are taken at once and drawn by `flush` (Plotly.extendTraces with what is new).
 */
export class LineChart {
  /**
   * @param {HTMLElement} element
   * @param {{ series: Series[], layout: PlotlyObject, cap?: number }} options
   */
  constructor(element, { series, layout, cap = 1200 }) {
    this.element = element;
    this.series = series;
    this.layout = layout;
    this.cap = cap;
    /** @type {number[]} */
    this.x = [];
    /** @type {(number | null)[][]} */
    this.ys = series.map(() => []);
    this.unsent = 0; // points taken but not drawn yet
    this.stale = true; // the whole figure must be drawn again (new data, thinned, restyled)
  }

  traces() {
    return this.series.map((s, k) => ({
      type: "scatter",
      mode: "lines",
      name: s.name,
      x: [...this.x],
      y: [...this.ys[k]],
      yaxis: s.yaxis || "y",
      visible: s.visible ?? true,
      line: { color: s.color, width: s.width || 2, dash: s.dash || "solid" },
      hovertemplate: `${s.name}: %{y:.4g}<extra></extra>`,
      connectgaps: true,
    }));
  }

  /**
   * Replace the data (e.g. from a session's history).
   * @param {number[]} [x]
   * @param {(number | null)[][] | null} [ys] one array per series
   */
  reset(x = [], ys = null) {
    this.x = [...x];
    this.ys = this.series.map((_, k) => (ys ? [...ys[k]] : []));
    this.stale = true;
  }

  /** @param {boolean[]} visibility per series */
  setVisible(visibility) {
    visibility.forEach((visible, k) => {
      this.series[k] = { ...this.series[k], visible };
    });
    this.stale = true;
  }

  /**
   * @param {number} x
   * @param {(number | null | undefined)[]} values per series
   */
  addPoint(x, values) {
    this.x.push(x);
    values.forEach((value, k) => this.ys[k].push(value ?? null));
    this.unsent += 1;
    if (this.x.length > this.cap) {
      this.thin();
      this.stale = true;
    }
  }

  thin() {
    /** @type {<T>(array: T[]) => T[]} */
    const keep = (array) => [array[0], ...array.slice(1, -1).filter((_, i) => i % 2 === 1), array[array.length - 1]];
    this.x = keep(this.x);
    this.ys = this.ys.map(keep);
  }

  /** The visible series' points as table rows [x, y…] (at most TABLE_MAX_ROWS, spread) and
   *  their column names, for the chart's text alternative.
   * @param {string} xName
   */
  tableOf(xName) {
    const shown = this.series.map((s, k) => k).filter((k) => this.series[k].visible ?? true);
    const rows = this.x.map((x, n) => [x, ...shown.map((k) => this.ys[k][n])]);
    return { columns: [xName, ...shown.map((k) => this.series[k].name)], rows: spreadRows(rows), count: rows.length };
  }

  /** The newest value of each series (null when it has none). */
  latest() {
    return this.ys.map((ys) => ys.at(-1) ?? null);
  }

  get lastX() {
    return this.x.at(-1) ?? null;
  }

  /** Draw what changed since the last flush. */
  flush() {
    if (this.stale) {
      Plotly.react(this.element, this.traces(), { ...BASE_LAYOUT, ...this.layout }, PLOT_CONFIG);
    } else if (this.unsent > 0) {
      const from = this.x.length - this.unsent;
      Plotly.extendTraces(
        this.element,
        { x: this.series.map(() => this.x.slice(from)), y: this.ys.map((ys) => ys.slice(from)) },
        this.series.map((_, k) => k),
      );
    }
    this.stale = false;
    this.unsent = 0;
  }
}
