// @ts-check
// The small things around the charts: counters, connection state, the frame-rate readout,
// the divergence banner and the notice line for errors.

import { phaseText } from "../words.js";
/** @import { PageElements } from "../dom.js" */
/** @import { Frame } from "../protocol.js" */
/** @import { FrameStats } from "../socket.js" */

/** @typedef {keyof typeof CONNECTION_TEXT} Connection */
/** @typedef {(message: string, kind?: "error" | "info") => void} Notify tells the user something */
const CONNECTION_TEXT = {
  connecting: "connecting…",
  live: "live",
  reconnecting: "reconnecting…",
  closed: "disconnected",
  ended: "ended",
};
const NOTICE_SECONDS = 8;


export class StatusView {
  /** @param {PageElements} elements */
  constructor(elements) {
    this.elements = elements;
    /** @type {number | undefined} */
    this.noticeTimer = undefined;
  }

  /** @param {Frame} frame */
  showCounters(frame) {
    const { epochReadout, stepReadout, phaseReadout } = this.elements;
    epochReadout.textContent = String(frame.epoch).padStart(3, "0");
    stepReadout.textContent = String(frame.step);
    phaseReadout.textContent = frame.phase ? phaseText(frame.phase) : `next: ${phaseText(frame.next_phase)}`;
  }

  /** @param {boolean} playing */
  showPlaying(playing) {
    const button = this.elements.playButton;
    button.setAttribute("aria-pressed", playing ? "true" : "false");
    button.setAttribute("aria-label", playing ? "Pause" : "Play");
    button.classList.toggle("playing", playing);
  }

  /**
   * @param {Connection} state
   * @param {string} [detail]
   */
  showConnection(state, detail = "") {
    const element = this.elements.connectionStatus;
    element.dataset.state = state;
    element.textContent = detail ? `${CONNECTION_TEXT[state]} (${detail})` : CONNECTION_TEXT[state];
  }

  /** @param {FrameStats} stats */
  showStats(stats) {
    const { p50 } = stats.lagPercentiles();
    this.elements.fpsReadout.textContent = `${stats.fps} fps · lag ${Math.round(p50)} ms`;
    this.elements.statsReadout.textContent =
      `frames received ${stats.received}, applied ${stats.applied}, ` +
      `replaced before drawing ${stats.dropped}`;
  }

  /** @param {string} message */
  showDivergence(message) {
    this.elements.bannerMessage.textContent = message;
    this.elements.divergenceBanner.hidden = false;
  }

  hideDivergence() {
    this.elements.divergenceBanner.hidden = true;
  }

  /**
   * A message the user should read (an API error, a refused command); fades after a while.
   * @param {string} message
   * @param {"error" | "info"} [kind]
   */
  notify(message, kind = "error") {
    const notice = this.elements.notice;
    notice.textContent = message;
    notice.dataset.kind = kind;
    notice.hidden = false;
    clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(() => {
      notice.hidden = true;
    }, NOTICE_SECONDS * 1000);
  }
}
