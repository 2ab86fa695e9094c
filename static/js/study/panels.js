// @ts-check
// The study section (issue 13): rewind and branch, compare, grade, coach, hand checks. The
// playground hands it what it may read and call; nothing else on the page knows these panels.
import { CoachPanel } from "./coach.js";
import { ComparePanel } from "./compare.js";
import { GraderPanel } from "./grader.js";
import { HandCheckPanel } from "./handcheck.js";
import { Scrubber } from "./scrubber.js";
/** @import { SessionKeys } from "../protocol.js" */
/** @import { StateSummary } from "../state.js" */
/** @import { Notify } from "../views/status.js" */

/**
 * What the study panels may read and call.
 * @typedef {object} StudyContext
 * @property {() => SessionKeys | null} session
 * @property {Notify} notify
 * @property {(layer: number, i: number | null, j: number | null) => void} focus select in the inspector
 * @property {() => boolean} readOnly
 * @property {() => number} inputCount
 * @property {() => number} layerCount
 * @property {(id: string, token: string) => Promise<void>} compareWith
 * @property {() => string | null} student in a class, the name its student answers under:
 *   sent with hand checks and grades, for the teacher's lesson record
 */

const TICK_MS = 1000;

export class StudyPanels {
  /**
   * host: session(): {id, token, watch_token} | null; summary(): the page's state summary;
   * inputCount(); focus(layer, i, j): select in the inspector; readOnly(); notify(message, kind).
   * @param {object} host
   * @param {() => SessionKeys | null} host.session
   * @param {() => StateSummary} host.summary
   * @param {() => number} host.inputCount
   * @param {StudyContext["focus"]} host.focus
   * @param {() => boolean} host.readOnly
   * @param {Notify} host.notify
   * @param {() => string | null} host.student
   */
  constructor(host) {
    /** @type {StudyContext} */
    const context = {
      session: () => host.session(),
      notify: (message, kind) => host.notify(message, kind),
      focus: (layer, i, j) => host.focus(layer, i, j),
      readOnly: () => host.readOnly(),
      inputCount: () => host.inputCount(),
      layerCount: () => host.summary().layers.length,
      compareWith: (id, token) => this.compare.compareWith(id, token),
      student: () => host.student(),
    };
    this.compare = new ComparePanel(context);
    this.scrubber = new Scrubber(context);
    this.grader = new GraderPanel(context);
    this.coach = new CoachPanel(context);
    this.handcheck = new HandCheckPanel(context);
    setInterval(() => {
      if (!host.session()) return;
      const summary = host.summary();
      // An ended session (a watch link whose session was replaced) has nothing to coach.
      if (summary.connection !== "ended") this.coach.tick(summary);
    }, TICK_MS);
  }
}
