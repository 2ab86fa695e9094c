// @ts-check
// Grade your own backprop: get the current batch (in a class, the student's own), paste or upload your per-layer gradients
// (or updated weights), and read per layer the relative error, the first wrong layer and
// the likely mistake (POST …/grade). A row's click shows that layer in the inspector. Or take
// the run into a Jupyter notebook (GET …/notebook), the backward pass left to write if asked.
import { own, studyApi } from "./api.js";
import { button, byId, format, row, saveFile } from "./dom.js";
/** @import { StudyContext } from "./panels.js" */
/** @import { GradeResult } from "../protocol.js" */

export class GraderPanel {
  /** @param {StudyContext} context */
  constructor(context) {
    this.context = context;
    this.problem = byId("grader-problem");
    this.input = byId("grader-input", HTMLTextAreaElement);
    this.file = byId("grader-file", HTMLInputElement);
    this.diagnosis = byId("grader-diagnosis");
    this.layers = byId("grader-layers");
    byId("grader-batch").addEventListener("click", () => this.loadBatch());
    byId("grader-submit").addEventListener("click", () => this.submit());
    this.file.addEventListener("change", () => this.readFile());
    this.notebookStyle = byId("notebook-style", HTMLSelectElement);
    this.notebookExercise = byId("notebook-exercise", HTMLInputElement);
    byId("notebook-button").addEventListener("click", () => this.downloadNotebook());
  }

  async downloadNotebook() {
    const session = this.context.session();
    if (!session) return;
    const params = { style: this.notebookStyle.value, exercise: this.notebookExercise.checked };
    try {
      const { text, filename } = await studyApi.getNotebook(session.id, session.token, params);
      saveFile(text, filename ?? "run.ipynb", "application/x-ipynb+json");
    } catch (error) {
      this.verdict(false, error.field ? `${error.field}: ${error.message}` : error.message);
    }
  }

  /** The batch to run your backprop on: in a class, your own (its `seed` says so). */
  async loadBatch() {
    const session = this.context.session();
    if (!session) return;
    try {
      const problem = await studyApi.getGradeProblem(session.id, session.token, own(this.context.student()));
      this.problem.textContent = JSON.stringify(problem, null, 1);
      this.problem.hidden = false;
    } catch (error) {
      this.context.notify(`Grade: ${error.message}`);
    }
  }

  async readFile() {
    const [file] = this.file.files ?? [];
    if (file) this.input.value = await file.text();
  }

  async submit() {
    const session = this.context.session();
    if (!session) return;
    let body;
    try {
      body = JSON.parse(this.input.value);
    } catch (error) {
      this.verdict(false, `Not JSON: ${error.message}`);
      return;
    }
    try {
      const student = this.context.student();
      // In a class: graded on the student's own batch, counted in the teacher's lesson record.
      if (student && body && typeof body === "object" && !("student" in body)) body.student = student;
      this.show(await studyApi.grade(session.id, session.token, body));
    } catch (error) {
      this.verdict(false, error.field ? `${error.field}: ${error.message}` : error.message);
      this.layers.replaceChildren();
    }
  }

  /**
   * @param {boolean} passed
   * @param {string} text
   */
  verdict(passed, text) {
    this.diagnosis.textContent = text;
    this.diagnosis.className = `study-verdict ${passed ? "right" : "wrong"}`;
  }

  /** @param {GradeResult} result */
  show(result) {
    const first = result.first_wrong_layer;
    this.verdict(result.passed, result.passed ? `✓ ${result.diagnosis}` : `✗ First wrong layer: ${first}. ${result.diagnosis}`);
    this.layers.replaceChildren(
      row(["layer", "rel. error ∂L/∂W", "rel. error ∂L/∂b", "", "cause", ""], { header: true }),
      ...result.layers.map((layer) => {
        const tr = row(
          [
            String(layer.layer),
            format(layer.relative_error_W, 3),
            format(layer.relative_error_b, 3),
            layer.passed ? "✓" : "✗",
            layer.cause ?? "",
            button("show", () => this.context.focus(layer.layer, 0, 0)),
          ],
          { className: layer.layer === first ? "first-wrong" : "" },
        );
        tr.title = layer.explanation;
        tr.dataset.layer = String(layer.layer);
        tr.dataset.cause = layer.cause ?? "";
        return tr;
      }),
    );
  }
}
