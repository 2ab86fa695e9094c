// @ts-check
// Check my hand calculation (POST …/check): pick ∂L/∂W, ∂L/∂b or δ, type a value, see it
// marked against backprop and the central difference, with the tolerance; the chain-rule
// factors on request. The numbers on the page can be blurred meanwhile. Worksheets
// (GET …/worksheet) download as printable HTML.
import { studyApi } from "./api.js";
import { byId, format, row, saveFile } from "./dom.js";
/** @import { StudyContext } from "./panels.js" */
/** @import { CheckResult } from "../protocol.js" */

export class HandCheckPanel {
  /** @param {StudyContext} context */
  constructor(context) {
    this.context = context;
    this.quantity = byId("handcheck-quantity", HTMLSelectElement);
    this.layer = byId("handcheck-layer", HTMLInputElement);
    this.i = byId("handcheck-i", HTMLInputElement);
    this.j = byId("handcheck-j", HTMLInputElement);
    this.value = byId("handcheck-value", HTMLInputElement);
    this.tolerance = byId("handcheck-tolerance", HTMLInputElement);
    this.reveal = byId("handcheck-reveal", HTMLInputElement);
    this.verdict = byId("handcheck-verdict");
    this.factors = byId("handcheck-factors");
    this.seed = byId("worksheet-seed", HTMLInputElement);
    const hide = byId("handcheck-hide", HTMLInputElement);
    hide.addEventListener("change", () => document.body.classList.toggle("study-hide-numbers", hide.checked));
    byId("handcheck-submit").addEventListener("click", () => this.submit());
    byId("worksheet-button").addEventListener("click", () => this.worksheet(false));
    byId("worksheet-key-button").addEventListener("click", () => this.worksheet(true));
  }

  body() {
    const quantity = this.quantity.value;
    /** @type {Record<string, unknown>} */
    const body = {
      quantity,
      layer: Number(this.layer.value),
      j: Number(this.j.value),
      value: Number(this.value.value),
      tolerance: Number(this.tolerance.value) / 100,
      reveal: this.reveal.checked,
    };
    if (quantity === "W") body.i = Number(this.i.value);
    if (quantity === "delta") body.row = Number(this.i.value);
    return body;
  }

  async submit() {
    const session = this.context.session();
    if (!session) return;
    if (this.value.value.trim() === "") {
      this.show(false, "Type your value first.");
      return;
    }
    let result;
    try {
      const student = this.context.student();
      result = await studyApi.check(session.id, session.token, student ? { ...this.body(), student } : this.body());
    } catch (error) {
      this.show(false, error.field ? `${error.field}: ${error.message}` : error.message);
      this.factors.replaceChildren();
      return;
    }
    this.show(
      result.correct,
      `${result.correct ? "✓ Right" : "✗ Wrong"} — ${result.name}: backprop ${format(result.backprop)}, ` +
        `central difference ${format(result.numeric)}, yours ${format(result.value)} ` +
        `(±${format(result.allowed, 3)}, ${format(result.tolerance * 100, 3)} %). ${result.reason}`,
    );
    this.verdict.dataset.correct = String(result.correct);
    this.verdict.dataset.offBySign = String(result.off_by_sign);
    this.showFactors(result.factors);
  }

  /**
   * @param {boolean} correct
   * @param {string} text
   */
  show(correct, text) {
    this.verdict.textContent = text;
    this.verdict.className = `study-verdict ${correct ? "right" : "wrong"}`;
  }

  /** @param {CheckResult["factors"]} factors */
  showFactors(factors) {
    if (!factors) {
      this.factors.replaceChildren();
      return;
    }
    const table = document.createElement("table");
    table.className = "study-table";
    table.append(row([factors.formula], { header: true }));
    table.append(row(["row", "∂L/∂a", "f′(z)", "x", "product"], { header: true }));
    factors.upstream.forEach((upstream, s) => {
      table.append(row([String(s), format(upstream), format(factors.local[s]), format(factors.input[s]), format(factors.products[s])]));
    });
    if (factors.penalty) table.append(row(["penalty", "", "", "", format(factors.penalty)]));
    this.factors.replaceChildren(table);
  }

  /** @param {boolean} answers with the answer key */
  async worksheet(answers) {
    const session = this.context.session();
    if (!session) return;
    const seed = Math.max(0, Math.floor(Number(this.seed.value) || 0));
    try {
      const html = await studyApi.getWorksheet(session.id, session.token, { seed, answers });
      saveFile(html, `worksheet-seed-${seed}${answers ? "-answers" : ""}.html`, "text/html");
    } catch (error) {
      this.context.notify(`Worksheet: ${error.message}`);
    }
  }
}
