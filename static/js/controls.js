// @ts-check
// The controls: each input says what it changes. Hyperparameters are changed in place (the
// weights stay, playing goes on); data, initialiser and the network's shape build a new
// session with the same settings.
import { api } from "./api.js";
import { lossFits, pageConfig } from "./config.js";
import { createElement } from "./dom.js";
import { formatNumber } from "./words.js";
/** @import { PageElements } from "./dom.js" */
/** @import { BuiltinDataset, DataConfig, Dataset, DatasetList, LayerSpec, ModelConfig, Preset, SessionConfig, Task, UploadedDataset } from "./protocol.js" */
/** @import { Playground } from "./app.js" */

const UPLOAD_PREFIX = "upload:";
const SCALE_WARNING_RATIO = 100; // raw columns whose spreads differ more than this: a notice
// Everything that changes the session: disabled on a watch link (view settings stay).
// The controls whose verbs go over the session's socket (play, pause, step, reset).
const SOCKET_CONTROLS = /** @type {const} */ (["playButton", "stepButton", "resetButton", "bannerResetButton"]);
const OFFLINE_TITLE = "The server cannot be reached: reconnecting…";
const SESSION_CONTROLS = /** @type {const} */ ([
  "resetButton",
  "playButton",
  "stepUnit",
  "stepButton",
  "speed",
  "pace",
  "bannerResetButton",
  "learningRate",
  "loss",
  "batchSize",
  "optimizer",
  "momentum",
  "regularization",
  "regularizationRate",
  "initializer",
  "seed",
  "preset",
  "dataset",
  "standardize",
  "noise",
  "trainRatio",
  "regenerateButton",
  "uploadFile",
  "uploadName",
  "uploadTarget",
  "uploadTask",
  "uploadButton",
  "addLayerButton",
]);
const EDITABLE = new Set(["INPUT", "SELECT", "TEXTAREA", "BUTTON", "SUMMARY"]);
const TYPING = new Set(["INPUT", "SELECT", "TEXTAREA"]);

/** Beside the loss picker: what the chosen loss measures, and behind it what it divides by
 *  (the engine's words, from the page). */
/** @param {PageElements} e */
function showLossConvention(e) {
  const option = e.loss.selectedOptions[0];
  e.lossPlain.textContent = option?.dataset.plain ?? "";
  e.lossConvention.textContent = option?.dataset.convention ?? "";
}

/**
 * A select shows `value`; a value the list lacks (a preset's 0.7) is added as an option.
 * @param {HTMLSelectElement} select
 * @param {string | number} value
 */
function selectValue(select, value) {
  const text = String(value);
  if (![...select.options].some((option) => option.value === text)) {
    select.append(createElement("option", { value: text, text }));
  }
  select.value = text;
}

/** The output layer, loss and labels that fit a task, kept close to the current ones: the
 *  loss stays while it fits the output's activation (the server's loss ↔ output rules), else
 *  it becomes the server's default loss; multiclass takes softmax and the loss that needs it.
 *  Uploaded binary targets are 0/1 (no −1/+1 labels to choose): a sigmoid output then.
 * @param {Task} task
 * @param {number} nOutputs
 * @param {Pick<ModelConfig, "layers" | "loss">} model
 * @param {{ upload?: boolean }} [options]
 * @returns {{ layer: LayerSpec, loss: string, labels: "01" | "pm1" }}
 */
export function outputFor(task, nOutputs, model, { upload = false } = {}) {
  const { loss_outputs: needs, default_loss: defaultLoss } = pageConfig();
  /** @param {string} activation */
  const lossFor = (activation) => (lossFits(model.loss, activation) ? model.loss : defaultLoss);
  if (task === "multiclass") {
    const activation = "softmax";
    const loss = Object.keys(needs).find((name) => needs[name]?.includes(activation)) ?? lossFor(activation);
    return { layer: { units: nOutputs, activation }, loss, labels: "01" };
  }
  if (task === "regression") {
    return { layer: { units: 1, activation: "linear" }, loss: lossFor("linear"), labels: "01" };
  }
  const output = model.layers.at(-1);
  let activation = output && ["tanh", "sigmoid"].includes(output.activation) ? output.activation : "tanh";
  if (upload) activation = "sigmoid";
  return { layer: { units: 1, activation }, loss: lossFor(activation), labels: activation === "tanh" ? "pm1" : "01" };
}

export class Controls {
  /**
   * @param {PageElements} elements
   * @param {Playground} playground
   */
  constructor(elements, playground) {
    this.elements = elements;
    this.playground = playground;
    /** @type {Preset[]} */
    this.presets = [];
    /** @type {Map<string, BuiltinDataset>} by name */
    this.builtins = new Map();
    /** @type {Map<string, Partial<UploadedDataset>>} by id: {name, task, class_names, feature_names} */
    this.uploads = new Map();
    this.readOnly = false;
    this.wire();
  }

