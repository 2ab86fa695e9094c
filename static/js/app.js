// @ts-check
// The page's controller: one session at a time, its socket, and the views it feeds. Controls
// call its verbs (play, step, setHyperparameters, rebuild …); the socket calls its handlers.
// A page opened by a watch link is read-only: its verbs refuse and it never sends a command.
import { api } from "./api.js";
import { ClassControls, ClassSocket } from "./classroom.js";
import { StudentQuestions, studentName } from "./predict.js";
import { Controls } from "./controls.js";
import { FirstRun } from "./first-run.js";
import { planeOf } from "./forward.js";
import { NetworkEditor } from "./network-editor.js";
import { setChartTextScale } from "./plotly.js";
import { PresenterMode } from "./presenter.js";
import { ShareLinks, parseFragment, setupFragment, setupRequest, urlWith, watchFragment } from "./share.js";
import { LiveSocket } from "./socket.js";
import { ViewScheduler } from "./scheduler.js";
import { PlaygroundState, isDrawable } from "./state.js";
import { StudyPanels } from "./study/panels.js";
import { TeachingPanel } from "./teaching.js";
import { GradientsView } from "./views/gradients.js";
import { HeatmapsView } from "./views/heatmaps.js";
import { MetricsView } from "./views/metrics.js";
import { NetworkDiagram } from "./views/network.js";
import { ImagesView } from "./views/images.js";
import { OutputView } from "./views/output.js";
import { StatusView } from "./views/status.js";
/** @import { PageElements } from "./dom.js" */
/** @import { ClassMessage, DataConfig, PageConfig, Dataset, ErrorMessage, EventMessage, Frame, HelloMessage, LayerSpec, ModelConfig, Preset, SessionKeys, SessionRequest, SessionState } from "./protocol.js" */
/** @import { ConnectionState } from "./socket.js" */
/** @import { ScheduledView } from "./scheduler.js" */
/** @import { Shape } from "./views/heatmaps.js" */

const STATS_INTERVAL_MS = 500;
// The diagram and the output are redrawn with every frame. Curves gain a point per frame and
// are redrawn 5 times a second, the spread of the gradients 4 times, and the heatmaps (three
// Plotly figures a layer) 12 times a second all together: each costs a Plotly redraw of
// 10–20 ms on a small machine, and more would starve the frames.
const LINE_CHART_INTERVAL_MS = 200;
const DISTRIBUTION_INTERVAL_MS = 250;
const HEATMAP_REDRAWS_PER_SECOND = 12;
const HEATMAP_MIN_INTERVAL_MS = 250;
// The image panel (the digits): 33 small canvases, a millisecond or two, 10 times a second.
const IMAGES_INTERVAL_MS = 100;
const PAUSE_WAIT_MS = 5000; // a guide step waits this long at most for play to stop
const DATA_OPTIONS_OPEN_FROM = 800; // px of window height
const PRESENTER_CHART_TEXT = 1.6; // chart text in presenter mode, as the page's type grows
const WATCHING_NOTICE = "This page is watching the teacher's session: it is read-only.";
// This tab's own session (id, tokens, the setup link it was shown under): a reload, or a phone
// that dropped the tab, goes back to the same run instead of starting a new one at step 0.
const RUN_KEY = "playground.run";

/**
 * The shape of a network as the views draw it: inputs and [{units, activation}].
 * @param {string[]} featureNames
 * @param {LayerSpec[]} layers
 */
function shapeKey(featureNames, layers) {
  return JSON.stringify([featureNames.length, layers.map((layer) => layer.units)]);
}

