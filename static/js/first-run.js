// @ts-check
// A student's first Play shows backprop: the first batch runs one phase at a time (forward
// layer by layer, the loss, backward layer by layer, the update), then play goes on at the
// chosen unit and speed. Once per browser: the tab's storage remembers it was shown.

/** @import { PageElements } from "./dom.js" */
/** @import { Frame } from "./protocol.js" */

const SHOWN_KEY = "playground.firstBatchShown";
const PHASES_PER_SECOND = 1.5; // 8 phases of the default network: about 5 s

function remembered() {
  try {
    return localStorage.getItem(SHOWN_KEY) === "1";
  } catch {
    return true; // storage refused (a private window's policy): never hold a student back
  }
}

function remember() {
  try {
    localStorage.setItem(SHOWN_KEY, "1");
  } catch {
    // nothing to keep it in: the next visit shows the first batch again
  }
}

/** @typedef {{ unit: string, rate: number | null }} PlaySettings a play command's pace */

export class FirstRun {
  /** elements: firstRunHint (the hint), firstRunText, firstRunSkip (its button);
   *  onDone() once the slow first batch is over or skipped, to play on at the chosen pace.
   * @param {Pick<PageElements, "firstRunHint" | "firstRunText" | "firstRunSkip">} elements
   * @param {{ onDone: () => void }} handlers
   */
  constructor(elements, { onDone }) {
    this.e = elements;
    this.onDone = onDone;
    this.active = false; // waiting for the first batch to end
    this.slow = false; // play is running it in slow motion now
    elements.firstRunSkip.addEventListener("click", () => this.finish());
  }

  /** A session is shown: a new run of a page that can play (step 0, nothing run yet) offers
   *  the slow first batch, unless this browser has seen it.
   * @param {Frame} frame
   * @param {boolean} canPlay
   */
  offer(frame, canPlay) {
    this.active = canPlay && frame.step === 0 && !frame.phase && !remembered();
    this.slow = false;
    this.show("Press Play: the first batch plays phase by phase — forward, loss, backward, update.");
  }

  /**
   * Play's settings: the first batch phase by phase while active, else the chosen ones.
   * @param {PlaySettings} chosen
   * @returns {PlaySettings}
   */
  playSettings(chosen) {
    if (!this.active) return chosen;
    this.slow = true;
    this.show("Slow motion: forward → loss → backward → update, then the speed you chose.");
    return { unit: "phase", rate: PHASES_PER_SECOND };
  }

  /**
   * Each frame: the first update done ends the slow batch.
   * @param {Frame} frame
   */
  see(frame) {
    if (this.active && this.slow && frame.step >= 1) this.finish();
  }

  finish() {
    if (!this.active) return;
    this.active = false;
    remember();
    this.e.firstRunHint.hidden = true;
    if (this.slow) this.onDone();
    this.slow = false;
  }

  /** @param {string} text */
  show(text) {
    this.e.firstRunText.textContent = text;
    this.e.firstRunHint.hidden = !this.active;
  }
}
