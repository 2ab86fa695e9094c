// @ts-check
// The lesson guide: walks a lesson's named steps on the live session, one phase at a time.
// Each step is GET /api/sessions/{id}/lesson's: the quantity as the lesson names it, its
// formula, the phase that computes it, where it lives in the diagram and its current values.
// Next runs the phase a step needs (if it has not run yet) and shows it; Previous only looks
// back. While the page follows the session (the usual case, and always on a watch link) the
// guide moves with the phases as they run.
import { ApiError, api } from "./api.js";
import { lessonById, pageConfig } from "./config.js";
import { createElement } from "./dom.js";
import { LatestLoader } from "./loader.js";
import { depthOf, matrixTable, numberElement } from "./tables.js";
import { phaseText } from "./words.js";
/** @import { LessonGuide as Guide, LessonInfo, LessonStep, ModelConfig, StepResult } from "./protocol.js" */
/** @import { Notify } from "./views/status.js" */

/** @typedef {{ id: string, token: string, preset: string | null, model: ModelConfig | null }} SessionInfo */
/**
 * What the guide may do to the session: run one unit (a phase, an epoch) and wait for it,
 * or load a preset.
 * @typedef {{ step: (unit: string) => Promise<StepResult | null>, loadPreset: (preset: string) => Promise<boolean> }} GuideActions
 */
/** @typedef {{ layer: number | null, part: string }} GuideHighlight where a step lives on the diagram */

/**
 * Does the network fit what a lesson's guide needs (the server's table, as
 * app/service/lessons.py checks it)? Any network fits a lesson that needs none.
 * @param {ModelConfig} model
 * @param {LessonInfo} lesson
 */
export function fitsLesson(model, lesson) {
  const needs = lesson.network;
  if (!needs) return true;
  return (
    model.layers.length === needs.layers.length &&
    model.layers.every((layer, k) => {
      const wanted = needs.layers[k];
      return layer.activation === wanted.activation && (wanted.units === null || layer.units === wanted.units);
    }) &&
    model.loss === needs.loss &&
    Boolean(model.use_bias) === needs.use_bias
  );
}

/** @type {Record<string, string>} */
const VALUE_NAMES = {
  dE_dY: "∂E/∂Y",
  dE_dX: "∂E/∂X",
  dE_dW: "∂E/∂W",
  dE_dB: "∂E/∂B",
  Y_true: "Y* (targets)",
  E: "E",
  learning_rate: "learning rate α",
  y: "y (targets)",
};

