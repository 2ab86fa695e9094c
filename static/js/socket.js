// @ts-check
// The live socket (docs/protocol.md): connects, reconnects with exponential backoff, and hands
// frames to the page at display rate. Only the latest unapplied frame is kept: a frame is the
// whole state, so an older one that was never drawn has nothing left to show.

import { closeCode } from "./config.js";
/** @import { ErrorMessage, EventMessage, FrameMessage, HelloMessage, ServerMessage } from "./protocol.js" */

const RECONNECT_FIRST_MS = 500;
const RECONNECT_MAX_MS = 10_000;
const LAG_SAMPLES = 600; // lags kept for percentiles (20 s at 30 frames/s)

/** Frames received / applied, and how far behind the server the page draws them. */
export class FrameStats {
  constructor() {
    this.received = 0;
    this.applied = 0;
    this.dropped = 0; // received but replaced by a newer frame before it was drawn
    this.lagMs = 0; // the last applied frame's lag
    /** @type {number[]} */
    this.lags = [];
    this.fps = 0; // frames applied in the last second
    /** @type {number[]} */
    this.appliedTimes = [];
    this.deferred = 0; // redraws put off to a later animation frame by the time budget
    /** @type {Record<string, number>} per view: a moving average of the time it takes to draw a frame */
    this.viewMs = {};
  }

  /**
   * Run `draw` and fold its duration into the view's average.
   * @param {string} view
   * @param {() => void} draw
   */
  time(view, draw) {
    const started = performance.now();
    draw();
    const took = performance.now() - started;
    const previous = this.viewMs[view];
    this.viewMs[view] = previous === undefined ? took : 0.9 * previous + 0.1 * took;
  }

  /** @param {boolean} replacedPending */
  noteReceived(replacedPending) {
    this.received += 1;
    if (replacedPending) this.dropped += 1;
  }

  /**
   * @param {number} lagMs
   * @param {number} now ms since the epoch
   */
  noteApplied(lagMs, now) {
    this.applied += 1;
    this.lagMs = lagMs;
    this.lags.push(lagMs);
    if (this.lags.length > LAG_SAMPLES) this.lags.shift();
    this.appliedTimes.push(now);
    while (this.appliedTimes.length && now - this.appliedTimes[0] > 1000) this.appliedTimes.shift();
    this.fps = this.appliedTimes.length;
  }

  /** Median and 95th percentile of the recent lags, in ms. */
  lagPercentiles() {
    if (!this.lags.length) return { p50: 0, p95: 0 };
    const sorted = [...this.lags].sort((a, b) => a - b);
    /** @param {number} q */
    const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
    return { p50: at(0.5), p95: at(0.95) };
  }
}

/** @typedef {"connecting" | "live" | "reconnecting" | "closed"} ConnectionState */

/**
 * @typedef {object} LiveHandlers
 * @property {(message: HelloMessage) => void} onHello
 * @property {(frame: FrameMessage) => void} onFrame
 * @property {(message: EventMessage) => void} onEvent
 * @property {(message: ErrorMessage) => void} onError
 * @property {(state: ConnectionState, detail?: string) => void} onStatus
 */

/** One socket on one session at a time. */
export class LiveSocket {
  /**
   * @param {LiveHandlers} handlers
   * @param {{ subscription?: () => object }} [options]
   */
  constructor(handlers, { subscription = () => ({}) } = {}) {
    this.handlers = handlers;
    this.subscription = subscription; // the subscribe message's fields, asked on every open
    this.stats = new FrameStats();
    /** @type {WebSocket | null} */
    this.socket = null;
    /** @type {{ id: string, token: string } | null} */
    this.target = null;
    this.attempt = 0;
    /** @type {number | undefined} */
    this.reconnectTimer = undefined;
    /** @type {FrameMessage | null} */
    this.pendingFrame = null;
    this.frameRequested = false;
    this.nextCommandId = 1;
    this.applyPending = this.applyPending.bind(this);
  }

