// @ts-check
// Predict, then reveal (on the class link). The teacher, paused before a phase, picks a
// neuron or a weight on the diagram and asks the class what that phase will compute; the
// answers come in live (count and histogram); Reveal runs the phase on every screen and
// marks each student. Two cards, built here and shown over the page:
//
// TeacherQuestions: ask, watch the answers, open round 2 (peer instruction: discuss with a
//   neighbour, then vote again; both rounds side by side), reveal, download them as CSV.
// StudentQuestions: the question, a name of the student's choosing, an answer (changeable
//   until the teacher moves on; how sure, optionally), their answers of each round marked.
// Both take the class socket's question/answers/answered/reveal/error messages.
import { request } from "./api.js";
import { createElement } from "./dom.js";
/** @import { Answer, ClassMessage, Confidence, HistogramBar, LessonRecord, Moved, OwnAnswer, Phase, Question, QuestionTruth, Revealed, RoundCount } from "./protocol.js" */
/** @import { Notify } from "./views/status.js" */

/** @typedef {(layer: number, i: number | null, j: number | null) => void} Highlight marks a neuron or weight on the diagram */
/** @typedef {Extract<ClassMessage, { type: "reveal" }>} RevealMessage */
/** @typedef {Extract<ClassMessage, { type: "answered" }>} AnsweredMessage */

const NAME_KEY = "playground.answer-name";
const SHOW_NAMES_KEY = "playground.show-names"; // the teacher's choice: names on the projector
const RECEIPT_KEY = "playground.answer-receipt"; // per class code, for this tab (sessionStorage)
// Each kind of question, in words, and the phase it is asked before (PHASE_OF of
// app/service/questions.py): picking on the diagram while another phase is next picks a kind
// of that phase.
const KINDS = {
  delta_sign: { text: "Sign of a neuron's δ (backward)", phase: "backward" },
  largest_change: { text: "Weight that changes most (update)", phase: "update" },
  gradient: { text: "Value of ∂L/∂w (backward)", phase: "backward" },
  largest_delta: { text: "Unit with the largest |δ| (backward)", phase: "backward" },
  loss_change: { text: "Loss down or up (update)", phase: "update" },
  weight_after: { text: "A weight's value after the update", phase: "update" },
};
const UNIT_KINDS = ["delta_sign", "gradient", "weight_after"]; // the kinds that name a unit j
const NUMBER_KINDS = ["gradient", "weight_after"]; // answered by a number, within a tolerance
// A choice's value, its id's word and its text: the sign of δ, where the loss goes.
const SIGNS = [
  ["+", "plus", "+ positive"],
  ["-", "minus", "− negative"],
  ["0", "zero", "0 zero"],
];
const DIRECTIONS = [
  ["down", "down", "↓ down"],
  ["up", "up", "↑ up"],
  ["same", "same", "= same"],
];
const CHOICE_TEXT = Object.fromEntries([...SIGNS, ...DIRECTIONS].map(([value, , text]) => [value, text]));
const CONFIDENCE_TEXT = { sure: "sure", unsure: "not sure" };

/**
 * A histogram's bars, each split by how sure its students said they were: sure (solid),
 * not sure (pale), not said (between). Every bar is as long as its count.
 * @param {HistogramBar[]} histogram
 */
function bars(histogram) {
  const most = Math.max(1, ...histogram.map((bar) => bar.count));
  return histogram.map((bar) => {
    const unsaid = bar.count - bar.sure - bar.unsure;
    /** @param {string} part @param {number} count */
    const piece = (part, count) =>
      createElement("span", { className: `predict-bar-${part}`, style: `flex-grow: ${count}` });
    const title = `${bar.count}: ${bar.sure} sure, ${bar.unsure} not sure, ${unsaid} did not say`;
    return createElement("div", { className: "predict-bar", "data-label": bar.label, "data-count": bar.count, title }, [
      createElement("span", { className: "predict-bar-label", text: bar.label }),
      createElement("span", { className: "predict-bar-track" }, [
        createElement("span", { className: "predict-bar-fill", style: `width: ${(100 * bar.count) / most}%` }, [
          piece("sure", bar.sure),
          piece("unsaid", unsaid),
          piece("unsure", bar.unsure),
        ]),
      ]),
      createElement("span", { className: "predict-bar-count", text: String(bar.count) }),
    ]);
  });
}

/**
 * @param {number} count
 * @param {string} noun
 */
