// The gradient coach: its findings (GET …/coach), one sentence each with the lesson's
// formula and a button per unit at fault that selects it in the inspector. It asks again
// after each epoch while "after each epoch" is ticked.
import { studyApi } from "./api.js";
import { button, byId } from "./dom.js";

const MIN_INTERVAL_MS = 2000;

export class CoachPanel {
  constructor(context) {
    this.context = context; // {session(), notify(), focus(layer, i, j)}
    this.list = byId("coach-findings");
    this.follow = byId("coach-follow");
    this.lastEpoch = null;
    this.lastAsked = 0;
    byId("coach-button").addEventListener("click", () => this.ask());
  }

  /** Called on each state tick: ask again when an epoch ended. */
  tick(summary) {
    if (!this.follow.checked || summary.epoch === this.lastEpoch) return;
    if (performance.now() - this.lastAsked < MIN_INTERVAL_MS) return;
    this.lastEpoch = summary.epoch;
    this.ask({ quiet: true });
  }

  /** quiet: an automatic ask (after an epoch) says nothing when it fails; a click does. */
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

  item(finding) {
    const item = document.createElement("li");
    item.dataset.kind = finding.kind;
    const message = document.createElement("div");
    message.textContent = finding.message;
    const formula = document.createElement("div");
    formula.className = "formula";
    formula.textContent = finding.formula;
    item.append(message, formula);
    if (finding.layer !== null) {
      for (const unit of finding.units) {
        item.append(button(`layer ${finding.layer} · unit ${unit}`, () => this.context.focus(finding.layer, null, unit)));
      }
    }
    return item;
  }
}
