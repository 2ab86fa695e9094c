// @ts-check
// Check my hand calculation (POST …/check): pick ∂L/∂W, ∂L/∂b or δ, type a value, see it
// marked against backprop and the central difference, with the tolerance; the chain-rule
// factors on request. The numbers on the page can be blurred meanwhile. Worksheets
// (GET …/worksheet) download as printable HTML. In a class the batch checked, the worksheet
// and its key are the student's own (drawn by their seed): Show the batch shows it.
import { own, studyApi } from "./api.js";
import { byId, format, row, saveFile } from "./dom.js";
/** @import { StudyContext } from "./panels.js" */
/** @import { CheckResult, GradeProblem } from "../protocol.js" */

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
    this.problem = byId("handcheck-problem");
    byId("handcheck-batch").addEventListener("click", () => this.showBatch());
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
      result = await studyApi.check(session.id, session.token, { ...this.body(), ...own(this.context.student()) });
    } catch (error) {
      this.show(false, error.field ? `${error.field}: ${error.message}` : error.message);
      this.factors.replaceChildren();
      return;
    }
    this.show(
      result.correct,
      `${result.correct ? "✓ Right" : "✗ Wrong"} — ${result.name}: backprop ${format(result.backprop)}, ` +
        `central difference ${format(result.numeric)}, yours ${format(result.value)} ` +
        `(±${format(result.allowed, 3)}, ${format(result.tolerance * 100, 3)} %)` +
        `${result.seed === null ? "" : ` on your own batch (seed ${result.seed})`}. ${result.reason}`,
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

  /** The batch a check marks against: the session's current one, or in a class the student's own. */
  async showBatch() {
    const session = this.context.session();
    if (!session) return;
    try {
      const problem = await studyApi.getGradeProblem(session.id, session.token, own(this.context.student()));
      this.problem.textContent = batchText(problem);
      this.problem.hidden = false;
    } catch (error) {
      this.context.notify(`Hand check: ${error.message}`);
    }
  }

  /** @param {boolean} answers with the answer key */
  async worksheet(answers) {
    const session = this.context.session();
    if (!session) return;
    const student = this.context.student();
    const seed = Math.max(0, Math.floor(Number(this.seed.value) || 0));
    // In a class: the student's own sheet (their seed), whatever the seed field says.
    const params = student ? { student, answers } : { seed, answers };
    const named = student ? student.replace(/[^\p{L}\p{N}_-]+/gu, "_") : `seed-${seed}`;
    try {
      const html = await studyApi.getWorksheet(session.id, session.token, params);
      saveFile(html, `worksheet-${named}${answers ? "-answers" : ""}.html`, "text/html");
    } catch (error) {
      this.context.notify(`Worksheet: ${error.message}`);
    }
  }
}

/**
 * The batch as a hand calculation needs it, a line a row: x and y, then each layer's W and b.
 * @param {GradeProblem} problem
 */
function batchText(problem) {
  /** @param {number[]} values */
  const numbers = (values) => `[${values.map((v) => format(v)).join(", ")}]`;
  const whose = problem.seed === null ? "the session's current batch" : `your own batch, seed ${problem.seed}`;
  return [
    `${whose}: training rows ${problem.batch_indices.join(", ")}`,
    ...problem.x.map((x, r) => `row ${r}: x = ${numbers(x)}, y = ${numbers(problem.y[r])}`),
    ...problem.layers.flatMap((layer, k) => [
      `layer ${k} (${layer.activation}): W =`,
      ...layer.W.map((w) => `  ${numbers(w)}`),
      ...(layer.b ? [`  b = ${numbers(layer.b)}`] : []),
    ]),
  ].join("\n");
}
