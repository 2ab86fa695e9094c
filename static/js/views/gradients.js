// @ts-check
// Gradient health: ‖∂L/∂W‖ per layer over time on a log scale, and how the entries of each
// layer's ∂L/∂W spread now (log10 |∂L/∂W|), so vanishing and exploding gradients show.
import { ChartText } from "../chart-text.js";
import { BASE_LAYOUT, LineChart } from "../charts.js";
import { CATEGORICAL } from "../colors.js";
import { PLOT_CONFIG, Plotly } from "../plotly.js";
import { formatNumber, layerName } from "../words.js";
/** @import { Frame, Matrix } from "../protocol.js" */

const SAMPLE_LIMIT = 400; // entries per layer in the distribution; a stride past that
const TINY = 1e-30;


/**
 * log10 |∂L/∂W| of (at most about SAMPLE_LIMIT of) a matrix's entries.
 * @param {Matrix} rows
 */
function logMagnitudes(rows) {
  /** @type {number[]} */
  const values = [];
  const total = rows.length * rows[0].length;
  const stride = Math.max(1, Math.floor(total / SAMPLE_LIMIT));
  let index = 0;
  for (const row of rows) {
    for (const value of row) {
      if (index % stride === 0 && value !== null) values.push(Math.log10(Math.abs(value) + TINY));
      index += 1;
    }
  }
  return values;
}

/**
 * min, quartiles, median, max (linear interpolation, as Plotly's box), count; nulls when empty.
 * @param {number[]} values
 */
function fiveNumbers(values) {
  const sorted = [...values].sort((a, b) => a - b);
  /** @param {number} q */
  const at = (q) => {
    if (!sorted.length) return null;
    const position = q * (sorted.length - 1);
    const low = Math.floor(position);
    const high = Math.ceil(position);
    return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
  };
  return { count: sorted.length, min: at(0), q1: at(0.25), median: at(0.5), q3: at(0.75), max: at(1) };
}

/** @typedef {{ name: string } & ReturnType<typeof fiveNumbers>} Spread */

export class GradientsView {
  /**
   * @param {HTMLElement} normElement
   * @param {HTMLElement} distributionElement
   */
  constructor(normElement, distributionElement) {
    this.normElement = normElement;
    this.distributionElement = distributionElement;
    /** @type {LineChart | null} */
    this.normChart = null;
    this.layerCount = 0;
    /** @type {[number, number] | null} [low, high] of log10 |∂L/∂W|, grown only */
    this.range = null;
    /** @type {Spread[] | null} per layer, of log10 |∂L/∂W| */
    this.spread = null;
    /** @type {Frame | null} */
    this.frame = null;
    this.normText = new ChartText(normElement, {
      label: "Gradient norms",
      name: () => this.normName(),
      table: () => this.normTable(),
    });
    this.spreadText = new ChartText(distributionElement, {
      label: "Gradient spread",
      name: () => this.spreadName(),
      table: () => this.spreadTable(),
    });
  }

  normName() {
    const step = this.normChart?.lastX ?? null;
    if (!this.normChart || step === null) return "‖∂L/∂W‖ per layer over batch steps, log scale: no backward pass yet";
    const latest = this.normChart.latest();
    const parts = latest.map((norm, k) => `${layerName(k, this.layerCount)} ${formatNumber(norm)}`);
    return `‖∂L/∂W‖ per layer over batch steps, log scale: at step ${step}, ${parts.join(", ")}`;
  }

  normTable() {
    if (!this.normChart) return null;
    const { columns, rows, count } = this.normChart.tableOf("batch step");
    if (!count) return null;
    const caption = rows.length < count ? `‖∂L/∂W‖ per layer (${rows.length} of ${count} points, spread)` : "‖∂L/∂W‖ per layer";
    return { caption, columns, rows };
  }

  spreadName() {
    if (!this.spread) return "How the entries of ∂L/∂W spread per layer (log₁₀ |∂L/∂W|): no backward pass yet";
    const parts = this.spread.map((s) => `${s.name} median ${s.median === null ? "–" : s.median.toFixed(2)}`);
    return `How the entries of ∂L/∂W spread per layer, log₁₀ |∂L/∂W|: ${parts.join(", ")}`;
  }

