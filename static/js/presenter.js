// @ts-check
// Presenter mode, for a projector: large type, the controls folded into one bar (play/pause,
// a phase step, the pace), and play in slow motion one phase at a time at the teacher's pace.
/** @import { PageElements } from "./dom.js" */

export class PresenterMode {
  /** elements: presenterButton, pace, paceValue; onChange(on) after a toggle; onPace() after
   *  the pace moved.
   * @param {Pick<PageElements, "presenterButton" | "pace" | "paceValue">} elements
   * @param {{ onChange: (on: boolean) => void, onPace: () => void }} handlers
   */
  constructor(elements, { onChange, onPace }) {
    this.e = elements;
    this.onChange = onChange;
    this.onPace = onPace;
    this.on = false;
    elements.presenterButton.addEventListener("click", () => this.toggle());
    elements.pace.addEventListener("input", () => this.showPace());
    elements.pace.addEventListener("change", () => this.onPace());
    this.showPace();
  }

  toggle() {
    this.set(!this.on);
  }

  /** @param {boolean} on */
  set(on) {
    if (on === this.on) return;
    this.on = on;
    document.body.classList.toggle("presenter", on);
    this.e.presenterButton.setAttribute("aria-pressed", on ? "true" : "false");
    // A toggle keeps its name; aria-pressed (and its look, screens.css) says it is on.
    this.e.presenterButton.title = on ? "Leave presenter mode (p)" : "Large type for a projector (p)";
    this.onChange(on);
  }

  /** Seconds each phase stays on screen while playing. */
  secondsPerPhase() {
    const seconds = Number(this.e.pace.value);
    return Number.isFinite(seconds) && seconds > 0 ? seconds : 1;
  }

  /** The play command's settings in presenter mode: phases, at the teacher's pace. */
  playSettings() {
    return { unit: "phase", rate: 1 / this.secondsPerPhase() };
  }

  showPace() {
    this.e.paceValue.textContent = `${this.secondsPerPhase()} s`;
  }
}