  wire() {
    const e = this.elements;
    const p = this.playground;
    /**
     * @param {EventTarget} element
     * @param {string} event
     * @param {(event: Event) => void} handler
     */
    const on = (element, event, handler) => element.addEventListener(event, handler);

    on(e.playButton, "click", () => p.togglePlay());
    on(e.stepButton, "click", () => p.step());
    on(e.resetButton, "click", () => p.reset());
    on(e.bannerResetButton, "click", () => p.reset());
    on(e.bannerDismissButton, "click", () => {
      e.divergenceBanner.hidden = true;
    });
    on(e.stepUnit, "change", () => p.repace());
    on(e.speed, "change", () => p.repace());

    on(e.learningRate, "change", () => p.setHyperparameters({ learning_rate: Number(e.learningRate.value) }));
    on(e.loss, "change", () => {
      showLossConvention(e);
      p.setHyperparameters({ loss: e.loss.value });
    });
    on(e.batchSize, "change", () =>
      p.setHyperparameters({ batch_size: e.batchSize.value === "full" ? null : Number(e.batchSize.value) }),
    );
    on(e.optimizer, "change", () => p.setHyperparameters({ momentum: this.momentum() }));
    on(e.momentum, "change", () => {
      if (e.optimizer.value === "momentum") p.setHyperparameters({ momentum: this.momentum() });
    });
    on(e.regularization, "change", () => p.setHyperparameters(this.penalties()));
    on(e.regularizationRate, "change", () => {
      if (e.regularization.value !== "none") p.setHyperparameters(this.penalties());
    });
    on(e.initializer, "change", () => p.rebuild({ model: { initializer: e.initializer.value } }));
    on(e.seed, "change", () => {
      const seed = Number.parseInt(e.seed.value, 10);
      if (Number.isInteger(seed) && seed >= 0) p.reset(seed);
    });

    on(e.preset, "change", () => {
      if (e.preset.value) p.createSession({ preset: e.preset.value });
    });
    on(e.dataset, "change", () => this.chooseDataset(e.dataset.value));
    on(e.standardize, "change", () => this.changeData({ standardize: e.standardize.checked }));
    on(e.noise, "input", () => {
      e.noiseValue.textContent = `${e.noise.value} %`;
    });
    on(e.noise, "change", () => this.changeData({ noise: Number(e.noise.value) / 100 }));
    on(e.trainRatio, "input", () => {
      e.trainRatioValue.textContent = `${e.trainRatio.value} %`;
    });
    on(e.trainRatio, "change", () => this.changeData({ train_ratio: Number(e.trainRatio.value) / 100 }));
    on(e.regenerateButton, "click", () =>
      this.changeData({ seed: (Number(this.playground.state.shownConfig().data.seed) || 0) + 1 }),
    );
    on(e.uploadForm, "submit", (event) => {
      event.preventDefault();
      this.upload();
    });

    on(e.diagramMode, "change", () => {
      p.network.setMode(e.diagramMode.value);
      p.scheduler.redrawAll();
    });
    on(e.discretize, "change", () => {
      p.output.setDiscretize(e.discretize.checked);
      p.scheduler.redrawAll();
    });
    on(e.showTestData, "change", () => {
      p.output.setShowTest(e.showTestData.checked);
      p.scheduler.redrawAll();
    });

    on(document, "keydown", (event) => this.shortcut(/** @type {KeyboardEvent} */ (event)));
  }