function counted(count, noun) {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/** @param {number} count */
function answersText(count) {
  return count === 1 ? "1 answer" : `${count} answers`;
}

/**
 * How many moved between the first round and the last (peer instruction's figure).
 * @param {Moved} moved
 */
function movedText(moved) {
  return (
    `Moved: ${moved.wrong_to_right} wrong → right, ${moved.right_to_wrong} right → wrong ` +
    `(${moved.right_to_right} stayed right, ${moved.wrong_to_wrong} stayed wrong).`
  );
}

/** The name this browser's student last answered under (null: none yet). */
export function studentName() {
  return localStorage.getItem(NAME_KEY) || null;
}

/** @param {Phase | null} phase */
function phaseText(phase) {
  if (!phase) return "—";
  return phase.layer === null || phase.layer === undefined ? phase.kind : `${phase.kind} ${phase.layer}`;
}

/** A card with its title and a fold button: folded, only the title row shows, so the card
 * never hides the teaching panel on a small projector (click again to unfold).
 * @param {string} id
 * @param {string} title
 */
function card(id, title) {
  const fold = createElement("button", {
    type: "button",
    id: `${id}-fold`,
    className: "secondary small predict-fold",
    "data-testid": `${id}-fold`,
    "aria-expanded": "true",
    title: "Fold the card",
    text: "–",
  });
  const element = createElement("aside", { id, className: "predict-card", "data-testid": id, hidden: true }, [
    createElement("div", { className: "predict-head" }, [createElement("h2", { text: title }), fold]),
  ]);
  fold.addEventListener("click", () => {
    const folded = element.classList.toggle("folded");
    fold.setAttribute("aria-expanded", String(!folded));
    fold.title = folded ? "Unfold the card" : "Fold the card";
    fold.textContent = folded ? "+" : "–";
  });
  document.body.append(element);
  return element;
}

/**
 * @param {string} id
 * @param {string} text
 * @param {string} [className]
 */
function button(id, text, className = "secondary small") {
  return createElement("button", { type: "button", id, className, "data-testid": id, text });
}

/**
 * An answer in words; its kind is the question's (a sign, a weight {i, j}, a number).
 * @param {Question} question
 * @param {Answer} answer
 */
function answerText(question, answer) {
  if (question.kind === "delta_sign" || question.kind === "loss_change") return CHOICE_TEXT[String(answer)] ?? answer;
  if (question.kind === "largest_change") {
    const { i, j } = /** @type {{ i: number, j: number }} */ (answer);
    return `W[${i}, ${j}]`;
  }
  if (question.kind === "largest_delta") return `unit ${/** @type {{ j: number }} */ (answer).j}`;
  return String(answer);
}

/**
 * Where the truth lives on the diagram: [layer, i, j] (i null: the neuron); null for the
 * loss, which is the whole network's.
 * @param {Question} question
 * @param {QuestionTruth} truth
 * @returns {[number, number | null, number | null] | null}
 */
function target(question, truth) {
  if (question.kind === "loss_change") return null;
  if (question.kind === "largest_change") return [question.layer, truth.i ?? null, truth.j ?? null];
  if (question.kind === "largest_delta") return [question.layer, null, truth.j ?? null];
  return [question.layer, NUMBER_KINDS.includes(question.kind) ? (question.i ?? null) : null, question.j ?? null];
}

/**
 * Choice buttons (the signs of δ, where the loss goes), each pressed when it is the choice.
 * @param {string[][]} choices [value, word of its id, text]
 * @param {string} prefix of the ids
 * @param {string} className of the row
 * @param {(value: string) => void} choose
 */
function choiceButtons(choices, prefix, className, choose) {
  return createElement(
    "div",
    { className: `predict-row predict-choices ${className}` },
    choices.map(([value, word, text]) => {
      const choice = button(`${prefix}-${word}`, text);
      choice.dataset.choice = value;
      choice.setAttribute("aria-pressed", "false");
      choice.addEventListener("click", () => choose(value));
      return choice;
    }),
  );
}

/** The teacher's card. teacherToken(): the class's token or null; nextPhase(): the session's
 *  next phase {kind, layer}; notify(message, kind); highlight(layer, i, j) on the diagram;
 *  maxRounds: a question's most rounds. */
export class TeacherQuestions {
  /**
   * @param {object} options
   * @param {() => string | null} options.teacherToken
   * @param {() => Phase | null} options.nextPhase
   * @param {Notify} options.notify
   * @param {Highlight} options.highlight
   * @param {number} options.maxRounds
   */
  constructor({ teacherToken, nextPhase, notify, highlight, maxRounds }) {
    this.maxRounds = maxRounds;
    this.teacherToken = teacherToken;
    this.nextPhase = nextPhase;
    this.notify = notify;
    this.highlight = highlight;
    /** @type {{ layer: number, i: number | null, j: number | null } | null} from the diagram */
    this.picked = null;
    /** @type {Question | null} */
    this.question = null;
    /**
     * @type {{ card: HTMLElement, next: HTMLElement, kind: HTMLSelectElement, pick: HTMLElement,
     *   tolerance: HTMLInputElement, toleranceField: HTMLElement, ask: HTMLButtonElement, text: HTMLElement,
     *   count: HTMLElement, histogram: HTMLElement, earlier: HTMLElement, round: HTMLButtonElement,
     *   reveal: HTMLButtonElement, truth: HTMLElement, moved: HTMLElement, names: HTMLInputElement,
     *   students: HTMLElement, csv: HTMLButtonElement, live: HTMLElement, recordButton: HTMLButtonElement,
     *   record: HTMLElement }}
     */
    const e = /** @type {any} */ ({}); // filled in below
    this.e = e;
    e.card = card("predict-teacher", "Ask the class");
    e.next = createElement("p", { id: "predict-next", className: "hint" });
    e.kind = createElement(
      "select",
      { id: "predict-kind", "data-testid": "predict-kind", "aria-label": "Question" },
      Object.entries(KINDS).map(([value, { text }]) => createElement("option", { value, text })),
    );
    e.pick = createElement("p", { id: "predict-pick", "data-testid": "predict-pick", className: "hint" });
    e.tolerance = createElement("input", {
      id: "predict-tolerance", "data-testid": "predict-tolerance", type: "number",
      min: "1", max: "100", step: "1", value: "10", "aria-label": "Tolerance in percent",
    });
    e.toleranceField = createElement("label", { className: "predict-tolerance", hidden: true }, [
      "within ± ", e.tolerance, " %",
    ]);
    e.ask = button("predict-ask", "Ask", "primary small");
    e.text = createElement("p", { id: "predict-question", "data-testid": "predict-question" });
    e.count = createElement("span", { id: "predict-count", "data-testid": "predict-count", "data-count": "0" });
    e.histogram = createElement("div", { id: "predict-histogram", className: "predict-histogram", "data-testid": "predict-histogram" });
    // The rounds before this one, beside it: the teacher reads the two votes side by side.
    e.earlier = createElement("div", { id: "predict-earlier", className: "predict-earlier", "data-testid": "predict-earlier" });
    e.round = button("predict-round", "Vote again", "secondary small");
    e.round.title = "Close this round: the class discusses with a neighbour, then answers again";
    e.reveal = button("predict-reveal", "Reveal", "primary small");
    e.truth = createElement("p", { id: "predict-truth", "data-testid": "predict-truth", role: "status" });
    e.moved = createElement("p", { id: "predict-moved", "data-testid": "predict-moved", hidden: true });
    e.names = createElement("input", { id: "predict-names", type: "checkbox", "data-testid": "predict-names" });
    e.names.checked = localStorage.getItem(SHOW_NAMES_KEY) === "true";
    e.students = createElement("ul", { id: "predict-students", className: "predict-students", "data-testid": "predict-students" });
    e.csv = button("predict-csv", "Answers (CSV)");
    e.recordButton = button("predict-record-button", "Lesson record");
    e.recordButton.title = "Per student: questions right in each round, hand checks, grades";
    e.record = createElement("div", { id: "predict-record", className: "predict-record", "data-testid": "predict-record", hidden: true });
    e.live = createElement("div", { className: "predict-live", hidden: true }, [
      e.text,
      createElement("div", { className: "predict-rounds" }, [
        e.earlier,
        createElement("div", { className: "predict-round" }, [e.count, e.histogram]),
      ]),
      createElement("div", { className: "predict-row" }, [e.round, e.reveal, e.csv]),
      e.truth,
      e.moved,
      createElement("label", { className: "predict-names" }, [e.names, " Show names (anonymous otherwise)"]),
      e.students,
    ]);
    e.card.append(e.next, e.kind, e.pick, e.toleranceField, e.ask, e.live, e.recordButton, e.record);
    e.kind.addEventListener("change", () => this.render());
    e.ask.addEventListener("click", () => this.ask());
    e.round.addEventListener("click", () => this.nextRound());
    e.reveal.addEventListener("click", () => this.reveal());
    e.csv.addEventListener("click", () => this.download());
    e.recordButton.addEventListener("click", () => this.toggleRecord());
    this.addWorksheets();
    e.names.addEventListener("change", () => {
      localStorage.setItem(SHOW_NAMES_KEY, String(e.names.checked));
      this.renderStudents();
    });
    /** @type {Revealed["students"] | null} the last reveal's names and marks (the teacher's alone) */
    this.marked = null;
    /** @type {number | undefined} */
    this.timer = undefined;
    this.render();
  }

  show() {
    this.e.card.hidden = false;
    clearInterval(this.timer);
    this.timer = setInterval(() => this.renderNext(), 500); // the teacher steps meanwhile
    this.render();
  }

  hide() {
    this.e.card.hidden = true;
    clearInterval(this.timer);
    this.question = null;
    this.e.live.hidden = true;
  }

  /**
   * A click on the diagram: a neuron (i null) or a weight W[i→j] of `layer`.
   * @param {number} layer
   * @param {number | null} i
   * @param {number | null} j
   */
  pick(layer, i, j) {
    if (this.e.card.hidden || layer < 0) return;
    this.picked = { layer, i, j };
    const next = this.nextPhase()?.kind;
    const kinds = /** @type {[keyof KINDS, { phase: string }][]} */ (Object.entries(KINDS));
    if (next && KINDS[/** @type {keyof KINDS} */ (this.e.kind.value)].phase !== next) {
      const first = kinds.find(([, { phase }]) => phase === next);
      if (first) this.e.kind.value = first[0];
    }
    this.render();
  }

  renderNext() {
    const text = `Next phase: ${phaseText(this.nextPhase())}`;
    if (this.e.next.textContent !== text) this.e.next.textContent = text;
  }

  render() {
    this.renderNext();
    const kind = this.e.kind.value;
    const p = this.picked;
    this.e.toleranceField.hidden = !NUMBER_KINDS.includes(kind);
    let text = "Click a neuron or a weight on the diagram.";
    const parameter = p && (p.i === null ? `b[${p.layer}][${p.j}]` : `W[${p.layer}][${p.i}, ${p.j}]`);
    if (p && kind === "delta_sign") text = `δ of neuron ${p.j} in layer ${p.layer}`;
    if (p && kind === "largest_change") text = `the weights of layer ${p.layer}`;
    if (p && kind === "gradient") text = `∂L/∂${parameter}`;
    if (p && kind === "largest_delta") text = `the units of layer ${p.layer}: which gets the largest |δ|`;
    if (p && kind === "weight_after") text = `${parameter} after the update`;
    if (kind === "loss_change") text = "the batch's loss after the update (no pick needed)";
    this.e.pick.textContent = text;
    this.e.ask.disabled = !p && kind !== "loss_change";
  }

  async ask() {
    const p = this.picked;
    const kind = this.e.kind.value;
    /** @type {Record<string, unknown>} */
    const body = { kind };
    if (kind !== "loss_change") {
      if (!p) return;
      body.layer = p.layer;
      if (UNIT_KINDS.includes(kind)) body.j = p.j;
    }
    if (p && NUMBER_KINDS.includes(kind)) {
      if (p.i !== null) body.i = p.i;
      body.tolerance = Number(this.e.tolerance.value) / 100;
    }
    try {
      const question = await request("POST", "/api/classes/current/questions", { token: this.teacherToken(), json: body });
      this.showQuestion(question);
    } catch (error) {
      this.notify(`The question was not asked: ${error.message}`);
    }
  }

  /** @param {Question} question */
  showQuestion(question) {
    this.question = question;
    this.marked = null;
    this.e.text.textContent = question.text;
    this.e.truth.textContent = "";
    delete this.e.truth.dataset.right;
    this.e.moved.hidden = true;
    this.e.reveal.disabled = question.status !== "open";
    this.e.live.hidden = false;
    this.renderStudents();
    this.showAnswers({ round: question.round, count: 0, histogram: [], rounds: [] });
  }

  /** @param {{ round: number, count: number, histogram: HistogramBar[], rounds: RoundCount[] }} answers */
  showAnswers({ round, count, histogram, rounds }) {
    const question = this.question;
    if (question) question.round = round;
    this.e.count.textContent = rounds.length > 1 ? `Round ${round} · ${answersText(count)}` : answersText(count);
    this.e.count.dataset.count = String(count);
    this.e.count.dataset.round = String(round);
    this.e.histogram.replaceChildren(...bars(histogram));
    this.e.earlier.replaceChildren(
      ...rounds.slice(0, -1).map((before) =>
        createElement("div", { className: "predict-round", "data-round": before.round }, [
          createElement("span", { className: "predict-round-title", text: `Round ${before.round} · ${answersText(before.count)}` }),
          createElement("div", { className: "predict-histogram" }, bars(before.histogram)),
        ]),
      ),
    );
    this.e.round.textContent = `Vote again (round ${round + 1})`;
    this.e.round.disabled = !question || question.status !== "open" || round >= this.maxRounds;
  }

  async nextRound() {
    if (!this.question) return;
    try {
      const url = `/api/classes/current/questions/${this.question.id}/rounds`;
      this.question = await request("POST", url, { token: this.teacherToken() });
      this.notify(`Round ${this.question?.round}: the class discusses with a neighbour, then answers again.`, "info");
    } catch (error) {
      this.notify(`The next round did not open: ${error.message}`);
    }
  }

  async reveal() {
    if (!this.question) return;
    try {
      const url = `/api/classes/current/questions/${this.question.id}/reveal`;
      this.showReveal(await request("POST", url, { token: this.teacherToken() }));
    } catch (error) {
      this.notify(`The answer could not be revealed: ${error.message}`);
    }
  }

  /** @param {Revealed} revealed */
  showReveal({ truth, tally, rounds, moved, ran, students }) {
    if (!this.question) return; // the class ended (hide) while Reveal was on its way
    this.e.reveal.disabled = this.e.round.disabled = true;
    const where = target(this.question, truth);
    if (where) this.highlight(...where);
    const note = ran ? "" : " (the session moved since the question: the phase was not run again)";
    const each =
      rounds.length > 1 ? ` (${rounds.map((r) => `round ${r.round}: ${r.tally.right} of ${r.tally.answers}`).join(", ")})` : "";
    this.e.truth.textContent = `Answer: ${truth.text}. ${tally.right} of ${tally.answers} right${each}${note}.`;
    this.e.truth.dataset.right = String(tally.right);
    this.e.moved.hidden = !moved;
    if (moved) {
      this.e.moved.textContent = movedText(moved);
      for (const [key, count] of Object.entries(moved)) this.e.moved.dataset[key.replace(/_(\w)/g, (_, c) => c.toUpperCase())] = String(count);
    }
    this.marked = students ?? null;
    this.renderStudents();
  }

  /** Names on the projector only when the teacher turns them on (after Reveal, with marks). */
  renderStudents() {
    const list = this.e.students;
    list.hidden = !this.e.names.checked || !this.marked;
    if (list.hidden || !this.marked) return list.replaceChildren();
    list.replaceChildren(
      ...this.marked.map(({ name, answers }) =>
        createElement("li", {
          text: `${name}: ${answers.map((a) => `${answerText(/** @type {Question} */ (this.question), a.answer)} ${a.right ? "✓" : "✗"}`).join(" → ")}`,
        }),
      ),
    );
  }

  /** @param {ClassMessage} message any but the class socket's "class" and "students" */
  onMessage(message) {
    switch (message.type) {
      case "question":
        if (message.question.id !== this.question?.id) this.showQuestion(message.question);
        break;
      case "answers":
        if (message.question === this.question?.id) this.showAnswers(message);
        break;
      case "reveal":
        if (message.question.id === this.question?.id) this.showReveal(message);
        break;
      case "error":
        this.notify(message.message);
        break;
      default:
        throw new Error(`unknown class message: ${JSON.stringify(message.type)}`);
    }
  }

  /**
   * Save a CSV the teacher token may read.
   * @param {string} path
   * @param {string} filename
   * @param {string} what said if it fails
   */
  async save(path, filename, what) {
    try {
      const response = await fetch(path, { headers: { Authorization: `Bearer ${this.teacherToken()}` } });
      if (!response.ok) throw new Error((await response.json().catch(() => ({}))).detail ?? `HTTP ${response.status}`);
      const url = URL.createObjectURL(await response.blob());
      const link = createElement("a", { href: url, download: filename });
      link.click();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (error) {
      this.notify(`The ${what} could not be downloaded: ${error.message}`);
    }
  }

  download() {
    return this.save("/api/classes/current/answers", "answers.csv", "answers");
  }

  /** The lesson's record, per student: shown in the card (again: hidden), with its CSV. */
  async toggleRecord() {
    const box = this.e.record;
    if (!box.hidden) {
      box.hidden = true;
      return;
    }
    /** @type {LessonRecord} */
    let table;
    try {
      table = await request("GET", "/api/classes/current/record", { token: this.teacherToken() });
    } catch (error) {
      this.notify(`The lesson's record could not be read: ${error.message}`);
      return;
    }
    const rounds = Array.from({ length: table.rounds }, (_, k) => k + 1);
    /** @param {string[]} cells @param {"th" | "td"} tag */
    const line = (cells, tag) => createElement("tr", {}, cells.map((text) => createElement(tag, { text })));
    const head = ["Student", ...rounds.map((n) => `Round ${n}`), "Checks", "Grades"];
    const body = table.students.map((s) =>
      line(
        [
          s.name,
          ...rounds.map((n) => `${s.right[n - 1]} / ${s.answered[n - 1]}`),
          `${s.checks_right} / ${s.checks}`,
          `${s.grades_passed} / ${s.grades}`,
        ],
        "td",
      ),
    );
    const csv = button("predict-record-csv", "Record (CSV)");
    csv.addEventListener("click", () => this.save("/api/classes/current/record?format=csv", "lesson-record.csv", "record"));
    box.replaceChildren(
      createElement("p", {
        className: "hint",
        text:
          `${counted(table.students.length, "student")}, ${counted(table.questions, "question")} ` +
          `(${table.revealed} revealed). Each cell: right / done (a round's answers, hand checks, grades).`,
      }),
      createElement("table", { className: "predict-record-table", "data-testid": "predict-record-table" }, [
        createElement("thead", {}, [line(head, "th")]),
        createElement("tbody", {}, body),
      ]),
      csv,
    );
    box.hidden = false;
  }

  /** Worksheets, beside Lesson record: every student's own sheet, a page each, then the keys. */
  addWorksheets() {
    const sheets = button("predict-worksheets", "Worksheets");
    sheets.title = "One printable file: each student's own worksheet (from their name), then the answer keys";
    this.e.recordButton.after(sheets);
    sheets.addEventListener("click", () => this.save("/api/classes/current/worksheets", "class-worksheets.html", "worksheets"));
  }
}

/** A student's card. code: the class's; send(message): over the class socket;
 * highlight(layer, i, j). The receipt of the page's last answer is kept for this tab, so a
 * page that reloads claims its answer again (resume) and still gets its mark. */
export class StudentQuestions {
  /**
   * @param {object} options
   * @param {string} options.code
   * @param {(message: { type: string } & Record<string, unknown>) => boolean} options.send
   * @param {Highlight} options.highlight
   */
  constructor({ code, send, highlight }) {
    this.send = send;
    this.highlight = highlight;
    this.receiptKey = `${RECEIPT_KEY}:${code}`;
    /** @type {Question | null} */
    this.question = null;
    /** @type {AnsweredMessage | null} the "answered" of the page's answer to the question shown */
    this.answered = null;
    this.claiming = false;
    /** @type {string | null} the sign or the direction chosen */
    this.choice = null;
    /** @type {Confidence | null} how sure the student says they are (optional) */
    this.confidence = null;
    /**
     * @type {{ card: HTMLElement, text: HTMLElement, round: HTMLElement, name: HTMLInputElement, signs: HTMLElement,
     *   directions: HTMLElement, i: HTMLInputElement, j: HTMLInputElement, weight: HTMLElement,
     *   unitJ: HTMLInputElement, unit: HTMLElement, value: HTMLInputElement,
     *   sure: HTMLElement, send: HTMLButtonElement, result: HTMLElement }}
     */
    const e = /** @type {any} */ ({}); // filled in below
    this.e = e;
    e.card = card("predict-student", "Your teacher asks");
    e.text = createElement("p", { id: "predict-student-question", "data-testid": "predict-student-question" });
    e.round = createElement("p", { id: "predict-student-round", className: "hint", "data-testid": "predict-student-round", hidden: true });
    e.name = createElement("input", {
      id: "predict-name", "data-testid": "predict-name", type: "text", maxlength: "40",
      placeholder: "Your name (any name)", "aria-label": "Your name", autocomplete: "nickname",
    });
    e.name.value = localStorage.getItem(NAME_KEY) ?? "";
    e.signs = choiceButtons(SIGNS, "predict-sign", "predict-signs", (sign) => this.choose(sign));
    e.directions = choiceButtons(DIRECTIONS, "predict-loss", "predict-directions", (direction) => this.choose(direction));
    /**
     * @param {string} id
     * @param {string} label
     */
    const number = (id, label) =>
      createElement("input", { id, "data-testid": id, type: "number", step: "any", "aria-label": label });
    e.i = number("predict-i", "Input i");
    e.j = number("predict-j", "Unit j");
    e.weight = createElement("div", { className: "predict-row" }, ["W[", e.i, ", ", e.j, "]"]);
    e.unitJ = number("predict-unit", "Unit j");
    e.unit = createElement("label", { className: "predict-row" }, ["unit ", e.unitJ, " (or tap it on the diagram)"]);
    e.value = number("predict-value", "Your value");
    e.value.placeholder = "your value";
    e.sure = createElement(
      "div",
      { className: "predict-row predict-sure", role: "group", "aria-label": "How sure are you? (optional)" },
      /** @type {[Confidence, string][]} */ ([["sure", "Sure"], ["unsure", "Not sure"]]).map(([value, text]) => {
        const choice = button(`predict-${value}`, text);
        choice.dataset.confidence = value;
        choice.setAttribute("aria-pressed", "false");
        choice.addEventListener("click", () => this.chooseConfidence(this.confidence === value ? null : value));
        return choice;
      }),
    );
    e.send = button("predict-send", "Answer", "primary small");
    e.result = createElement("p", { id: "predict-result", "data-testid": "predict-result", role: "status" });
    e.card.append(e.text, e.round, e.name, e.signs, e.directions, e.weight, e.unit, e.value, e.sure, e.send, e.result);
    e.send.addEventListener("click", () => this.answer());
  }

  /** @param {Confidence | null} confidence */
  chooseConfidence(confidence) {
    this.confidence = confidence;
    const choices = /** @type {HTMLCollectionOf<HTMLButtonElement>} */ (this.e.sure.children);
    for (const choice of choices) choice.setAttribute("aria-pressed", String(choice.dataset.confidence === confidence));
  }

  /** The class moved to another session: its question, if any, stays with the old one. */
  hide() {
    this.question = this.answered = null;
    this.e.card.hidden = true;
  }

  /** @param {string | null} value a sign or a direction; null: none */
  choose(value) {
    this.choice = value;
    for (const row of [this.e.signs, this.e.directions]) {
      const choices = /** @type {HTMLCollectionOf<HTMLButtonElement>} */ (row.children);
      for (const choice of choices) choice.setAttribute("aria-pressed", String(choice.dataset.choice === value));
    }
  }

  /**
   * A click on the diagram fills the weight of a "which changes most" question, or the unit
   * of a "which gets the largest |δ|" one.
   * @param {number} layer
   * @param {number | null} i
   * @param {number | null} j
   */
  pick(layer, i, j) {
    const question = this.question;
    if (!question || layer !== question.layer || j === null) return;
    if (question.kind === "largest_delta" && i === null) this.e.unitJ.value = String(j);
    if (question.kind !== "largest_change" || i === null) return;
    this.e.i.value = String(i);
    this.e.j.value = String(j);
  }

  /** @param {Question} question the question, new or in its next round */
  showQuestion(question) {
    const before = this.question;
    const nextRound = before?.id === question.id && question.round > before.round;
    this.question = question;
    this.choose(null);
    this.chooseConfidence(null);
    const e = this.e;
    e.text.textContent = question.text;
    e.round.hidden = question.round === 1;
    e.round.textContent = `Round ${question.round}: discuss with your neighbour, then answer again.`;
    e.signs.hidden = question.kind !== "delta_sign";
    e.directions.hidden = question.kind !== "loss_change";
    e.weight.hidden = question.kind !== "largest_change";
    e.unit.hidden = question.kind !== "largest_delta";
    e.value.hidden = !NUMBER_KINDS.includes(question.kind);
    e.sure.hidden = false;
    e.send.disabled = false;
    e.send.textContent = "Answer";
    e.result.textContent = "";
    delete e.result.dataset.mark;
    e.card.hidden = false;
    const answered = this.answered;
    if (answered?.question !== question.id) return;
    if (answered.round === question.round) this.showAnswered(answered);
    else if (nextRound || question.round > answered.round) {
      this.say(`Your round ${answered.round} answer: ${answerText(question, answered.answer)}. Answer again, as ${answered.name}.`);
    }
  }

  /** The socket (re)opened: claim the answer this tab gave before a reload, if any. */
  resume() {
    const kept = JSON.parse(sessionStorage.getItem(this.receiptKey) || "null");
    if (!kept?.receipt) return;
    this.claiming = this.send({ type: "claim", question: kept.question, receipt: kept.receipt });
  }

  /** @param {AnsweredMessage} message */
  showAnswered(message) {
    this.answered = message;
    if (!this.question || this.question.id !== message.question) return; // its question comes next
    this.e.send.textContent = "Change answer";
    const sure = message.confidence ? `, ${CONFIDENCE_TEXT[message.confidence]}` : "";
    const round = this.question.round > 1 ? ` in round ${message.round}` : "";
    this.say(
      `Sent: ${answerText(this.question, message.answer)}${sure}, as ${message.name}${round}. ` +
        "You may change it until the teacher moves on.",
    );
  }

  /**
   * @param {Question} question
   * @returns {Answer | null}
   */
  answerValue(question) {
    const kind = question.kind;
    if (kind === "delta_sign" || kind === "loss_change") return this.choice;
    if (kind === "largest_change") {
      const [i, j] = [this.e.i.value, this.e.j.value];
      return i === "" || j === "" ? null : { i: Number(i), j: Number(j) };
    }
    if (kind === "largest_delta") return this.e.unitJ.value === "" ? null : { j: Number(this.e.unitJ.value) };
    return this.e.value.value === "" ? null : Number(this.e.value.value);
  }

  answer() {
    const question = this.question;
    if (!question) return; // the button shows with a question only
    const name = this.e.name.value.trim();
    const value = this.answerValue(question);
    if (!name) return this.say("Type a name first: any name, no account.");
    if (value === null) return this.say("Choose or type your answer first.");
    localStorage.setItem(NAME_KEY, name);
    /** @type {{ type: string } & Record<string, unknown>} */
    const message = { type: "answer", question: question.id, name, answer: value };
    if (this.confidence) message.confidence = this.confidence;
    this.send(message);
  }

  /** @param {string} text */
  say(text) {
    this.e.result.textContent = text;
  }

  /**
   * The student's own answers marked, a round each, and the last round's mark.
   * @param {Question} question
   * @param {OwnAnswer[]} answers
   * @param {boolean | null} mark
   */
  marksText(question, answers, mark) {
    const rounds =
      question.round > 1 && answers.length
        ? ` ${answers.map((a) => `Round ${a.round}: ${answerText(question, a.answer)} ${a.right ? "right" : "wrong"}`).join(" · ")}.`
        : "";
    if (mark === null) return answers.length ? `${rounds} You did not answer round ${question.round}.` : "";
    return `${rounds} ${mark ? "You were right." : "You were wrong."}`;
  }

  /** @param {ClassMessage} message any but the class socket's "class" */
  onMessage(message) {
    switch (message.type) {
      case "question":
        this.showQuestion(message.question);
        break;
      case "answered":
        this.claiming = false;
        sessionStorage.setItem(this.receiptKey, JSON.stringify({ question: message.question, receipt: message.receipt }));
        this.showAnswered(message);
        break;
      case "error":
        if (this.claiming) {
          // The answer is not here any more (another session, a replaced question): forget it.
          this.claiming = false;
          sessionStorage.removeItem(this.receiptKey);
          break;
        }
        this.say(message.message);
        break;
      case "reveal": {
        if (message.question.id !== this.question?.id) this.showQuestion(message.question);
        this.e.send.disabled = true;
        this.e.send.textContent = "Answer";
        this.e.sure.hidden = this.e.round.hidden = true; // revealed: nothing more to answer
        const where = target(message.question, message.truth);
        if (where) this.highlight(...where);
        this.say(`Answer: ${message.truth.text}.${this.marksText(message.question, message.answers ?? [], message.mark ?? null)}`);
        if (message.mark !== null && message.mark !== undefined) this.e.result.dataset.mark = message.mark ? "right" : "wrong";
        break;
      }
      default:
        throw new Error(`unknown class message: ${JSON.stringify(message.type)}`);
    }
  }
}
