// @ts-check
// A fetch that follows the live session: asked for on every frame, run at most a few times a
// second, the newest answer wins. One request at a time — a frame that arrives meanwhile only
// marks the answer stale, so a slow server is asked again when it answers, never flooded.

const DEFAULT_INTERVAL_MS = 250; // at most 4 requests a second

/** @template Answer */
export class LatestLoader {
  /**
   * load(signal) → Promise of an answer; onResult(answer) shows it; onError(error) says why
   * it failed (an aborted request is neither: a newer one replaced it).
   * @param {(signal: AbortSignal) => Promise<Answer>} load
   * @param {{ onResult: (answer: Answer) => void, onError: (error: any) => void, minIntervalMs?: number }} handlers
   */
  constructor(load, { onResult, onError, minIntervalMs = DEFAULT_INTERVAL_MS }) {
    this.load = load;
    this.onResult = onResult;
    this.onError = onError;
    this.minIntervalMs = minIntervalMs;
    this.ticket = 0; // the latest run: an answer from an older one is dropped
    /** @type {AbortController | null} */
    this.controller = null;
    this.inFlight = false;
    this.stale = false; // asked for since the last run started
    /** @type {number | undefined} */
    this.timer = undefined;
    this.lastStart = -Infinity;
  }

  /** Something changed: load again soon (throttled). */
  request() {
    this.stale = true;
    this.pump();
  }

  /** Load now, dropping whatever is pending or in flight (it answers an older question). */
  now() {
    this.cancel();
    return this.run();
  }

  /** Forget everything pending; an answer in flight is aborted and never shown. */
  cancel() {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.stale = false;
    this.ticket += 1;
    this.controller?.abort();
    this.controller = null;
    this.inFlight = false;
  }

  pump() {
    if (this.inFlight || this.timer || !this.stale) return;
    const wait = Math.max(0, this.lastStart + this.minIntervalMs - performance.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.stale) this.run();
    }, wait);
  }

  /**
   * One load; resolves to its answer, or null when it failed or a newer one replaced it.
   * @returns {Promise<Answer | null>}
   */
  async run() {
    this.stale = false;
    const ticket = ++this.ticket;
    const controller = new AbortController();
    this.controller = controller;
    this.inFlight = true;
    this.lastStart = performance.now();
    try {
      const answer = await this.load(controller.signal);
      if (ticket !== this.ticket) return null;
      this.onResult(answer);
      return answer;
    } catch (error) {
      if (ticket !== this.ticket || error.name === "AbortError") return null;
      this.onError(error);
      return null;
    } finally {
      if (ticket === this.ticket) {
        this.controller = null;
        this.inFlight = false;
        this.pump();
      }
    }
  }
}