export class Playground {
  /**
   * @param {PageElements} elements
   * @param {PageConfig} pageConfig
   */
  constructor(elements, pageConfig) {
    this.elements = elements;
    this.pageConfig = pageConfig;
    this.state = new PlaygroundState();
    this.status = new StatusView(elements);
    this.readOnly = false; // a watch link: nothing on this page may change the session
    /** @type {Preset[]} */
    this.presets = [];
    this.teaching = new TeachingPanel(elements, {
      session: () => this.sessionInfo(),
      readOnly: () => this.readOnly,
      actions: {
        step: (unit) => this.stepAndWait(unit),
        loadPreset: (preset) => this.createSession({ preset }),
      },
      layerCount: () => this.state.config?.model.layers.length ?? 0,
      onHighlight: (step) => this.network.setGuideHighlight(step),
      notify: (message, kind) => this.status.notify(message, kind),
    });
    this.presenter = new PresenterMode(elements, {
      onChange: () => this.presenterChanged(),
      onPace: () => this.repace(),
    });
    this.study = new StudyPanels({
      session: () => this.state.session,
      summary: () => this.state.summary(),
      inputCount: () => this.state.config?.model.input_size ?? 0,
      focus: (layer, i, j) => this.onDiagramClick(layer, i, j),
      readOnly: () => this.readOnly,
      notify: (message, kind) => this.status.notify(message, kind),
      student: () => (this.following ? studentName() : null),
    });
    this.firstRun = new FirstRun(elements, { onDone: () => this.repace() });
    this.share = new ShareLinks(elements, {
      links: { watch: () => this.watchUrl(), setup: () => this.setupUrl() },
      notify: (message, kind) => this.status.notify(message, kind),
    });
    this.classControls = new ClassControls(elements, {
      session: () => this.state.session,
      notify: (message, kind) => this.status.notify(message, kind),
      nextPhase: () => this.state.frame?.next_phase ?? null,
      highlight: (layer, i, j) => this.network.setSelected([layer, i, j]),
      maxRounds: pageConfig.question_max_rounds,
    });
    /** @type {{ code: string, socket: ClassSocket, version: number, questions: StudentQuestions } | null} a student's class */
    this.following = null;
    this.ended = false; // a watch page whose session or class has ended: it says so and stays
    this.writtenHash = "";
    this.network = new NetworkDiagram(elements.networkDiagram, {
      onClick: (layer, i, j) => this.onDiagramClick(layer, i, j),
      onEdit: () => this.editSelected(),
      onAsk: () => this.askAboutSelected(),
      gridMargin: pageConfig.grid_margin,
    });
    // Escape in "set this value" goes back to the diagram, where the keyboard walk was.
    elements.editParameterForm.addEventListener("keydown", (event) => {
      if (event.key === "Escape") elements.networkDiagram.focus();
    });
    this.heatmaps = new HeatmapsView(elements.layerHeatmaps);
    this.metrics = new MetricsView(elements.lossChart, {
      train: elements.trainLossReadout,
      test: elements.testLossReadout,
      accuracy: elements.accuracyReadout,
      accuracyLegend: elements.accuracyLegend,
    });
    this.output = new OutputView(elements.outputChart, { gridMargin: pageConfig.grid_margin });
    this.images = new ImagesView(elements.imagePanel);
    this.gradients = new GradientsView(elements.gradNormChart, elements.gradDistChart);
    this.editor = new NetworkEditor(elements.networkEditor, elements.addLayerButton, {
      activations: pageConfig.activations,
      outputOnly: pageConfig.output_only_activations,
      features: pageConfig.features,
      maxLayers: pageConfig.max_layers,
      maxUnits: pageConfig.max_units,
      onLayersChange: (layers) => this.rebuild({ layers }),
      onActivationChange: (k, name) => this.setActivation(k, name),
      onFeaturesChange: (features) => this.controls.changeData({ features }),
    });
    this.controls = new Controls(elements, this);
    this.socket = new LiveSocket(
      {
        onHello: (message) => this.onHello(message),
        onFrame: (frame) => this.onFrame(frame),
        onEvent: (message) => this.onEvent(message),
        onError: (message) => this.onError(message),
        onStatus: (state, detail) => this.onStatus(state, detail),
      },
      { subscription: () => ({ max_fps: pageConfig.frame_rate }) },
    );
    this.scheduler = this.scheduleViews();
    /** @type {ScheduledView[]} */
    this.heatmapViews = [];
    /** @type {string | null} the network's shape as drawn (shapeKey) */
    this.shape = null;
    window.playgroundStats = this.socket.stats;
    // For tests and the curious: break the connection as a network fault would; send a raw
    // command past the page's own checks (a watch page's is refused by the server).
    window.playgroundDebug = {
      dropConnection: () => this.socket.simulateDrop(),
      send: (message) => this.socket.send(message),
    };
    setInterval(() => this.status.showStats(this.socket.stats), STATS_INTERVAL_MS);
    if (new URLSearchParams(location.search).has("debug")) document.body.classList.add("debug");
    // A short screen (a 768-px projector) starts with the data panel folded to what is
    // needed: the preset and the dataset.
    if (window.innerHeight < DATA_OPTIONS_OPEN_FROM) elements.dataOptions.open = false;
    // Panels that fill the screen below the sticky top bar need its height (it grows in
    // presenter mode and when a banner opens).
    new ResizeObserver(() => {
      document.documentElement.style.setProperty("--topbar-height", `${elements.topbar.offsetHeight}px`);
    }).observe(elements.topbar);
  }

