// @ts-check
// Compare two sessions side by side: loss curves overlaid, both boundaries, the settings
// that differ (highlighted first). A is the page's session; B a branch or a pasted one.
import { FONT, PLOT_CONFIG, Plotly } from "../plotly.js";
import { studyApi } from "./api.js";
import { byId, describeChart, drawBoundary, format, row } from "./dom.js";
/** @import { StudyContext } from "./panels.js" */
/** @import { SessionState } from "../protocol.js" */

const BOUNDARY_RESOLUTION = 30;
const COLORS = { A: "#1f77b4", B: "#d62728" };

/**
 * {"model.learning_rate": 0.03, "model.layers[0].activation": "tanh", …}
 * @param {unknown} value
 * @param {string} [prefix]
 * @returns {Record<string, unknown>}
 */
export function flatten(value, prefix = "") {
  if (value === null || typeof value !== "object") return { [prefix]: value };
  /** @type {[string, unknown][]} */
  const entries = Array.isArray(value) ? value.map((v, k) => [`${prefix}[${k}]`, v]) : Object.entries(value).map(([k, v]) => [prefix ? `${prefix}.${k}` : k, v]);
  return Object.assign({}, ...entries.map(([key, v]) => flatten(v, key)));
}

export class ComparePanel {
  /** @param {StudyContext} context */
  constructor(context) {
    this.context = context;
    this.idInput = byId("compare-id", HTMLInputElement);
    this.tokenInput = byId("compare-token", HTMLInputElement);
    this.settings = byId("compare-settings");
    this.loss = byId("compare-loss");
    this.boundaryA = byId("compare-boundary-a");
    this.boundaryB = byId("compare-boundary-b");
    this.epochs = byId("compare-epochs", HTMLInputElement);
    byId("compare-button").addEventListener("click", () => this.compare());
    byId("compare-train").addEventListener("click", () => this.trainBoth());
  }

  other() {
    const id = this.idInput.value.trim();
    const token = this.tokenInput.value.trim();
    return id && token ? { id, token } : null;
  }

  /**
   * @param {string} id
   * @param {string} token
   */
  async compareWith(id, token) {
    this.idInput.value = id;
    this.tokenInput.value = token;
    await this.compare();
  }

  async compare() {
    const a = this.context.session();
    const b = this.other();
    if (!a || !b) {
      this.context.notify("Compare: give B's id and token (a branch fills them in).");
      return;
    }
    try {
      const [stateA, stateB] = await Promise.all([studyApi.getState(a.id, a.token), studyApi.getState(b.id, b.token)]);
      this.showSettings(stateA, stateB);
      this.showLoss(stateA, stateB);
      if (this.context.inputCount() === 2 && stateB.config.model.input_size === 2) {
        const [boundaryA, boundaryB] = await Promise.all([
          studyApi.getBoundary(a.id, a.token, BOUNDARY_RESOLUTION),
          studyApi.getBoundary(b.id, b.token, BOUNDARY_RESOLUTION),
        ]);
        drawBoundary(this.boundaryA, boundaryA, `A · step ${stateA.step}`);
        drawBoundary(this.boundaryB, boundaryB, `B · step ${stateB.step}`);
      }
    } catch (error) {
      this.context.notify(`Compare: ${error.message}`);
    }
  }

  /**
   * @param {SessionState} stateA
   * @param {SessionState} stateB
   */
  showSettings(stateA, stateB) {
    const a = flatten({ model: stateA.config.model, data: stateA.config.data });
    const b = flatten({ model: stateB.config.model, data: stateB.config.data });
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    const differing = keys.filter((key) => JSON.stringify(a[key]) !== JSON.stringify(b[key]));
    const same = keys.length - differing.length;
    this.settings.replaceChildren(
      row(["setting", "A", "B"], { header: true }),
      ...differing.map((key) => {
        const tr = row([key, JSON.stringify(a[key] ?? null), JSON.stringify(b[key] ?? null)], { className: "differs" });
        tr.dataset.setting = key;
        return tr;
      }),
      row([differing.length ? `the other ${same} settings are the same` : `all ${same} settings are the same`, "", ""]),
    );
  }

  /**
   * @param {SessionState} stateA
   * @param {SessionState} stateB
   */
  showLoss(stateA, stateB) {
    /**
     * @param {SessionState} state
     * @param {"A" | "B"} name
     */
    const trace = (state, name) => ({
      type: "scatter",
      mode: "lines+markers",
      name,
      x: state.history.map((point) => point.step),
      y: state.history.map((point) => point.train_loss),
      line: { color: COLORS[name] },
      marker: { size: 4 },
    });
    const layout = {
      margin: { l: 40, r: 6, t: 6, b: 30 },
      font: FONT,
      showlegend: true,
      legend: { orientation: "h", y: 1.1 },
      xaxis: { title: { text: "batch step", font: { size: 10 } } },
      yaxis: { title: { text: "train loss", font: { size: 10 } }, rangemode: "tozero" },
    };
    Plotly.react(this.loss, [trace(stateA, "A"), trace(stateB, "B")], layout, PLOT_CONFIG);
    describeChart(this.loss, "Compared loss", () => {
      /** @param {SessionState} state */
      const last = (state) => state.history.at(-1)?.train_loss ?? null;
      /** @type {Map<number, [number, number | null, number | null]>} */
      const byStep = new Map();
      /** @type {[number, SessionState][]} */
      const columns = [[1, stateA], [2, stateB]];
      for (const [column, state] of columns) {
        for (const point of state.history) {
          const entry = byStep.get(point.step) ?? [point.step, null, null];
          entry[column] = point.train_loss;
          byStep.set(point.step, entry);
        }
      }
      return {
        name: `Train loss of A and B over batch steps: A ${format(last(stateA), 4)} at step ${stateA.step}, B ${format(last(stateB), 4)} at step ${stateB.step}`,
        table: {
          caption: "Train loss of A and B per batch step",
          columns: ["batch step", "A", "B"],
          rows: [...byStep.values()].sort((p, q) => p[0] - q[0]).slice(-100),
        },
      };
    });
  }

  async trainBoth() {
    const a = this.context.session();
    const b = this.other();
    const count = Math.max(1, Math.min(100, Number(this.epochs.value) || 1));
    if (!a || !b) return;
    try {
      const runs = [studyApi.step(b.id, b.token, "epoch", count)];
      if (!this.context.readOnly()) runs.push(studyApi.step(a.id, a.token, "epoch", count));
      await Promise.all(runs);
    } catch (error) {
      this.context.notify(`Train: ${error.message}`);
    }
    await this.compare();
  }
}