  /** Space: play / pause; "s": one step; "p": presenter mode (Escape leaves it) — unless a
   *  control has the keyboard.
   * @param {KeyboardEvent} event
   */
  shortcut(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape") {
      this.playground.presenter.set(false);
      return;
    }
    const target = /** @type {HTMLElement} */ (event.target); // a keydown's: an element, or <body>
    const typing = TYPING.has(target.tagName) || target.isContentEditable;
    if (event.key === "p" && !typing) {
      this.playground.presenter.toggle(); // a focused button has no use for letters
      return;
    }
    if (EDITABLE.has(target.tagName) || target.isContentEditable) return;
    if (event.key === " ") {
      event.preventDefault();
      this.playground.togglePlay();
    } else if (event.key === "s") {
      this.playground.step();
    }
  }

  /**
   * A watch link: every control that would change the session is disabled, and stays so.
   * @param {boolean} readOnly
   */
  setReadOnly(readOnly) {
    this.readOnly = readOnly;
    if (readOnly) this.applyReadOnly();
  }

  applyReadOnly() {
    for (const name of SESSION_CONTROLS) {
      const element = this.elements[name];
      element.disabled = true;
      element.setAttribute("aria-disabled", "true");
      element.title = "Read-only: this page watches the teacher's session";
    }
  }

  /** While the server cannot be reached the socket's verbs would be lost: their controls
   *  say so and are disabled until the connection is live again.
   * @param {boolean} offline
   */
  setOffline(offline) {
    if (this.readOnly) return;
    for (const name of SOCKET_CONTROLS) {
      const element = this.elements[name];
      if (element.dataset.onlineTitle === undefined) element.dataset.onlineTitle = element.title;
      element.disabled = offline;
      element.setAttribute("aria-disabled", offline ? "true" : "false");
      element.title = offline ? OFFLINE_TITLE : element.dataset.onlineTitle;
    }
    document.body.classList.toggle("offline", offline);
  }

  momentum() {
    if (this.elements.optimizer.value !== "momentum") return 0;
    const value = Number(this.elements.momentum.value);
    return Number.isFinite(value) && value > 0 ? value : 0.9;
  }

  penalties() {
    const kind = this.elements.regularization.value;
    const rate = Number(this.elements.regularizationRate.value);
    return { l1: kind === "l1" ? rate : 0, l2: kind === "l2" ? rate : 0 };
  }

  // ----- catalog ------------------------------------------------------------------------

  /**
   * @param {Preset[]} presets
   * @param {DatasetList} datasets
   */
  setCatalog(presets, datasets) {
    this.presets = presets;
    const e = this.elements;
    e.preset.replaceChildren(
      createElement("option", { value: "", text: "— custom —", disabled: true }),
      ...presets.map((preset) => createElement("option", { value: preset.id, text: preset.id })),
    );
    for (const info of datasets.builtin) this.builtins.set(info.name, info);
    for (const upload of datasets.uploaded) {
      if (!this.uploads.has(upload.id)) this.uploads.set(upload.id, { name: upload.name });
    }
    this.renderDatasets();
  }

  renderDatasets() {
    const builtins = [...this.builtins.values()].map((info) =>
      createElement("option", { value: info.name, text: info.name }),
    );
    const uploads = [...this.uploads.entries()].map(([id, info]) =>
      createElement("option", { value: `${UPLOAD_PREFIX}${id}`, text: `${info.name} (uploaded)` }),
    );
    const groups = [createElement("optgroup", { label: "Built-in" }, builtins)];
    if (uploads.length) groups.push(createElement("optgroup", { label: "Uploaded" }, uploads));
    this.elements.dataset.replaceChildren(...groups);
  }

  // ----- data ---------------------------------------------------------------------------

  /**
   * How many output units a dataset's targets need (a preset using it knows, for classes).
   * @param {string} name
   */
  outputsOf(name) {
    const preset = this.presets.find((candidate) => candidate.data.dataset === name);
    return preset?.model.layers.at(-1)?.units ?? 1;
  }

  /** @param {string} value a built-in's name, or "upload:" and an upload's id */
  chooseDataset(value) {
    const config = this.playground.state.shownConfig();
    const current = config.data;
    /** @type {DataConfig} */
    let data;
    /** @type {Task} */
    let task;
    let outputs;
    if (value.startsWith(UPLOAD_PREFIX)) {
      const id = value.slice(UPLOAD_PREFIX.length);
      const info = this.uploads.get(id) || {};
      task = info.task || "binary";
      outputs = task === "multiclass" ? (info.class_names || []).length : 1;
      data = { upload: id, train_ratio: current.train_ratio ?? 0.8, seed: current.seed ?? 0 };
    } else {
      const info = this.builtins.get(value);
      if (!info) throw new Error(`no built-in dataset ${value}`);
      task = info.task;
      outputs = task === "multiclass" ? this.outputsOf(value) : 1;
      data = {
        dataset: value,
        noise: current.noise ?? 0,
        train_ratio: current.train_ratio ?? 0.5,
        seed: current.seed ?? 0,
      };
      if (info.generated && current.n_samples) data.n_samples = current.n_samples;
      // The chosen input features stay from one dataset on the plane to another (as in TF
      // Playground): x1² stays on when the circle becomes the spiral.
      if (current.features && info.n_features === 2) data.features = current.features;
    }
    const fit = outputFor(task, outputs, config.model, { upload: Boolean(data.upload) });
    if (data.dataset && task === "binary") data.labels = fit.labels;
    const layers = [...config.model.layers.slice(0, -1), fit.layer];
    return this.playground.rebuild({ layers, model: { loss: fit.loss }, data });
  }

  /** @param {Partial<DataConfig>} changes */
  changeData(changes) {
    const data = { ...this.playground.state.shownConfig().data, ...changes };
    if (data.upload) delete data.noise; // an upload has no noise to add
    return this.playground.rebuild({ data });
  }

  async upload() {
    const e = this.elements;
    const file = e.uploadFile.files?.[0];
    if (!file) return;
    const form = new FormData();
    form.append("file", file);
    form.append("name", e.uploadName.value || file.name.replace(/\.csv$/i, ""));
    if (e.uploadTarget.value) form.append("target", e.uploadTarget.value);
    if (e.uploadTask.value) form.append("task", e.uploadTask.value);
    try {
      const uploaded = await api.uploadDataset(form);
      this.uploads.set(uploaded.id, uploaded);
      this.renderDatasets();
      e.dataset.value = `${UPLOAD_PREFIX}${uploaded.id}`;
      await this.chooseDataset(e.dataset.value);
    } catch (error) {
      this.playground.status.notify(`Upload refused: ${error.message}`);
    }
  }

  // ----- showing the session's settings -------------------------------------------------

  /** An upload's columns: their full names and the train split's mean and spread they were
   *  standardized with, or a warning when raw columns differ in scale by over 100×.
   * @param {Dataset} dataset
   */
  showScaling(dataset) {
    const e = this.elements;
    const names = dataset.feature_names;
    const lines = [];
    const scaling = dataset.scaling;
    if (scaling) {
      lines.push("Each column x becomes (x − mean) / spread, with the training rows' numbers:");
      names.forEach((name, k) => {
        lines.push(`${name}: mean ${formatNumber(scaling.mean[k], 3)}, spread ${formatNumber(scaling.std[k], 3)}`);
      });
    } else {
      lines.push(`Columns as uploaded: ${names.join(", ")}.`);
    }
    const ratio = dataset.scale_ratio ?? 1;
    const warn = !dataset.scaling && ratio > SCALE_WARNING_RATIO;
    if (warn) {
      const message = `The columns' scales differ by ${Math.round(ratio).toLocaleString("en")}×: standardize them, or the network learns only from the largest.`;
      lines.push(message);
      this.playground.status.notify(message, "info");
    }
    e.scalingInfo.replaceChildren(...lines.map((line) => createElement("span", { className: "scaling-line", text: line })));
    e.scalingInfo.classList.toggle("warning", warn);
  }

  /** @param {boolean} busy */
  setBusy(busy) {
    document.body.setAttribute("aria-busy", busy ? "true" : "false");
  }

  /**
   * Every control shows the session's config.
   * @param {SessionConfig | null} config
   */
  sync(config) {
    if (!config) return;
    const e = this.elements;
    const { model, data } = config;
    selectValue(e.learningRate, model.learning_rate);
    selectValue(e.loss, model.loss);
    showLossConvention(e);
    selectValue(e.batchSize, model.batch_size === null ? "full" : model.batch_size);
    e.optimizer.value = model.momentum > 0 ? "momentum" : "sgd";
    if (model.momentum > 0) e.momentum.value = String(model.momentum);
    e.momentum.disabled = model.momentum === 0;
    const kind = model.l1 > 0 ? "l1" : model.l2 > 0 ? "l2" : "none";
    e.regularization.value = kind;
    if (kind !== "none") selectValue(e.regularizationRate, kind === "l1" ? model.l1 : model.l2);
    e.regularizationRate.disabled = kind === "none";
    selectValue(e.initializer, model.initializer);
    e.seed.value = String(model.seed);

    e.preset.value = config.preset ?? "";
    const preset = this.presets.find((candidate) => candidate.id === config.preset);
    e.presetDescription.textContent = preset ? preset.description : "Your own settings.";

    const datasetValue = data.upload ? `${UPLOAD_PREFIX}${data.upload}` : data.dataset;
    if (datasetValue !== undefined && [...e.dataset.options].some((option) => option.value === datasetValue))
      e.dataset.value = datasetValue;
    const info = data.dataset ? this.builtins.get(data.dataset) : null;
    e.datasetDescription.textContent = info ? info.description : "An uploaded CSV.";
    const generated = Boolean(info && info.generated);
    e.noise.disabled = !generated;
    e.noise.value = String(Math.round((data.noise ?? 0) * 100));
    e.noiseValue.textContent = `${e.noise.value} %`;
    e.trainRatio.disabled = Boolean(info?.fixed_split);
    e.trainRatio.value = String(Math.round((data.train_ratio ?? 0.5) * 100));
    e.trainRatioValue.textContent = `${e.trainRatio.value} %`;
    e.regenerateButton.disabled = !generated && !data.upload;
    e.scalingPanel.hidden = !data.upload;
    e.standardize.checked = data.standardize !== false;
    if (this.readOnly) this.applyReadOnly();
  }
}
