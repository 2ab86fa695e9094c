// @ts-check
// Rewind: a scrubber over the run's batch steps and a batch's phases; each position is the
// session exactly as it was (GET …/at), boundary and weights. Branch from it (POST …/branch).
import { pageConfig } from "../config.js";
import { studyApi } from "./api.js";
import { byId, drawBoundary, format, row } from "./dom.js";
/** @import { StudyContext } from "./panels.js" */
/** @import { FrameLayer, Moment, Timeline } from "../protocol.js" */

const BOUNDARY_RESOLUTION = 30;
const SCRUB_DELAY_MS = 120; // a drag asks for the moment it stops at, not every one it passes

export class Scrubber {
  /** @param {StudyContext} context */
  constructor(context) {
    this.context = context;
    this.load = byId("scrubber-load");
    this.extent = byId("scrubber-extent");
    this.stepInput = byId("scrubber-step", HTMLInputElement);
    this.phaseSelect = byId("scrubber-phase", HTMLSelectElement);
    this.momentReadout = byId("scrubber-moment");
    this.boundary = byId("scrubber-boundary");
    this.layers = byId("scrubber-layers");
    this.branchButton = byId("branch-button", HTMLButtonElement);
    this.branchRate = byId("branch-learning-rate", HTMLInputElement);
    this.branchActivation = byId("branch-activation", HTMLSelectElement);
    /** @type {Timeline | null} */
    this.timeline = null;
    /** @type {Moment | null} the moment shown */
    this.moment = null;
    /** @type {number | undefined} */
    this.timer = undefined;
    const { activations, output_only_activations: outputOnly } = pageConfig();
    for (const name of activations) {
      if (!outputOnly.includes(name)) this.branchActivation.append(new Option(name, name));
    }
    this.load.addEventListener("click", () => this.loadTimeline());
    this.stepInput.addEventListener("input", () => this.scheduleShow());
    this.phaseSelect.addEventListener("change", () => this.scheduleShow());
    this.branchButton.addEventListener("click", () => this.branch());
  }

  async loadTimeline() {
    const session = this.context.session();
    if (!session) return;
    let timeline;
    try {
      timeline = await studyApi.getTimeline(session.id, session.token);
    } catch (error) {
      this.context.notify(`Rewind: ${error.message}`);
      return;
    }
    this.timeline = timeline;
    const { epochs, phases, now, start } = timeline;
    const first = epochs[0].first_step + start.batch;
    const lastRun = epochs[epochs.length - 1];
    const last = lastRun.first_step + (lastRun.epochs - 1) * lastRun.batches + now.batch;
    this.stepInput.min = String(first);
    this.stepInput.max = String(last);
    this.stepInput.value = String(last);
    this.stepInput.disabled = this.phaseSelect.disabled = false;
    this.phaseSelect.replaceChildren(
      ...phases.map((phase, k) => new Option(`${k}: ${phase.kind}${phase.layer === null ? "" : ` ${phase.layer}`}`, String(k))),
    );
    this.phaseSelect.value = String(now.phase);
    this.extent.textContent = `steps ${first}…${last} · ${timeline.checkpoints} checkpoints`;
    this.branchButton.disabled = false;
    await this.show();
  }

  /** The (epoch, batch) of a batch step: the epoch it falls in, from the runs of epochs of
   * equal length (GET …/timeline's `epochs`).
   * @param {Timeline} timeline
   * @param {number} step
   * @param {number} phase
   * @returns {Moment}
   */
  momentOf(timeline, step, phase) {
    const runs = timeline.epochs;
    let run = runs[0];
    for (const candidate of runs) if (candidate.first_step <= step) run = candidate;
    const k = run.batches ? Math.min(run.epochs - 1, Math.floor((step - run.first_step) / run.batches)) : 0;
    return { epoch: run.epoch + k, batch: step - run.first_step - k * run.batches, phase };
  }

  scheduleShow() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.show(), SCRUB_DELAY_MS);
  }

  async show() {
    const session = this.context.session();
    if (!session || !this.timeline) return;
    const moment = this.momentOf(this.timeline, Number(this.stepInput.value), Number(this.phaseSelect.value));
    const twoInputs = this.context.inputCount() === 2;
    let answer;
    try {
      answer = await studyApi.getMoment(session.id, session.token, moment, twoInputs ? BOUNDARY_RESOLUTION : null);
    } catch (error) {
      this.moment = null;
      if (error.status === 429) {
        // The replay pool is full (a class scrubbing at once): ask again when the server says.
        this.momentReadout.textContent = "The server is busy replaying: trying again…";
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.show(), 1000 * (error.retryAfter ?? 1));
        return;
      }
      this.momentReadout.textContent = error.message;
      return;
    }
    this.moment = moment;
    const state = answer.state;
    this.momentReadout.textContent =
      `epoch ${moment.epoch}, batch ${moment.batch}, before ${state.phase.kind}` +
      `${state.phase.layer === null ? "" : ` ${state.phase.layer}`} · loss ${format(state.loss, 4)}`;
    this.momentReadout.dataset.step = String(state.step);
    if (answer.boundary) drawBoundary(this.boundary, answer.boundary, `step ${state.step}`);
    this.showLayers(state.layers);
  }

  /** @param {FrameLayer[]} layers */
  showLayers(layers) {
    const table = document.createElement("table");
    table.className = "study-table";
    table.append(row(["layer", "W", "∂L/∂W"], { header: true }));
    for (const layer of layers) {
      const weights = layer.W.map((r) => r.map((v) => format(v, 3)).join(" ")).join(" | ");
      const grads = layer.dW ? layer.dW.map((r) => r.map((v) => format(v, 3)).join(" ")).join(" | ") : "–";
      const tr = row([`${layer.index} (${layer.activation})`, weights, grads]);
      tr.dataset.layer = String(layer.index);
      table.append(tr);
    }
    this.layers.replaceChildren(table);
  }

  async branch() {
    const session = this.context.session();
    const moment = this.moment; // the scrubber may move (or fail to) while the branch is made
    if (!session || !moment) return;
    /** @type {Record<string, unknown>} */
    const changes = {};
    const rate = Number(this.branchRate.value);
    if (rate > 0) changes.learning_rate = rate;
    const activation = this.branchActivation.value;
    if (activation) {
      const hidden = this.context.layerCount() - 1;
      changes.activations = Object.fromEntries([...Array(hidden).keys()].map((k) => [String(k), activation]));
    }
    try {
      const created = await studyApi.branch(session.id, session.token, { ...moment, changes });
      this.context.notify(`Branched at epoch ${moment.epoch}, batch ${moment.batch}: session B.`, "info");
      await this.context.compareWith(created.id, created.token);
    } catch (error) {
      this.context.notify(`Branch: ${error.message}`);
    }
  }
}