  /** The Plotly views, drawn within each animation frame's budget (see scheduler.js). */
  scheduleViews() {
    const scheduler = new ViewScheduler(this.socket.stats);
    /** @param {Frame} frame */
    const weights = (frame) => this.drawableFrame(frame);
    const e = this.elements;
    scheduler.add({
      name: "network",
      element: e.networkDiagram,
      always: true,
      ingest: (frame) => this.network.ingest(weights(frame)),
      draw: () => this.network.draw(),
    });
    scheduler.add({
      name: "output",
      element: e.outputChart,
      ingest: (frame) => this.output.ingest(weights(frame)),
      draw: () => this.output.draw(),
    });
    scheduler.add({
      name: "images",
      element: e.imagePanel,
      minIntervalMs: IMAGES_INTERVAL_MS,
      ingest: (frame) => this.images.ingest(weights(frame)),
      draw: () => this.images.draw(),
    });
    scheduler.add({
      name: "metrics",
      element: e.lossChart,
      minIntervalMs: LINE_CHART_INTERVAL_MS,
      ingest: (frame) => this.metrics.ingest(frame),
      draw: () => this.metrics.draw(),
    });
    scheduler.add({
      name: "gradient-norms",
      element: e.gradNormChart,
      minIntervalMs: LINE_CHART_INTERVAL_MS,
      ingest: (frame) => this.gradients.ingest(weights(frame)),
      draw: () => this.gradients.drawNorms(),
    });
    scheduler.add({
      name: "gradient-spread",
      element: e.gradDistChart,
      minIntervalMs: DISTRIBUTION_INTERVAL_MS,
      ingest: () => {},
      draw: () => this.gradients.drawDistribution(),
    });
    return scheduler;
  }

  /**
   * Each heatmap is its own view: drawn when in sight, the most stale first.
   * @param {Shape[]} shapes
   */
  scheduleHeatmaps(shapes) {
    for (const entry of this.heatmapViews) this.scheduler.remove(entry);
    const figures = this.heatmaps.setStructure(shapes);
    const share = (1000 * figures.length) / HEATMAP_REDRAWS_PER_SECOND;
    const interval = Math.max(HEATMAP_MIN_INTERVAL_MS, share);
    this.heatmapViews = figures.map(({ k, figure }) =>
      this.scheduler.add({
        name: figure.element.id,
        kind: "heatmap",
        element: figure.element,
        minIntervalMs: interval,
        ingest: (frame) => this.heatmaps.ingest(this.drawableFrame(frame)),
        draw: () => this.heatmaps.drawFigure(k, figure),
      }),
    );
  }

