// @ts-check
// The teaching panel: two tabs — the chain-rule inspector (what was clicked in the diagram)
// and the lesson guide — both kept current as frames arrive.
import { LessonGuide } from "./guide.js";
import { api } from "./api.js";
import { ChainInspector } from "./inspector.js";
import { layerTitle } from "./words.js";
/** @import { PageElements } from "./dom.js" */
/** @import { GuideActions, GuideHighlight, SessionInfo } from "./guide.js" */
/** @import { Frame } from "./protocol.js" */
/** @import { Notify } from "./views/status.js" */

const PHONE_LAYOUT = "(max-width: 1000px)"; // screens.css's one-column layout
const TAP_CLICKS_MS = 400; // a tap's last click comes before this (a mouse has no more)

/** Plotly's responsive charts follow their containers on a window resize only. */
function resizeCharts() {
  window.dispatchEvent(new Event("resize"));
}

export class TeachingPanel {
  /**
   * elements: the page's elements (tabs, the inspector's slot, the guide's controls);
   * session(): {id, token, preset}; readOnly(); actions: step(unit), loadPreset(id);
   * layerCount(); onHighlight(guideStep | null); notify(message).
   * @param {PageElements} elements
   * @param {object} options
   * @param {() => SessionInfo | null} options.session
   * @param {() => boolean} options.readOnly
   * @param {GuideActions} options.actions
   * @param {() => number} options.layerCount
   * @param {(highlight: GuideHighlight | null) => void} options.onHighlight
   * @param {Notify} options.notify
   */
  constructor(elements, { session, readOnly, actions, layerCount, onHighlight, notify }) {
    this.e = elements;
    /** @type {number | null} */
    this.lastVersion = null;
    /** @param {number} k */
    const describeLayer = (k) => layerTitle(k, layerCount());
    this.inspector = new ChainInspector(elements.teachingContent, { session, describeLayer, layerCount });
    this.guide = new LessonGuide(
      {
        panel: elements.guidePanel,
        lesson: elements.guideLesson,
        prev: elements.guidePrev,
        next: elements.guideNext,
        runEpoch: elements.guideRunEpoch,
        load: elements.guideLoadLesson,
        content: elements.guideContent,
        status: elements.guideStatus,
      },
      {
        session,
        readOnly,
        actions,
        describeLayer,
        notify,
        onHighlight: (step) => {
          elements.teachingPanel.dataset.guideStep = elements.guidePanel.dataset.guideStep || "";
          onHighlight(step);
        },
      },
    );
    this.tabs = [
      { name: "inspector", tab: elements.tabInspector, panel: elements.teachingContent },
      { name: "guide", tab: elements.tabGuide, panel: elements.guidePanel },
    ];
    for (const { name, tab } of this.tabs) tab.addEventListener("click", () => this.showTab(name));
    elements.teachingPanel.addEventListener("keydown", (event) => this.arrowKeys(event));
    elements.drawerCloseButton.addEventListener("click", () => this.closeDrawer());
    this.readOnly = readOnly;
    this.notify = notify;
    this.session = session;
    /** @type {{ layer: number, i: number | null, j: number | null } | null} what the edit form sets */
    this.editing = null;
    elements.editParameterForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.setParameter();
    });
    this.tab = "inspector";
  }

  /** @param {string} name "inspector" or "guide" */
  showTab(name) {
    if (name === this.tab) return;
    this.tab = name;
    for (const entry of this.tabs) {
      const selected = entry.name === name;
      entry.tab.setAttribute("aria-selected", selected ? "true" : "false");
      entry.tab.tabIndex = selected ? 0 : -1;
      entry.panel.hidden = !selected;
    }
    this.e.teachingPanel.dataset.tab = name;
    if (name === "guide") this.guide.open();
    else {
      this.guide.close();
      this.e.teachingPanel.dataset.guideStep = "";
    }
  }

  /**
   * ← and → move between the tabs, as a tab list does.
   * @param {KeyboardEvent} event
   */
  arrowKeys(event) {
    if (!this.tabs.some(({ tab }) => tab === event.target)) return;
    if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
    const next = this.tab === "inspector" ? "guide" : "inspector";
    this.showTab(next);
    this.tabs.find(({ name }) => name === next)?.tab.focus();
  }

  /**
   * A click on the diagram (see NetworkDiagram's onClick).
   * @param {number} layer
   * @param {number | null} i
   * @param {number | null} j
   */
  select(layer, i, j) {
    this.showTab("inspector");
    this.inspector.select(layer, i, j);
    this.openBeside();
    this.offerEdit(layer, i, j);
  }

  /** The selected weight or bias can be typed in (TF Playground's click-to-edit); not on a
   *  watch page, not for an input.
   * @param {number} layer
   * @param {number | null} i
   * @param {number | null} j
   */
  offerEdit(layer, i, j) {
    const form = this.e.editParameterForm;
    const frameLayer = this.inspector.frame?.layers[layer];
    const bias = i === null || i === undefined;
    if (this.readOnly() || layer < 0 || !frameLayer || (bias && !frameLayer.b) || j === null) {
      form.hidden = true;
      this.editing = null;
      return;
    }
    this.editing = { layer, i: bias ? null : i, j };
    const current = bias ? /** @type {number[]} */ (frameLayer.b)[j] : frameLayer.W[i][j];
    this.e.editParameterLabel.textContent = bias
      ? `Set b[${j}] of layer ${layer} to`
      : `Set W[${i}→${j}] of layer ${layer} to`;
    this.e.editParameterValue.value = String(Number(current.toPrecision(6)));
    form.hidden = false;
  }

  async setParameter() {
    const session = this.session();
    const value = Number(this.e.editParameterValue.value);
    if (!this.editing || !session || !Number.isFinite(value)) return;
    try {
      await api.setParameter(session.id, session.token, { ...this.editing, value });
      this.notify(`${this.e.editParameterLabel.textContent.replace(/^Set /, "").replace(/ to$/, "")} is now ${value}.`, "info");
    } catch (error) {
      this.notify(`The value was refused: ${error.message}`);
    }
  }

  /** Beside the views: a drawer where the panel would sit below them (CSS decides: beside
   *  the network on a desk, a sheet over the screen's lower part on a phone, where the
   *  diagram then starts at the screen's top, above the sheet). */
  openBeside() {
    const opened = !this.e.teachingPanel.classList.contains("drawer");
    this.e.teachingPanel.classList.add("drawer");
    if (!window.matchMedia(PHONE_LAYOUT).matches) {
      if (opened) resizeCharts(); // the network's column narrows beside the drawer
      this.e.teachingPanel.scrollIntoView({ block: "nearest" });
      return;
    }
    // A tap is Plotly's synthetic clicks, then the browser's own: the page scrolls once they
    // are over, or the last one would land, scrolled, on another weight.
    const scroll = () => {
      clearTimeout(timer);
      window.removeEventListener("click", lastClick, true);
      this.e.networkDiagram.scrollIntoView({ block: "start" });
    };
    /** @param {MouseEvent} event */
    const lastClick = (event) => event.isTrusted && setTimeout(scroll);
    const timer = setTimeout(scroll, TAP_CLICKS_MS);
    window.addEventListener("click", lastClick, true);
  }

  closeDrawer() {
    this.e.teachingPanel.classList.remove("drawer");
    resizeCharts();
  }

  /** A new network shape: what was selected no longer exists. */
  clear() {
    this.inspector.clear();
    this.e.editParameterForm.hidden = true;
    this.editing = null;
    this.e.teachingContent.replaceChildren(this.e.teachingHint);
  }

  /** Another session is shown (created, or opened by a watch link). */
  sessionChanged() {
    this.lastVersion = null;
    this.guide.sessionChanged();
  }

  /**
   * Every frame: when the session changed, what is shown is fetched again (throttled).
   * @param {Frame} frame
   */
  render(frame) {
    this.inspector.frame = frame;
    if (frame.version === this.lastVersion) return;
    this.lastVersion = frame.version;
    this.inspector.refresh(frame);
    this.guide.refresh();
  }

  setReadOnly() {
    this.guide.render();
  }
}
