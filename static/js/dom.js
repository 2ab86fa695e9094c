// @ts-check
// Every element the modules touch, looked up once at start-up; a missing id, or one on
// another kind of element than the modules take it for, fails at once.

/** Each element's id and the kind of element the modules use it as. */
const ELEMENTS = {
  topbar: HTMLElement,
  "connection-status": HTMLElement,
  "watch-badge": HTMLElement,
  "class-badge": HTMLElement,
  "open-class-button": HTMLButtonElement,
  "end-class-button": HTMLButtonElement,
  "class-open": HTMLElement,
  "class-code": HTMLElement,
  "class-link": HTMLInputElement,
  "copy-class-link": HTMLButtonElement,
  "class-students": HTMLElement,
  "join-class-form": HTMLFormElement,
  "join-class-code": HTMLInputElement,
  "reset-button": HTMLButtonElement,
  "play-button": HTMLButtonElement,
  "step-unit": HTMLSelectElement,
  "step-button": HTMLButtonElement,
  speed: HTMLSelectElement,
  pace: HTMLInputElement,
  "pace-value": HTMLOutputElement,
  "presenter-button": HTMLButtonElement,
  "share-button": HTMLButtonElement,
  "copy-watch-link": HTMLButtonElement,
  "copy-setup-link": HTMLButtonElement,
  "share-panel": HTMLElement,
  "watch-link": HTMLInputElement,
  "setup-link": HTMLInputElement,
  "share-close-button": HTMLButtonElement,
  "epoch-readout": HTMLElement,
  "step-readout": HTMLElement,
  "phase-readout": HTMLElement,
  "fps-readout": HTMLElement,
  "divergence-banner": HTMLElement,
  "banner-message": HTMLElement,
  "banner-reset-button": HTMLButtonElement,
  "banner-dismiss-button": HTMLButtonElement,
  notice: HTMLElement,
  "learning-rate": HTMLSelectElement,
  loss: HTMLSelectElement,
  "loss-plain": HTMLElement,
  "loss-convention": HTMLElement,
  "batch-size": HTMLSelectElement,
  optimizer: HTMLSelectElement,
  momentum: HTMLInputElement,
  regularization: HTMLSelectElement,
  "regularization-rate": HTMLSelectElement,
  initializer: HTMLSelectElement,
  seed: HTMLInputElement,
  preset: HTMLSelectElement,
  "preset-description": HTMLElement,
  dataset: HTMLSelectElement,
  "dataset-description": HTMLElement,
  "scaling-panel": HTMLElement,
  standardize: HTMLInputElement,
  "scaling-info": HTMLElement,
  "data-options": HTMLDetailsElement,
  noise: HTMLInputElement,
  "noise-value": HTMLOutputElement,
  "train-ratio": HTMLInputElement,
  "train-ratio-value": HTMLOutputElement,
  "regenerate-button": HTMLButtonElement,
  "upload-form": HTMLFormElement,
  "upload-file": HTMLInputElement,
  "upload-name": HTMLInputElement,
  "upload-target": HTMLInputElement,
  "upload-task": HTMLSelectElement,
  "upload-button": HTMLButtonElement,
  "add-layer-button": HTMLButtonElement,
  "diagram-mode": HTMLSelectElement,
  "first-run-hint": HTMLElement,
  "first-run-text": HTMLElement,
  "first-run-skip": HTMLButtonElement,
  "network-editor": HTMLElement,
  "network-diagram": HTMLElement,
  "train-loss-readout": HTMLElement,
  "test-loss-readout": HTMLElement,
  "accuracy-readout": HTMLElement,
  "loss-chart": HTMLElement,
  "output-chart": HTMLElement,
  "image-panel": HTMLElement,
  "accuracy-legend": HTMLElement,
  "show-test-data": HTMLInputElement,
  discretize: HTMLInputElement,
  "teaching-panel": HTMLElement,
  "drawer-close-button": HTMLButtonElement,
  "tab-inspector": HTMLButtonElement,
  "tab-guide": HTMLButtonElement,
  "teaching-content": HTMLElement,
  "edit-parameter-form": HTMLFormElement,
  "edit-parameter-label": HTMLElement,
  "edit-parameter-value": HTMLInputElement,
  "teaching-hint": HTMLElement,
  "guide-panel": HTMLElement,
  "guide-lesson": HTMLSelectElement,
  "guide-prev": HTMLButtonElement,
  "guide-next": HTMLButtonElement,
  "guide-run-epoch": HTMLButtonElement,
  "guide-load-lesson": HTMLButtonElement,
  "guide-status": HTMLElement,
  "guide-content": HTMLElement,
  "layer-heatmaps": HTMLElement,
  "grad-norm-chart": HTMLElement,
  "grad-dist-chart": HTMLElement,
  "stats-readout": HTMLElement,
};

/** @typedef {{ [Id in keyof typeof ELEMENTS as CamelCase<Id>]: InstanceType<(typeof ELEMENTS)[Id]> }} PageElements */

/** @param {string} id */
function camelCase(id) {
  return id.replace(/-([a-z])/g, (_, letter) => letter.toUpperCase());
}

/**
 * The element #id, of this kind; a missing one, or one of another kind, fails at once.
 * @template {typeof HTMLElement} Kind
 * @param {string} id
 * @param {Kind} kind
 * @param {{ root?: Document, template?: string }} [where] the template that has it, for the error
 * @returns {InstanceType<Kind>}
 */
export function elementById(id, kind, { root = document, template = "" } = {}) {
  const element = root.getElementById(id);
  if (!element) throw new Error(`the page has no element #${id}${template ? `: ${template}` : ""}`);
  const tag = element.localName;
  if (!(element instanceof kind)) throw new Error(`#${id} is a <${tag}>, not an ${kind.name}`);
  return /** @type {InstanceType<Kind>} */ (element);
}

/**
 * {playButton: <button id="play-button">, …} for every id in ELEMENTS.
 * @param {Document} [root]
 * @returns {PageElements}
 */
export function lookUpElements(root = document) {
  /** @type {Record<string, HTMLElement>} */
  const elements = {};
  for (const [id, kind] of Object.entries(ELEMENTS)) elements[camelCase(id)] = elementById(id, kind, { root });
  return /** @type {PageElements} */ (/** @type {unknown} */ (elements));
}

/**
 * Attributes of a new element: `text` its text, `className` its class; true an empty
 * attribute, false, null and undefined none.
 * @typedef {Record<string, string | number | boolean | null | undefined>} Attributes
 */

/**
 * A new element with attributes and children: enough DOM building without a framework.
 * @template {keyof HTMLElementTagNameMap} Tag
 * @param {Tag} tag
 * @param {Attributes} [attributes]
 * @param {(Node | string)[]} [children]
 * @returns {HTMLElementTagNameMap[Tag]}
 */
export function createElement(tag, attributes = {}, children = []) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "text") element.textContent = String(value);
    else if (name === "className") element.className = String(value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) element.append(child);
  return element;
}