  /**
   * The frame with the last good weights when its own diverged (counters stay its own).
   * @param {Frame} frame
   * @returns {Frame}
   */
  drawableFrame(frame) {
    if (isDrawable(frame) || !this.state.lastGood) return frame;
    return { ...this.state.lastGood, phase: frame.phase, step: frame.step, epoch: frame.epoch };
  }

  /** The URL's fragment decides: watch a session, rebuild a shared setup, or the default. */
  async start() {
    const [presets, datasets] = await Promise.all([api.listPresets(), api.listDatasets()]);
    this.presets = presets;
    this.controls.setCatalog(presets, datasets);
    const link = parseFragment(location.hash);
    this.writtenHash = location.hash;
    // A link pasted into this tab changes only the fragment: start again from it.
    window.addEventListener("hashchange", () => {
      if (location.hash !== this.writtenHash) location.reload();
    });
    if (link.kind === "watch") {
      await this.watchSession(link.id, link.token);
      return;
    }
    if (link.kind === "class") {
      this.followClass(link.code);
      return;
    }
    if (link.kind !== "bad" && (await this.resumeRun())) return;
    const fallback = "starting the default preset instead";
    if (link.kind === "bad") this.status.notify(`${link.message}; ${fallback}.`);
    if (link.kind === "setup") {
      /** @param {string} message */
      const failure = (message) => `The setup link could not be used (${message}); ${fallback}.`;
      if (await this.createSession(link.request, { failure })) return;
    }
    await this.createSession({ preset: this.pageConfig.default_preset });
  }

  /** The tab was reloaded on the setup link of its own session: back to that run, where it
   *  is now (the server kept it). False when there is none, or the server no longer has it. */
  async resumeRun() {
    let kept = null;
    try {
      kept = JSON.parse(sessionStorage.getItem(RUN_KEY) || "null");
    } catch {
      kept = null;
    }
    if (!kept || kept.hash !== location.hash || !kept.id || !kept.token) return false;
    let state;
    try {
      state = await api.getSession(kept.id, kept.token);
    } catch {
      sessionStorage.removeItem(RUN_KEY); // gone (expired, deleted): a new session instead
      return false;
    }
    this.state.setSession(kept, state);
    this.teaching.sessionChanged();
    this.writeSetupUrl();
    this.socket.connect(kept.id, kept.token);
    this.resumeClass();
    this.status.notify(`Back to your run: epoch ${state.epoch}, step ${state.step}.`, "info");
    return true;
  }

  /** A teacher's tab reloaded with a class open: the class moves to the session now shown. */
  async resumeClass() {
    await this.classControls.resume();
  }

  // ----- sessions -----------------------------------------------------------------------

  /**
   * A new session from a create request; its socket replaces the old one. True if made.
   * @param {SessionRequest} request
   * @param {{ failure?: (message: string) => string }} [options] how a refusal is said
   */
  async createSession(request, { failure = (message) => message } = {}) {
    if (this.refuseWhileWatching()) return false;
    this.controls.setBusy(true);
    try {
      const created = await api.createSession(request);
      const replaced = this.state.session;
      this.state.setSession(created, created.state);
      this.teaching.sessionChanged();
      this.writeSetupUrl();
      this.socket.connect(created.id, created.token);
      if (replaced) this.retire(replaced);
      else this.resumeClass();
      return true;
    } catch (error) {
      this.status.notify(failure(error.message));
      this.controls.sync(this.state.config); // put the controls back as the session is
      return false;
    } finally {
      this.controls.setBusy(false);
    }
  }

  /** The class follows the new session first; then the old one goes, so a watch link to it
   *  says it has ended instead of showing a session nobody drives any more.
   * @param {SessionKeys} old
   */
  async retire(old) {
    await this.classControls.sessionChanged();
    api.deleteSession(old.id, old.token).catch(() => {}); // gone already: nothing to retire
  }