/** @param {string} text */
function capitalized(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** @param {string} name */
function valueName(name) {
  return VALUE_NAMES[name] ?? name.replaceAll("_", " ");
}


/**
 * One named value: a number, a vector, a matrix, or a list of them (one per layer).
 * @param {string} name
 * @param {any} value numbers nested as GET …/lesson gives them
 */
function valueBlock(name, value) {
  const label = createElement("h4", { className: "value-name", text: valueName(name) });
  /** @param {Node[]} children */
  const block = (children) => createElement("div", { className: "value-block", "data-name": name }, [label, ...children]);
  if (value === null || value === undefined) {
    return block([createElement("p", { className: "hint", "data-value": "", text: "not computed" })]);
  }
  const depth = depthOf(value);
  if (depth === 0) return block([numberElement("span", value, { "data-name": name })]);
  if (depth === 1) return block([matrixTable(name, [value])]);
  const rectangular = depth === 2 && value.every((/** @type {unknown} */ row) => Array.isArray(row) && row.length === value[0].length);
  if (rectangular) return block([scroll(matrixTable(name, value))]);
  // A list with one entry per layer (lesson 003's W and B after the update).
  return block(
    value.map((/** @type {any} */ entry, /** @type {number} */ k) => {
      const part = `${name}[${k}]`;
      if (entry === null) return createElement("p", { className: "hint", text: `${part}: none` });
      const rows = depthOf(entry) === 1 ? [entry] : entry;
      return createElement("div", { className: "value-part" }, [
        createElement("span", { className: "value-part-name", text: `layer ${k}` }),
        scroll(matrixTable(part, rows)),
      ]);
    }),
  );
}

/** @param {HTMLElement} table */
function scroll(table) {
  return createElement("div", { className: "table-scroll" }, [table]);
}

export class LessonGuide {
  /**
   * elements: {panel, lesson, prev, next, runEpoch, load, content, status};
   * session(): {id, token, preset, model}; readOnly(): true on a watch link;
   * actions: step(unit) and loadPreset(id), both promises; describeLayer(k);
   * onHighlight({layer, part} | null); notify(message).
   * @param {{ panel: HTMLElement, lesson: HTMLSelectElement, prev: HTMLButtonElement, next: HTMLButtonElement,
   *   runEpoch: HTMLButtonElement, load: HTMLButtonElement, content: HTMLElement, status: HTMLElement }} elements
   * @param {object} options
   * @param {() => SessionInfo | null} options.session
   * @param {() => boolean} options.readOnly
   * @param {GuideActions} options.actions
   * @param {(k: number) => string} options.describeLayer
   * @param {(highlight: GuideHighlight | null) => void} options.onHighlight
   * @param {Notify} options.notify
   */
  constructor(elements, { session, readOnly, actions, describeLayer, onHighlight, notify }) {
    this.e = elements;
    this.session = session;
    this.readOnly = readOnly;
    this.actions = actions;
    this.describeLayer = describeLayer;
    this.onHighlight = onHighlight;
    this.notify = notify;
    this.active = false;
    this.lesson = elements.lesson.value;
    this.lessonChosen = false; // the user picked one: keep it across sessions
    /** @type {Guide | null} */
    this.guide = null;
    /** @type {(Error & { status?: number }) | null} */
    this.error = null;
    this.index = -1; // the step shown; −1 is the lesson's introduction
    this.follow = true; // move with the session's phases
    this.busy = false;
    this.loader = new LatestLoader((signal) => this.load(signal), {
      onResult: (guide) => this.take(guide),
      onError: (error) => this.fail(error),
    });
    this.wire();
  }

  wire() {
    const e = this.e;
    e.lesson.addEventListener("change", () => {
      this.lessonChosen = true;
      this.switchLesson(e.lesson.value);
    });
    e.prev.addEventListener("click", () => this.previous());
    e.next.addEventListener("click", () => this.next());
    e.runEpoch.addEventListener("click", () => this.runToEndOfEpoch());
    e.load.addEventListener("click", () => this.loadLessonNetwork());
  }

  // ----- opening, following ----------------------------------------------------------------

  open() {
    this.active = true;
    this.render();
    return this.loader.now();
  }

  close() {
    this.active = false;
    this.loader.cancel();
    this.onHighlight(null);
  }

  /** A frame: fetch the values again (throttled), unless an action is fetching them. */
  refresh() {
    if (this.active && !this.busy) this.loader.request();
  }

  /** Another session: start at its current step; pick the lesson that fits it. */
  sessionChanged() {
    const preset = this.session()?.preset;
    if (!this.lessonChosen) {
      const { lessons, default_lesson: fallback } = pageConfig();
      this.lesson = lessons.find((lesson) => lesson.preset === preset)?.id ?? fallback;
      this.e.lesson.value = this.lesson;
    }
    this.reset();
  }

  /** @param {string} lesson */
  switchLesson(lesson) {
    this.lesson = lesson;
    this.reset();
  }

  reset() {
    this.guide = null;
    this.error = null;
    this.index = -1;
    this.follow = true;
    this.loader.cancel();
    if (this.active) {
      this.render();
      this.loader.now();
    }
  }

  /**
   * @param {AbortSignal} signal
   * @returns {Promise<Guide>}
   */
  load(signal) {
    const session = this.session();
    if (!session) throw new Error("no session yet");
    // The server refuses lesson 000's guide on another network (422): say so without asking,
    // so the browser logs no failed request.
    const lesson = lessonById(this.lesson);
    if (session.model && !fitsLesson(session.model, lesson)) {
      throw new ApiError(422, lesson.refusal ?? "", "lesson");
    }
    return api.getLesson(session.id, session.token, this.lesson, { signal });
  }

  /** @param {Guide} guide */
  take(guide) {
    if (guide.lesson !== this.lesson) return;
    this.guide = guide;
    this.error = null;
    if (this.follow) this.index = guide.current ?? -1;
    this.index = Math.min(this.index, guide.steps.length - 1);
    this.render();
  }

  /** @param {Error} error */
  fail(error) {
    this.guide = null;
    this.error = error;
    this.index = -1;
    this.render();
  }

  // ----- moving -----------------------------------------------------------------------------

  /**
   * Run an action with the buttons held; its errors go to the notice line.
   * @param {() => Promise<unknown>} action
   */
  async act(action) {
    if (this.busy) return;
    this.busy = true;
    this.loader.cancel();
    this.render();
    try {
      await action();
    } catch (error) {
      this.notify(error.message);
    } finally {
      this.busy = false;
      this.render();
    }
  }

  nextIndex() {
    const count = this.guide?.steps.length ?? 0;
    return this.index + 1 >= count ? 0 : this.index + 1;
  }

  /** The next step can be shown without running anything. */
  nextIsReady() {
    if (!this.guide) return false;
    if (this.index + 1 >= this.guide.steps.length) return false; // a new batch is needed
    return this.guide.steps[this.index + 1].available;
  }

  next() {
    if (!this.guide) return undefined;
    if (this.readOnly()) {
      if (this.nextIsReady()) this.show(this.index + 1);
      return undefined;
    }
    return this.act(async () => {
      const target = this.nextIndex();
      if (!this.nextIsReady()) await this.actions.step("phase");
      const guide = await this.loader.now();
      if (!guide) return;
      // Someone else may have moved the session meanwhile: then show where it is.
      this.index = guide.steps[target].available ? target : (guide.current ?? -1);
      this.follow = this.index === guide.current;
    });
  }

  previous() {
    if (this.index <= -1) return;
    this.show(this.index - 1);
  }

  /** @param {number} index */
  show(index) {
    this.index = index;
    this.follow = this.guide !== null && index === this.guide.current;
    this.render();
  }

  runToEndOfEpoch() {
    if (this.readOnly()) return undefined;
    return this.act(async () => {
      await this.actions.step("epoch");
      const guide = await this.loader.now();
      if (!guide) return;
      this.index = guide.current ?? -1;
      this.follow = true;
    });
  }

  loadLessonNetwork() {
    if (this.readOnly()) return undefined;
    this.lessonChosen = true;
    return this.act(() => this.actions.loadPreset(lessonById(this.lesson).preset));
  }

  // ----- drawing ----------------------------------------------------------------------------

  current() {
    return this.guide && this.index >= 0 ? this.guide.steps[this.index] : null;
  }

  render() {
    const step = this.current();
    const stepId = step ? step.id : this.guide ? "intro" : "";
    const panel = this.e.panel;
    panel.dataset.lesson = this.lesson;
    panel.dataset.guideStep = stepId;
    panel.dataset.guideIndex = String(this.index);
    panel.dataset.busy = this.busy ? "true" : "false";
    panel.dataset.phasesRun = this.guide ? String(this.guide.phases_run) : "";
    panel.dataset.sessionStep = this.guide ? String(this.guide.step) : "";
    panel.setAttribute("aria-busy", this.busy ? "true" : "false");
    if (this.active) this.onHighlight(step ? { layer: step.layer, part: step.part } : null);
    this.renderButtons();
    this.e.content.replaceChildren(...this.body(step));
    this.keepStepInView();
    const status =
      step && this.guide
        ? `Step ${this.index + 1} of ${this.guide.steps.length}: ${step.title}`
        : this.guide
          ? "The lesson's introduction"
          : "";
    if (this.e.status.textContent !== status) this.e.status.textContent = status; // announced once
  }

  /** The teaching panel scrolls inside a projector's screen: the step shown starts in view. */
  keepStepInView() {
    const shown = this.e.content.querySelector(".guide-step");
    const scroller = this.e.panel.closest(".teaching-panel");
    if (!shown || !scroller || scroller.scrollHeight <= scroller.clientHeight) return;
    const offset = shown.getBoundingClientRect().top - scroller.getBoundingClientRect().top;
    if (offset < 0 || offset > scroller.clientHeight / 2) scroller.scrollTop += offset - 8;
  }

  renderButtons() {
    const e = this.e;
    const readOnly = this.readOnly();
    /**
     * @param {HTMLButtonElement | HTMLSelectElement} button
     * @param {boolean} disabled
     */
    const set = (button, disabled) => {
      button.disabled = disabled;
      button.setAttribute("aria-disabled", disabled ? "true" : "false");
    };
    set(e.prev, this.busy || this.index <= -1 || !this.guide);
    set(e.next, this.busy || !this.guide || (readOnly && !this.nextIsReady()));
    set(e.runEpoch, this.busy || readOnly || !this.guide);
    e.next.title =
      this.guide && this.index + 1 >= this.guide.steps.length
        ? "Start the next batch: runs its first phase"
        : "Show the next step, running its phase if it has not run yet";
    const lesson = lessonById(this.lesson);
    const refused = this.error && this.error.status === 422;
    e.load.hidden = readOnly || !(refused || (this.guide && this.session()?.preset !== lesson.preset));
    e.load.textContent = lesson.load;
    set(e.load, this.busy || readOnly);
    set(e.lesson, this.busy);
  }

  /** @param {LessonStep | null} step */
  body(step) {
    if (this.error) {
      const refused = this.error.status === 422;
      return [
        createElement("p", {
          className: "guide-error",
          "data-testid": "guide-error",
          text: refused
            ? `${capitalized(this.error.message)}. ${lessonById(this.lesson).load} to walk it on the lesson's own network.`
            : `The guide could not be read: ${this.error.message}`,
        }),
      ];
    }
    const guide = this.guide;
    if (!guide) return [createElement("p", { className: "hint", text: "Reading the lesson's steps…" })];
    return [this.stepList(guide), step ? this.stepView(guide, step) : this.introduction(guide)];
  }

  /** @param {Guide} guide */
  stepList(guide) {
    const items = guide.steps.map((step, index) => {
      const button = createElement("button", {
        type: "button",
        className: "guide-goto",
        "data-testid": `guide-goto-${step.id}`,
        disabled: this.busy || !step.available,
        title: step.available ? `Show ${step.title}` : `Needs phase ${phaseText(step.phase)}: press Next`,
        text: step.title,
      });
      button.addEventListener("click", () => this.show(index));
      return createElement(
        "li",
        {
          className: `${step.available ? "available" : "pending"}${index === this.index ? " shown" : ""}`,
          "aria-current": index === this.index ? "step" : null,
        },
        [button],
      );
    });
    return createElement("ol", { className: "guide-steps", "data-testid": "guide-steps" }, items);
  }

  /** @param {Guide} g */
  batchLine(g) {
    const rows = g.batch_indices.length ? `rows ${g.batch_indices.join(", ")}` : "no batch open";
    return createElement("p", {
      className: "guide-batch hint",
      text: `Batch step ${g.step}, epoch ${g.epoch} · ${rows} · phases run ${g.phases_run} of ${g.n_phases}`,
    });
  }

  /** @param {Guide} guide */
  introduction(guide) {
    const first = guide.steps[0];
    return createElement("article", { className: "guide-step", "data-testid": "guide-step" }, [
      createElement("h3", { text: capitalized(lessonById(this.lesson).title) }),
      createElement("p", { text: lessonById(this.lesson).introduction }),
      createElement("p", {
        className: "hint",
        text: `Next runs phase ${phaseText(first.phase)} and shows “${first.title}”.`,
      }),
      this.batchLine(guide),
    ]);
  }

  /**
   * @param {Guide} guide
   * @param {LessonStep} step
   */
  stepView(guide, step) {
    const where =
      step.part === "update"
        ? "every layer's weights (the update)"
        : step.layer === null
          ? "the loss, after the output"
          : `${this.describeLayer(step.layer)}, ${step.part} pass`;
    const children = [
      createElement("h3", { text: `${this.index + 1} / ${guide.steps.length} · ${step.title}` }),
      createElement("p", { className: "formula guide-formula", "data-testid": "guide-formula", text: step.formula }),
      createElement("p", { className: "guide-explanation", text: step.explanation }),
      createElement("p", {
        className: "guide-where hint",
        text: `In the diagram: ${where} · computed by phase ${phaseText(step.phase)}.`,
      }),
      this.batchLine(guide),
    ];
    if (!step.available) {
      children.push(
        createElement("p", {
          className: "guide-pending",
          text: `Not computed yet in this batch: it needs phase ${phaseText(step.phase)} — Next runs it.`,
        }),
      );
    } else {
      const values = Object.entries(step.values).map(([name, value]) => valueBlock(name, value));
      children.push(createElement("div", { className: "guide-values", "data-testid": "guide-values" }, values));
    }
    return createElement(
      "article",
      { className: "guide-step", "data-testid": "guide-step", "data-step-id": step.id },
      children,
    );
  }
}
