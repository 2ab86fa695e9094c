// @ts-check
// The gradient coach: its findings (GET …/coach), one sentence each with the lesson's
// formula and a button per unit at fault that selects it in the inspector. It asks again
// after each epoch while "after each epoch" is ticked.
import { studyApi } from "./api.js";
import { button, byId } from "./dom.js";
/** @import { StudyContext } from "./panels.js" */
/** @import { CoachReport } from "../protocol.js" */
/** @import { StateSummary } from "../state.js" */

const MIN_INTERVAL_MS = 2000;

export class CoachPanel {
  /** @param {StudyContext} context */
  constructor(context) {
    this.context = context;
    this.list = byId("coach-findings");
    this.follow = byId("coach-follow", HTMLInputElement);
    /** @type {number | null} */
    this.lastEpoch = null;
    this.lastAsked = 0;
    byId("coach-button").addEventListener("click", () => this.ask());
  }

  /**
   * Called on each state tick: ask again when an epoch ended.
   * @param {StateSummary} summary
   */
  tick(summary) {
    if (!this.follow.checked || summary.epoch === this.lastEpoch) return;
    if (performance.now() - this.lastAsked < MIN_INTERVAL_MS) return;
    this.lastEpoch = summary.epoch;
    this.ask({ quiet: true });
  }

  /**
   * quiet: an automatic ask (after an epoch) says nothing when it fails; a click does.
   * @param {{ quiet?: boolean }} [options]
   */
  async ask({ quiet = false } = {}) {
    const session = this.context.session();
    if (!session) return;
    this.lastAsked = performance.now();
    let report;
    try {
      report = await studyApi.getCoach(session.id, session.token);
    } catch (error) {
      if (!quiet) this.context.notify(`Coach: ${error.message}`);
      return;
    }
    this.lastEpoch = report.epoch;
    if (report.findings.length === 0) {
      const item = document.createElement("li");
      item.textContent = `Epoch ${report.epoch}: nothing to report — the gradients look healthy.`;
      item.dataset.kind = "none";
      this.list.replaceChildren(item);
      return;
    }
    this.list.replaceChildren(...report.findings.map((finding) => this.item(finding)));
  }

  /** @param {CoachReport["findings"][number]} finding */
  item(finding) {
    const item = document.createElement("li");
    item.dataset.kind = finding.kind;
    const message = document.createElement("div");
    message.textContent = finding.message;
    const formula = document.createElement("div");
    formula.className = "formula";
    formula.textContent = finding.formula;
    item.append(message, formula);
    const layer = finding.layer;
    if (layer !== null) {
      for (const unit of finding.units) {
        item.append(button(`layer ${layer} · unit ${unit}`, () => this.context.focus(layer, null, unit)));
      }
    }
    return item;
  }
}
