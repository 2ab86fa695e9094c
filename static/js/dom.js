// Every element the modules touch, looked up once at start-up; a missing id fails at once.

const IDS = [
  "topbar",
  "connection-status",
  "watch-badge",
  "class-badge",
  "open-class-button",
  "end-class-button",
  "class-open",
  "class-code",
  "class-link",
  "copy-class-link",
  "class-students",
  "join-class-form",
  "join-class-code",
  "reset-button",
  "play-button",
  "step-unit",
  "step-button",
  "speed",
  "pace",
  "pace-value",
  "presenter-button",
  "share-button",
  "copy-watch-link",
  "copy-setup-link",
  "share-panel",
  "watch-link",
  "setup-link",
  "share-close-button",
  "epoch-readout",
  "step-readout",
  "phase-readout",
  "fps-readout",
  "divergence-banner",
  "banner-message",
  "banner-reset-button",
  "banner-dismiss-button",
  "notice",
  "learning-rate",
  "loss",
  "loss-plain",
  "loss-convention",
  "batch-size",
  "optimizer",
  "momentum",
  "regularization",
  "regularization-rate",
  "initializer",
  "seed",
  "preset",
  "preset-description",
  "dataset",
  "dataset-description",
  "scaling-panel",
  "standardize",
  "scaling-info",
  "data-options",
  "noise",
  "noise-value",
  "train-ratio",
  "train-ratio-value",
  "regenerate-button",
  "upload-form",
  "upload-file",
  "upload-name",
  "upload-target",
  "upload-task",
  "upload-button",
  "add-layer-button",
  "diagram-mode",
  "first-run-hint",
  "first-run-text",
  "first-run-skip",
  "network-editor",
  "network-diagram",
  "train-loss-readout",
  "test-loss-readout",
  "accuracy-readout",
  "loss-chart",
  "output-chart",
  "accuracy-legend",
  "show-test-data",
  "discretize",
  "teaching-panel",
  "drawer-close-button",
  "tab-inspector",
  "tab-guide",
  "teaching-content",
  "edit-parameter-form",
  "edit-parameter-label",
  "edit-parameter-value",
  "teaching-hint",
  "guide-panel",
  "guide-lesson",
  "guide-prev",
  "guide-next",
  "guide-run-epoch",
  "guide-load-lesson",
  "guide-status",
  "guide-content",
  "layer-heatmaps",
  "grad-norm-chart",
  "grad-dist-chart",
  "stats-readout",
];

function camelCase(id) {
  return id.replace(/-([a-z])/g, (_, letter) => letter.toUpperCase());
}

/** {playButton: <button id="play-button">, …} for every id in IDS. */
export function lookUpElements(root = document) {
  const elements = {};
  for (const id of IDS) {
    const element = root.getElementById(id);
    if (!element) throw new Error(`the page has no element #${id}`);
    elements[camelCase(id)] = element;
  }
  return elements;
}

/** The page's start-up values, from data-* attributes on <body>. */
export function readPageConfig(body = document.body) {
  const data = body.dataset;
  return {
    defaultPreset: data.defaultPreset,
    frameRate: Number(data.frameRate),
    maxLayers: Number(data.maxLayers),
    maxUnits: Number(data.maxUnits),
    // The decision boundary's grid: the points' extent plus this room (the server's, as
    // /boundary uses it).
    gridMargin: { fraction: Number(data.gridMargin), least: Number(data.gridLeastMargin) },
    activations: data.activations.split(" ").filter(Boolean),
  };
}

/** A new element with attributes and children: enough DOM building without a framework. */
export function createElement(tag, attributes = {}, children = []) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "text") element.textContent = value;
    else if (name === "className") element.className = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) element.append(child);
  return element;
}
