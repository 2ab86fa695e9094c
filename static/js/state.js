// @ts-check
// The page's one copy of the session: who it is, its config and data, and the latest frame.
// `window.playgroundState` mirrors the summary so tests and the console can read it.

import { pageConfig } from "./config.js";
/** @import { Dataset, Frame, Phase, SessionConfig, SessionKeys, SessionState, Task } from "./protocol.js" */

/**
 * ‖M‖ (Frobenius) of a 2-D array, or null.
 * @param {number[][] | null | undefined} rows
 */
export function frobeniusNorm(rows) {
  if (!rows) return null;
  let sum = 0;
  for (const row of rows) for (const value of row) sum += value * value;
  return Math.sqrt(sum);
}

/**
 * The REST state (`GET /api/sessions/{id}`, the hello's `state`) in the shape of a frame, so
 * every view draws both the same way. The state's `phase` is the *next* phase.
 * @param {SessionState} state
 * @returns {Frame}
 */
export function frameFromState(state) {
  const rows = pageConfig().delta_rows; // as the protocol's frames: a batch's first rows of δ
  const layers = state.layers.map((layer) => ({
    ...layer,
    delta: layer.delta ? layer.delta.slice(0, rows) : undefined,
    grad_norm: layer.dW ? frobeniusNorm(layer.dW) : null,
  }));
  return {
    seq: null,
    version: state.version,
    step: state.step,
    epoch: state.epoch,
    phase: null,
    next_phase: state.phase,
    playing: state.playing,
    loss: state.loss,
    test_loss: state.test_loss,
    accuracy: state.accuracy,
    test_accuracy: state.test_accuracy,
    batch_loss: state.batch_loss,
    diverged: state.diverged,
    history_point: state.history?.at(-1) ?? null,
    layers,
    grad_norms: layers.map((layer) => layer.grad_norm),
    boundary: null,
  };
}

/**
 * The layer a phase works on (forward or backward k), else null.
 * @param {Phase | null | undefined} phase
 */
export function activeLayerOf(phase) {
  if (!phase || (phase.kind !== "forward" && phase.kind !== "backward")) return null;
  return phase.layer;
}

/**
 * True when a frame's weights can be drawn: not diverged, no NaN sent as null.
 * @param {Frame} frame
 */
export function isDrawable(frame) {
  if (frame.diverged) return false;
  return frame.layers.every((layer) => layer.W.every((row) => row.every((v) => v !== null)));
}

/** @typedef {ReturnType<PlaygroundState["summary"]>} StateSummary */

export class PlaygroundState {
  constructor() {
    /** @type {SessionKeys | null} */
    this.session = null;
    /** @type {string | null} */
    this.role = null;
    /** @type {SessionConfig | null} */
    this.config = null;
    /** @type {Task | null} */
    this.task = null;
    /** @type {Dataset | null} as GET /api/sessions/{id}/dataset */
    this.dataset = null;
    /** @type {Frame | null} the latest applied frame */
    this.frame = null;
    /** @type {Frame | null} the latest frame whose weights could be drawn */
    this.lastGood = null;
    this.wantPlaying = false; // the user's intent: survives a reconnect
    this.connection = "connecting";
    this.publish();
  }

  /**
   * @param {SessionKeys} session
   * @param {SessionState} state
   */
  setSession(session, state) {
    this.session = { id: session.id, token: session.token, watch_token: session.watch_token };
    this.lastGood = null; // another session's weights are never "the last good ones"
    this.fromState(state);
  }

  /**
   * The hello's (or a REST answer's) state replaces the local one.
   * @param {SessionState} state
   * @param {Dataset | null} [dataset]
   */
  fromState(state, dataset = null) {
    this.config = state.config;
    this.task = state.task;
    if (dataset) this.dataset = dataset;
    this.frame = frameFromState(state);
    this.lastGood = isDrawable(this.frame) ? this.frame : this.lastGood;
    this.publish();
    return this.frame;
  }

  /** The session shown; the page changes a session only once one is shown. */
  shownSession() {
    if (!this.session) throw new Error("no session is shown yet");
    return this.session;
  }

  /** The config of the session shown (see shownSession). */
  shownConfig() {
    if (!this.config) throw new Error("no session is shown yet");
    return this.config;
  }

  /** The data of the session shown: the hello brings it. */
  shownDataset() {
    if (!this.dataset) throw new Error("the session's data has not come yet");
    return this.dataset;
  }

  /** @param {Frame} frame */
  applyFrame(frame) {
    this.frame = frame;
    if (isDrawable(frame)) this.lastGood = frame;
    this.publish();
  }

  summary() {
    const frame = this.frame;
    return {
      sessionId: this.session?.id ?? null,
      token: this.session?.token ?? null,
      connection: this.connection,
      role: this.role,
      preset: this.config?.preset ?? null,
      dataset: this.dataset?.name ?? null,
      task: this.task,
      layers: this.config ? this.config.model.layers.map((layer) => ({ ...layer })) : [],
      seq: frame?.seq ?? null,
      version: frame?.version ?? null,
      step: frame?.step ?? 0,
      epoch: frame?.epoch ?? 0,
      loss: frame?.loss ?? null,
      testLoss: frame?.test_loss ?? null,
      accuracy: frame?.accuracy ?? null,
      phase: frame?.phase ?? null,
      nextPhase: frame?.next_phase ?? null,
      activeLayer: activeLayerOf(frame?.phase),
      playing: Boolean(frame?.playing),
      diverged: frame?.diverged ?? null,
    };
  }

  publish() {
    window.playgroundState = this.summary();
  }
}