  /**
   * Follow someone else's session, read-only (a watch link, or a class's current one).
   * @param {string} id
   * @param {string} token its watch token
   */
  async watchSession(id, token) {
    this.setReadOnly();
    try {
      const state = await api.getSession(id, token);
      this.state.setSession({ id, token, watch_token: token }, state);
      this.teaching.sessionChanged();
      this.socket.connect(id, token);
      return true;
    } catch (error) {
      if (!this.following) {
        this.showEnded("this session has ended", `This watch link does not open a session: ${error.message}`);
      }
      return false;
    }
  }

  /**
   * A student's class link: follow whatever session the teacher shows, read-only.
   * @param {string} code
   */
  followClass(code) {
    this.setReadOnly();
    this.elements.classBadge.textContent = `Class ${code}`;
    this.elements.classBadge.hidden = false;
    const socket = new ClassSocket({
      onMessage: (message) => this.onClassMessage(message),
      onGone: () =>
        this.showEnded("no such class", `There is no class ${code} on this server: check the code with your teacher.`),
      onOpen: () => this.following?.questions.resume(), // an answer given before a reload
    });
    const questions = new StudentQuestions({
      code,
      send: (message) => socket.send(message),
      highlight: (layer, i, j) => this.network.setSelected([layer, i, j]),
    });
    this.following = { code, socket, version: 0, questions };
    socket.connect(code);
  }

  /** @param {ClassMessage} message */
  async onClassMessage(message) {
    const following = this.following;
    if (!following) return; // only a student's page follows a class
    if (message.type !== "class") return following.questions.onMessage(message); // predict, then reveal
    if (message.ended) {
      following.socket.close();
      this.showEnded("the class has ended", `The teacher ended class ${following.code}.`);
      return;
    }
    if (message.version <= following.version || message.session_id === this.state.session?.id) {
      following.version = Math.max(following.version, message.version);
      return;
    }
    const first = following.version === 0;
    following.version = message.version;
    if (!first) following.questions.hide();
    if (!(await this.watchSession(message.session_id, message.watch_token))) return;
    if (!first) {
      const preset = this.state.config?.preset;
      this.status.notify(`The teacher switched to a new session${preset ? ` (${preset})` : ""}: following it.`, "info");
    }
  }

  /** The page watched a session that is gone (or a class that ended): it says so, plainly,
   *  and stops reconnecting; what it showed last stays on screen.
   * @param {string} detail
   * @param {string} message
   */
  showEnded(detail, message) {
    this.ended = true;
    this.socket.close();
    this.status.showConnection("ended", detail);
    this.state.connection = "ended";
    this.state.publish();
    this.status.notify(message, "info");
  }

  /** Every control that would change the session is disabled, and the verbs refuse. */
  setReadOnly() {
    this.readOnly = true;
    document.body.classList.add("watching");
    document.body.dataset.role = "watch";
    this.elements.watchBadge.hidden = false;
    this.controls.setReadOnly(true);
    this.editor.setReadOnly(true);
    this.teaching.setReadOnly();
  }

  /** True (and says so) when this page only watches. */
  refuseWhileWatching() {
    if (!this.readOnly) return false;
    this.status.notify(WATCHING_NOTICE, "info");
    return true;
  }

  sessionInfo() {
    const session = this.state.session;
    if (!session) return null;
    const config = this.state.config;
    return { id: session.id, token: session.token, preset: config?.preset ?? null, model: config?.model ?? null };
  }

  // ----- links --------------------------------------------------------------------------

  watchUrl() {
    const session = this.state.session;
    return session ? urlWith(watchFragment(session.id, session.watch_token)) : null;
  }

  setupUrl() {
    const config = this.state.config;
    return config ? urlWith(setupFragment(setupRequest(config, this.presets))) : null;
  }