  /**
   * @param {string} sessionId
   * @param {string} token
   */
  connect(sessionId, token) {
    this.close();
    this.target = { id: sessionId, token };
    this.attempt = 0;
    this.open();
  }

  open() {
    if (!this.target) return;
    const { id, token } = this.target;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const path = `/ws/sessions/${encodeURIComponent(id)}?token=${encodeURIComponent(token)}`;
    const url = `${scheme}://${location.host}${path}`;
    this.handlers.onStatus(this.attempt ? "reconnecting" : "connecting");
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.addEventListener("open", () => {
      if (socket === this.socket) this.send({ type: "subscribe", ...this.subscription() });
    });
    socket.addEventListener("message", (event) => {
      if (socket === this.socket) this.receive(JSON.parse(event.data));
    });
    socket.addEventListener("close", (event) => {
      if (socket === this.socket) this.closed(event);
    });
  }

  /** @param {CloseEvent} event */
  closed(event) {
    this.socket = null;
    const code = closeCode(event.code);
    if (code?.final) {
      this.target = null; // the server's close codes: retrying would be refused again
      this.handlers.onStatus("closed", event.reason || code.meaning);
      return;
    }
    if (!this.target) return;
    const delay = Math.min(RECONNECT_FIRST_MS * 2 ** this.attempt, RECONNECT_MAX_MS);
    this.attempt += 1;
    this.handlers.onStatus("reconnecting", `retrying in ${(delay / 1000).toFixed(1)} s`);
    this.reconnectTimer = setTimeout(
      () => {
        this.reconnectTimer = undefined;
        if (this.target) this.open();
      },
      delay * (0.8 + 0.4 * Math.random()),
    ); // jitter: many pages don't retry in step
  }

  /** Stop for good (a new session, or the page going away). */
  close() {
    this.target = null;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.pendingFrame = null;
    if (this.socket) {
      const socket = this.socket;
      this.socket = null;
      socket.close(1000, "client closed");
    }
  }

  /** Drop the connection as a network fault would, to exercise reconnecting. */
  simulateDrop() {
    if (this.socket) this.socket.close(4000, "dropped on purpose");
  }

  get connected() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  /**
   * Send a command; returns its id (echoed by an `error` reply), or null when offline.
   * @param {{ type: string } & Record<string, unknown>} message
   */
  send(message) {
    if (!this.connected || !this.socket) return null;
    const id = this.nextCommandId++;
    this.socket.send(JSON.stringify({ ...message, id }));
    return id;
  }

  /** @param {ServerMessage} message */
  receive(message) {
    switch (message.type) {
      case "hello":
        this.attempt = 0;
        this.pendingFrame = null; // the hello's state replaces anything older
        this.handlers.onStatus("live");
        this.handlers.onHello(message);
        break;
      case "frame":
        message.receivedAt = Date.now();
        this.stats.noteReceived(this.pendingFrame !== null);
        this.pendingFrame = message;
        if (!this.frameRequested) {
          this.frameRequested = true;
          requestAnimationFrame(this.applyPending);
        }
        break;
      case "event":
        if (message.event === "reset") this.pendingFrame = null;
        this.handlers.onEvent(message);
        break;
      case "error":
        this.handlers.onError(message);
        break;
      default:
        throw new Error(`unknown message type from the server: ${JSON.stringify(/** @type {{ type: unknown }} */ (message).type)}`);
    }
  }

  applyPending() {
    this.frameRequested = false;
    const frame = this.pendingFrame;
    if (!frame) return;
    this.pendingFrame = null;
    const now = Date.now();
    const sentAt = typeof frame.t === "number" ? frame.t : (frame.receivedAt ?? now); // receive() sets it
    this.stats.noteApplied(Math.max(0, now - sentAt), now);
    this.handlers.onFrame(frame);
  }
}
