// @ts-check
// Loss (train and test) and, for classification, accuracy, over batch steps.
import { ChartText } from "../chart-text.js";
import { LineChart } from "../charts.js";
import { CATEGORICAL } from "../colors.js";
import { formatNumber } from "../words.js";
/** @import { Frame, HistoryPoint } from "../protocol.js" */

/**
 * A loss for reading: compact when huge, "∞ (diverged)" once training has diverged.
 * @param {number | null | undefined} value
 * @param {boolean} diverged
 */
function formatLoss(value, diverged) {
  if (diverged && (value === null || value === undefined || Math.abs(value) >= 1e5)) return "∞ (diverged)";
  return formatNumber(value);
}

export class MetricsView {
  /**
   * @param {HTMLElement} element
   * @param {{ train: HTMLElement, test: HTMLElement, accuracy: HTMLElement, accuracyLegend: HTMLElement }} readouts
   */
  constructor(element, readouts) {
    this.readouts = readouts; // {train, test, accuracy, accuracyLegend}: elements
    this.classification = false;
    this.chart = new LineChart(element, {
      series: [
        { name: "train data loss", color: CATEGORICAL[0] },
        { name: "test data loss", color: CATEGORICAL[1], dash: "dash" },
        { name: "train acc.", color: CATEGORICAL[2], yaxis: "y2", width: 1.5 },
        { name: "test acc.", color: CATEGORICAL[3], yaxis: "y2", width: 1.5, dash: "dot" },
      ],
      layout: {
        margin: { l: 44, r: 40, t: 6, b: 32 },
        showlegend: false, // the legend is the page's: a Plotly legend is redrawn every time
        hovermode: "x unified",
        uirevision: "keep",
        xaxis: {
          title: { text: "batch step", font: { size: 10 }, standoff: 4 },
          gridcolor: "#eee",
          zeroline: false,
        },
        yaxis: {
          title: { text: "data loss", font: { size: 10 }, standoff: 4 },
          gridcolor: "#eee",
          rangemode: "tozero",
        },
        yaxis2: {
          overlaying: "y",
          side: "right",
          range: [0, 1.02],
          showgrid: false,
          tickformat: ".0%",
          tickvals: [0, 0.5, 1],
          title: { text: "accuracy", font: { size: 10 } },
        },
      },
    });
    this.text = new ChartText(element, { label: "Loss", name: () => this.accessibleName(), table: () => this.table() });
  }

  /** The chart in words: what it shows and where it is now. */
  accessibleName() {
    const [train, test, accuracy, testAccuracy] = this.chart.latest();
    const step = this.chart.lastX;
    if (step === null) return "Data loss over batch steps: no point yet";
    let text = `Data loss over batch steps: at step ${step}, train ${formatNumber(train)}, test ${formatNumber(test)}`;
    if (this.classification && accuracy !== null) {
      text += `; accuracy train ${(100 * accuracy).toFixed(1)} %, test ${testAccuracy === null ? "–" : (100 * testAccuracy).toFixed(1)} %`;
    }
    return `${text} (${this.chart.x.length} points)`;
  }

  table() {
    const { columns, rows, count } = this.chart.tableOf("batch step");
    if (!count) return null;
    const caption = rows.length < count ? `Data loss per batch step (${rows.length} of ${count} points, spread)` : "Data loss per batch step";
    return { caption, columns, rows };
  }

  /**
   * A new session or a reconnect: the history replaces the curve.
   * @param {HistoryPoint[]} history
   * @param {boolean} classification
   */
  reset(history, classification) {
    this.classification = classification;
    this.readouts.accuracyLegend.hidden = !classification;
    this.chart.setVisible([true, true, classification, classification]);
    const x = history.map((point) => point.step);
    const ys = [
      history.map((point) => point.train_loss),
      history.map((point) => point.test_loss),
      history.map((point) => point.train_accuracy),
      history.map((point) => point.test_accuracy),
    ];
    this.chart.reset(x, ys);
  }

  draw() {
    this.chart.flush();
    this.text.update();
  }

  /** @param {Frame} frame */
  ingest(frame) {
    this.showReadouts(frame);
    if (frame.loss === null || frame.loss === undefined) return;
    // The server may compute metrics less often than it sends frames: place them at their step.
    const step = frame.metrics_step ?? frame.step;
    const last = this.chart.lastX;
    if (last !== null && step <= last) return; // a phase inside the same batch, or no news
    this.chart.addPoint(step, [frame.loss, frame.test_loss, frame.accuracy, frame.test_accuracy]);
  }

  /** @param {Frame} frame */
  showReadouts(frame) {
    this.readouts.train.textContent = formatLoss(frame.loss, Boolean(frame.diverged));
    this.readouts.test.textContent = formatLoss(frame.test_loss, Boolean(frame.diverged));
    this.readouts.accuracy.textContent =
      frame.accuracy === null || frame.accuracy === undefined
        ? "–"
        : `${(100 * frame.accuracy).toFixed(1)} %`;
  }
}