  /** The address bar always holds the setup link of what is shown (never on a watch page). */
  writeSetupUrl() {
    const { config, session } = this.state;
    if (this.readOnly || !config || !session) return;
    const hash = `#${setupFragment(setupRequest(config, this.presets))}`;
    if (location.hash !== hash) history.replaceState(history.state, "", hash);
    this.writtenHash = location.hash;
    const { id, token, watch_token } = session;
    sessionStorage.setItem(RUN_KEY, JSON.stringify({ id, token, watch_token, hash: location.hash }));
    if (!this.elements.sharePanel.hidden) this.share.update();
  }

  /**
   * A new session like this one with some of the model (and data) changed.
   * @param {{ layers?: LayerSpec[] | null, model?: Partial<ModelConfig>, data?: DataConfig | null }} [changes]
   */
  rebuild({ layers = null, model = {}, data = null } = {}) {
    if (this.refuseWhileWatching()) return Promise.resolve(false);
    const current = this.state.shownConfig();
    const { input_size: _inputSize, ...currentModel } = current.model; // the data decides it
    const request = {
      model: { ...currentModel, ...model, ...(layers ? { layers } : {}) },
      data: data ?? current.data,
    };
    return this.createSession(request);
  }

  // ----- commands -----------------------------------------------------------------------

  playSettings() {
    if (this.presenter.on) return this.presenter.playSettings();
    const unit = this.elements.stepUnit.value;
    const speed = this.elements.speed.value;
    return this.firstRun.playSettings({ unit, rate: speed === "max" ? null : Number(speed) });
  }

  play() {
    if (this.refuseWhileWatching()) return;
    if (this.refuseWhileOffline()) return;
    this.state.wantPlaying = true;
    this.socket.send({ type: "play", ...this.playSettings() });
  }

  pause() {
    if (this.refuseWhileWatching()) return;
    this.state.wantPlaying = false;
    this.socket.send({ type: "pause" });
  }

  togglePlay() {
    if (this.refuseWhileWatching()) return;
    if (this.state.frame?.playing || this.state.wantPlaying) this.pause();
    else this.play();
  }

  /** New pace or unit while playing: play again, the server re-paces. */
  repace() {
    if (this.state.wantPlaying && !this.readOnly) this.play();
  }

  step() {
    if (this.refuseWhileWatching()) return;
    if (this.refuseWhileOffline()) return;
    this.state.wantPlaying = false; // a step pauses play
    const unit = this.presenter.on ? "phase" : this.elements.stepUnit.value;
    this.socket.send({ type: "step", unit, count: 1 });
  }

  /**
   * One unit over REST, once play has stopped: the lesson guide needs the answer in order.
   * @param {string} unit
   */
  async stepAndWait(unit) {
    if (this.refuseWhileWatching()) return null;
    if (this.state.frame?.playing || this.state.wantPlaying) {
      this.pause();
      await this.untilPaused();
    }
    const { id, token } = this.state.shownSession();
    const result = await api.stepSession(id, token, unit, 1);
    if (result.diverged) this.status.showDivergence(result.diverged);
    return result;
  }

  untilPaused() {
    const started = performance.now();
    return new Promise((resolve) => {
      const check = () => {
        if (!this.state.frame?.playing || performance.now() - started > PAUSE_WAIT_MS) resolve(undefined);
        else setTimeout(check, 30);
      };
      check();
    });
  }

  /** @param {number | null} [seed] */
  reset(seed = null) {
    if (this.refuseWhileWatching()) return;
    if (this.refuseWhileOffline()) return;
    this.state.wantPlaying = false;
    this.socket.send(seed === null ? { type: "reset" } : { type: "reset", seed });
  }

  /** Hyperparameters (PATCH): take effect at the next step, playing or not; weights stay.
   *  Refused ones leave the controls showing the session as it is.
   * @param {Record<string, unknown>} changes
   */
  async setHyperparameters(changes) {
    if (this.refuseWhileWatching()) return;
    const { id, token } = this.state.shownSession();
    try {
      const state = await api.updateSession(id, token, changes);
      this.state.config = state.config;
      this.state.publish();
      this.writeSetupUrl();
    } catch (error) {
      this.status.notify(error.message);
    }
    this.controls.sync(this.state.config);
    this.editor.render(this.state.shownDataset().feature_names.length, this.state.shownConfig().model.layers);
  }