  spreadTable() {
    if (!this.spread) return null;
    return {
      caption: "log₁₀ |∂L/∂W| per layer, now: the box plot's five numbers",
      columns: ["layer", "entries", "min", "lower quartile", "median", "upper quartile", "max"],
      rows: this.spread.map((s) => [s.name, s.count, s.min, s.q1, s.median, s.q3, s.max]),
    };
  }

  /** @param {number} layerCount */
  setStructure(layerCount) {
    this.layerCount = layerCount;
    this.range = null;
    this.normChart = new LineChart(this.normElement, {
      series: Array.from({ length: layerCount }, (_, k) => ({
        name: layerName(k, layerCount),
        color: CATEGORICAL[k % CATEGORICAL.length],
      })),
      layout: {
        margin: { l: 50, r: 10, t: 26, b: 32 },
        title: {
          text: "‖∂L/∂W‖ per layer (colours as on the right)",
          font: { size: 12 },
          x: 0.02,
          y: 0.98,
        },
        hovermode: "x unified",
        uirevision: "keep",
        showlegend: false, // a Plotly legend is redrawn with every point; the layers are named beside
        xaxis: { title: { text: "batch step", font: { size: 10 }, standoff: 4 }, gridcolor: "#eee" },
        yaxis: { type: "log", gridcolor: "#eee", exponentformat: "power" },
      },
    });
  }

  reset() {
    this.normChart?.reset();
    this.range = null;
    this.spread = null;
    this.frame = null;
  }

  drawNorms() {
    this.normChart?.flush();
    this.normText.update();
  }

  drawDistribution() {
    if (this.frame) this.renderDistribution(this.frame);
  }

  /** @param {Frame} frame */
  ingest(frame) {
    if (!this.normChart) return;
    this.frame = frame;
    const norms = frame.grad_norms || frame.layers.map((layer) => layer.grad_norm ?? null);
    const last = this.normChart.lastX;
    if (norms.some((norm) => norm) && (last === null || frame.step > last)) {
      this.normChart.addPoint(
        frame.step,
        norms.map((norm) => (norm ? norm : null)),
      );
    }
  }

  /** @param {Frame} frame */
  renderDistribution(frame) {
    const samples = frame.layers.map((layer) => (layer.dW ? logMagnitudes(layer.dW) : []));
    const all = samples.flat();
    if (!all.length) return; // keep the last distribution until a backward pass computes one
    const low = Math.floor(Math.min(...all));
    const high = Math.ceil(Math.max(...all));
    /** @type {[number, number]} */
    const range = this.range ? [Math.min(this.range[0], low), Math.max(this.range[1], high)] : [low, high];
    this.range = range;
    const traces = samples.map((values, k) => ({
      type: "box",
      orientation: "h",
      name: layerName(k, this.layerCount),
      x: values,
      boxpoints: false,
      marker: { color: CATEGORICAL[k % CATEGORICAL.length] },
      line: { width: 1.5 },
      hovertemplate: "log₁₀|∂L/∂W| %{x:.2f}<extra>%{fullData.name}</extra>",
    }));
    const layout = {
      ...BASE_LAYOUT,
      margin: { l: 100, r: 10, t: 26, b: 36 },
      title: { text: "log₁₀ |∂L/∂W| per layer, now", font: { size: 12 }, x: 0.02, y: 0.98 },
      showlegend: false,
      xaxis: {
        range: [range[0] - 0.5, range[1] + 0.5],
        gridcolor: "#eee",
        zeroline: false,
        title: { text: "log₁₀ |∂L/∂W|", font: { size: 10 }, standoff: 4 },
      },
      yaxis: { autorange: "reversed", fixedrange: true },
    };
    Plotly.react(this.distributionElement, traces, layout, PLOT_CONFIG);
    this.spread = samples.map((values, k) => ({ name: layerName(k, this.layerCount), ...fiveNumbers(values) }));
    this.spreadText.update();
  }
}
