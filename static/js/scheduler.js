// @ts-check
// Draws the views within each animation frame's time budget, so the page keeps taking every
// frame the server sends however many charts are on screen.
//
// Every frame is taken in by every view at once (cheap: counters, the diagram's active layer,
// a point appended to a curve). The Plotly redraws then run: the diagram always (it carries
// the phase being run), the others most-stale first while the budget lasts, judged by what
// each took before; what does not fit is drawn on a later animation frame. A view scrolled
// out of sight is not redrawn until it comes back into view.

const BUDGET_MS = 12; // of a 33 ms frame at 30 frames/s: the browser's paint needs the rest
const SAME_FRAME_MS = 8; // calls this close together share one animation frame's budget

/** @import { FrameStats } from "./socket.js" */
/** @import { Frame } from "./protocol.js" */

/**
 * @typedef {object} View
 * @property {string} name
 * @property {string} [kind] views of one kind share a cost estimate
 * @property {Element} element
 * @property {(frame: Frame) => void} ingest
 * @property {() => void} draw
 * @property {boolean} [always]
 * @property {number} [minIntervalMs]
 */
/** @typedef {View & { dirty: boolean, visible: boolean, drawnAt: number }} ScheduledView */

export class ViewScheduler {
  /** @param {FrameStats} stats */
  constructor(stats) {
    this.stats = stats;
    /** @type {ScheduledView[]} */
    this.views = [];
    this.scheduled = false;
    this.budgetStart = -Infinity;
    this.observer = new IntersectionObserver((entries) => this.visibilityChanged(entries), {
      rootMargin: "100px",
    });
    this.drawPending = this.drawPending.bind(this);
  }

  /**
   * view: {name, kind?, element, ingest(frame), draw(), always?, minIntervalMs?}; views of
   * one kind (the heatmaps) share a cost estimate. `always` views are
   * drawn on every frame whatever the budget; a view with `minIntervalMs` is redrawn at most
   * that often (a curve gaining one point per frame needs no 30 redraws a second), its data
   * still taken from every frame.
   * @param {View} view
   * @returns {ScheduledView}
   */
  add(view) {
    // Not visible until the observer says so (it reports every element once, at once).
    const entry = { ...view, dirty: false, visible: false, drawnAt: 0 };
    this.views.push(entry);
    this.observer.observe(view.element);
    return entry;
  }

  /**
   * Stop drawing a view (its figure is gone).
   * @param {ScheduledView} entry
   */
  remove(entry) {
    this.observer.unobserve(entry.element);
    this.views = this.views.filter((view) => view !== entry);
  }

  /** @param {IntersectionObserverEntry[]} entries */
  visibilityChanged(entries) {
    for (const change of entries) {
      const view = this.views.find((candidate) => candidate.element === change.target);
      if (view) view.visible = change.isIntersecting;
    }
    this.schedule();
  }

  /**
   * A new frame: every view takes it in now; the redraws follow the budget.
   * @param {Frame} frame
   */
  apply(frame) {
    for (const view of this.views) {
      view.ingest(frame);
      view.dirty = true;
    }
    this.drawPending();
  }

  /** Mark every view for redrawing (a mode change) and draw. */
  redrawAll() {
    for (const view of this.views) view.dirty = true;
    this.drawPending();
  }

  /**
   * @param {ScheduledView} view
   * @param {number} now
   */
  due(view, now) {
    return view.dirty && view.visible && now - view.drawnAt >= (view.minIntervalMs ?? 0);
  }

  drawPending() {
    this.scheduled = false;
    const now = performance.now();
    if (now - this.budgetStart > SAME_FRAME_MS) this.budgetStart = now;
    const started = this.budgetStart;
    const waiting = this.views
      .filter((view) => this.due(view, now))
      .sort((a, b) => Number(Boolean(b.always)) - Number(Boolean(a.always)) || a.drawnAt - b.drawnAt);
    let drewOptional = false;
    for (const view of waiting) {
      const spent = performance.now() - started;
      const expected = this.stats.viewMs[view.kind ?? view.name] ?? 0;
      // At least one optional view per animation frame, so none waits for ever.
      if (!view.always && drewOptional && spent + expected > BUDGET_MS) {
        this.stats.deferred += 1;
        continue;
      }
      this.stats.time(view.kind ?? view.name, () => view.draw());
      if (!view.always) drewOptional = true;
      view.dirty = false;
      view.drawnAt = performance.now();
    }
    this.schedule();
  }

  /** Another animation frame while a visible view still waits for its redraw. */
  schedule() {
    if (this.scheduled) return;
    const waiting = this.views.filter((view) => view.dirty && view.visible);
    if (!waiting.length) return;
    this.scheduled = true;
    const now = performance.now();
    const wait = Math.min(...waiting.map((view) => view.drawnAt + (view.minIntervalMs ?? 0) - now));
    if (wait <= 0) requestAnimationFrame(this.drawPending);
    else setTimeout(() => requestAnimationFrame(this.drawPending), wait); // a throttled view
  }
}