  /**
   * @param {number} k
   * @param {string} name
   */
  setActivation(k, name) {
    return this.setHyperparameters({ activations: { [k]: name } });
  }

  /**
   * @param {number} layer
   * @param {number | null} i
   * @param {number | null} j
   */
  onDiagramClick(layer, i, j) {
    this.network.setSelected(layer >= 0 ? [layer, i, j] : null);
    this.teaching.select(layer, i, j);
    this.classControls.questions.pick(layer, i, j);
    this.following?.questions.pick(layer, i, j);
  }

  /** The keyboard's E on the diagram (after its click): focus "set this value", or say why not. */
  editSelected() {
    const form = this.elements.editParameterForm;
    if (form.hidden) {
      this.status.notify(
        this.readOnly ? WATCHING_NOTICE : "Only a weight or a bias can be set: move to a link or a neuron.",
        "info",
      );
      return;
    }
    this.elements.editParameterValue.focus();
    this.elements.editParameterValue.select();
  }

  /** The keyboard's A on the diagram (after its click): on to the class question's button. */
  askAboutSelected() {
    const button = ["predict-ask", "predict-send"]
      .map((id) => /** @type {HTMLButtonElement | null} */ (document.getElementById(id)))
      .find((element) => element && !element.closest("[hidden]") && !element.disabled);
    if (button) button.focus();
    else this.status.notify("No class question to ask or answer now: open a class first.", "info");
  }

  /** Presenter mode on or off: play at its pace, charts follow their new boxes. */
  presenterChanged() {
    setChartTextScale(this.presenter.on ? PRESENTER_CHART_TEXT : 1);
    this.repace();
    window.dispatchEvent(new Event("resize")); // Plotly's responsive charts listen for it
    this.scheduler.redrawAll();
  }

  // ----- socket handlers ----------------------------------------------------------------

  /**
   * @param {ConnectionState} connection
   * @param {string} [detail]
   */
  onStatus(connection, detail) {
    if (this.ended) return;
    this.state.connection = connection;
    this.state.publish();
    this.status.showConnection(connection, detail);
    this.controls.setOffline(connection !== "live");
  }

  /** True (and says so) while the session's socket is down: a verb sent now would be lost. */
  refuseWhileOffline() {
    if (this.state.connection === "live") return false;
    this.status.notify("The server cannot be reached: nothing was sent. The page reconnects by itself.");
    return true;
  }

  /** @param {HelloMessage} message */
  onHello(message) {
    this.state.role = message.role;
    this.showState(message.state, message.dataset);
    if (this.readOnly) return;
    if (this.state.wantPlaying && !message.state.playing && !message.state.diverged) {
      this.play(); // the connection dropped while playing: carry on
    }
  }

  /**
   * A whole state (hello, reset) replaces what the page shows.
   * @param {SessionState} sessionState
   * @param {Dataset | null} [dataset]
   */
  showState(sessionState, dataset = null) {
    const frame = this.state.fromState(sessionState, dataset);
    const shown = this.state.shownDataset();
    const config = this.state.shownConfig();
    const { feature_names: featureNames } = shown;
    const layers = config.model.layers;
    const key = shapeKey(featureNames, layers);
    if (key !== this.shape || dataset) {
      this.shape = key;
      this.network.setStructure(featureNames, layers);
      this.network.setPlane(shown);
      const shapes = frame.layers.map((layer) => ({ inputs: layer.W.length, units: layer.W[0].length }));
      this.scheduleHeatmaps(shapes);
      this.gradients.setStructure(layers.length);
      this.output.setData(shown, this.state.task);
      this.images.setData(shown, layers[0]?.units ?? 0);
      this.teaching.clear();
    }
    const data = config.data;
    const onPlane = Boolean(data.dataset) && planeOf(shown) !== null;
    this.editor.setFeatures(onPlane ? (data.features ?? ["x1", "x2"]) : null);
    this.editor.render(featureNames.length, layers);
    this.controls.sync(config);
    if (dataset && config.data.upload) this.controls.showScaling(shown);
    this.metrics.reset(sessionState.history, this.state.task !== "regression");
    this.gradients.reset();
    this.network.setMode(this.elements.diagramMode.value);
    if (sessionState.diverged) this.status.showDivergence(sessionState.diverged);
    else this.status.hideDivergence();
    this.writeSetupUrl(); // a reset may have drawn a new seed
    this.firstRun.offer(frame, !this.readOnly);
    this.draw(frame);
  }

  /** @param {Frame} frame */
  onFrame(frame) {
    this.state.applyFrame(frame);
    this.firstRun.see(frame);
    if (frame.diverged) {
      this.state.wantPlaying = false;
      this.status.showDivergence(frame.diverged);
    }
    this.draw(frame);
  }

  /**
   * Every view from one frame; diverged weights are never drawn: the last good ones stay.
   * @param {Frame} frame
   */
  draw(frame) {
    this.status.showCounters(frame);
    this.status.showPlaying(Boolean(frame.playing));
    this.teaching.render(this.drawableFrame(frame));
    this.scheduler.apply(frame);
  }

  /** @param {EventMessage} message */
  onEvent(message) {
    switch (message.event) {
      case "diverged":
        this.state.wantPlaying = false;
        this.status.showDivergence(message.message);
        break;
      case "reset":
        this.status.hideDivergence();
        if (message.state) this.showState(message.state);
        break;
      case "changed":
        this.applyChanges(message.detail || {});
        break;
      case "playing":
        this.state.wantPlaying = true;
        break;
      case "paused":
      case "stopped":
        if (message.detail?.reason !== "step") this.state.wantPlaying = false;
        if (message.event === "stopped") this.status.notify(message.message, "info");
        break;
      case "limit":
        this.status.notify(message.message, "info");
        break;
      case "recovered": // the session's worker restarted (docs/protocol.md); a hello follows
        this.state.wantPlaying = false;
        this.status.notify(message.message, "info");
        break;
      case "deleted":
        this.state.wantPlaying = false;
        if (this.following) break; // the class says where the teacher went
        if (this.readOnly) {
          this.showEnded(
            "this session has ended",
            "The teacher replaced or closed this session, so this watch link has ended. A class link always follows the teacher's current session.",
          );
        } else this.status.notify(message.message);
        break;
      default:
        throw new Error(`unknown event from the server: ${JSON.stringify(message.event)}`);
    }
  }

  /**
   * Someone else (another tab, a REST call) changed hyperparameters: show them.
   * @param {Record<string, any>} detail
   */
  applyChanges(detail) {
    if (detail.kind !== "set" || !this.state.config) return;
    // A weight typed by hand (parameter) reaches the views with the next frame.
    const { activations, parameter: _parameter, ...simple } = detail.changes || {};
    Object.assign(this.state.config.model, simple);
    if (activations) {
      const layers = this.state.config.model.layers;
      const pairs = Array.isArray(activations) ? activations.entries() : Object.entries(activations);
      for (const [k, name] of pairs) if (layers[Number(k)]) layers[Number(k)].activation = name;
      this.editor.render(this.state.shownDataset().feature_names.length, layers);
    }
    this.controls.sync(this.state.config);
    this.writeSetupUrl();
  }

  /** @param {ErrorMessage} message */
  onError(message) {
    if (message.command === "play" || message.command === "step") this.state.wantPlaying = false;
    if (this.readOnly) {
      const what = message.command ? `“${message.command}”` : "that command";
      this.status.notify(`This page only watches, so the server refused ${what}: ${message.message}.`, "info");
      return;
    }
    this.status.notify(message.message);
  }
}
