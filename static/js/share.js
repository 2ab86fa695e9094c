// @ts-check
// The page's links, all in the URL's fragment (#…), which the browser never sends to the
// server, so tokens stay out of its logs:
//   #watch=<session id>.<watch token>  follow a session live, read-only (students);
//   #class=<code>                      follow a class: whatever session its teacher shows;
//   #setup=<base64url JSON>            a create request: the same preset or custom network,
//                                      data, hyperparameters and seed, so the same weights
//                                      at step 0.
// A setup that is a preset with a few changes stores only the changes.

import { CLASS } from "./classroom.js";
/** @import { PageElements } from "./dom.js" */
/** @import { Preset, SessionConfig, SessionRequest } from "./protocol.js" */
/** @import { Notify } from "./views/status.js" */

const WATCH = "watch=";
const SETUP = "setup=";
const SETUP_KEYS = new Set(["preset", "model", "data"]);

/** @param {string} text */
function toBase64Url(text) {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** @param {string} text */
function fromBase64Url(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "===".slice((base64.length + 3) % 4));
  return new TextDecoder().decode(Uint8Array.from(binary, (char) => char.charCodeAt(0)));
}

/**
 * @typedef {{ kind: "watch", id: string, token: string } | { kind: "class", code: string }
 *   | { kind: "setup", request: SessionRequest } | { kind: "none" } | { kind: "bad", message: string }} Link
 */

/** What the fragment asks for: {kind: "watch", id, token}, {kind: "class", code},
 *  {kind: "setup", request}, {kind: "none"}, or {kind: "bad", message}.
 * @param {string} hash
 * @returns {Link}
 */
export function parseFragment(hash) {
  const fragment = hash.startsWith("#") ? hash.slice(1) : hash;
  if (fragment.startsWith(WATCH)) {
    const value = decodeURIComponent(fragment.slice(WATCH.length));
    const dot = value.indexOf(".");
    if (dot <= 0 || dot === value.length - 1) {
      return { kind: "bad", message: "the watch link is cut short: it needs #watch=<id>.<token>" };
    }
    return { kind: "watch", id: value.slice(0, dot), token: value.slice(dot + 1) };
  }
  if (fragment.startsWith(SETUP)) {
    try {
      const request = JSON.parse(fromBase64Url(fragment.slice(SETUP.length)));
      if (!request || typeof request !== "object" || Array.isArray(request)) throw new Error("not an object");
      const unknown = Object.keys(request).filter((key) => !SETUP_KEYS.has(key));
      if (unknown.length) throw new Error(`unknown part ${unknown[0]}`);
      return { kind: "setup", request };
    } catch (error) {
      return { kind: "bad", message: `the setup link could not be read (${error.message})` };
    }
  }
  if (fragment.startsWith(CLASS)) {
    const code = decodeURIComponent(fragment.slice(CLASS.length)).replace(/[\s-]/g, "").toUpperCase();
    if (!/^[A-Z0-9]{4,12}$/.test(code)) return { kind: "bad", message: "the class link's code is not a class code" };
    return { kind: "class", code };
  }
  return { kind: "none" };
}

/**
 * @param {string} id
 * @param {string} token
 */
export function watchFragment(id, token) {
  return `${WATCH}${id}.${token}`;
}

/**
 * Fields of `values` that differ from `base` (compared as JSON).
 * @template {object} Values
 * @param {Values} values
 * @param {Partial<Values>} base
 * @returns {Partial<Values>}
 */
function changes(values, base) {
  /** @type {Record<string, unknown>} */
  const changed = {};
  /** @type {Record<string, unknown>} */
  const before = base;
  for (const [key, value] of Object.entries(values)) {
    if (JSON.stringify(value) !== JSON.stringify(before[key])) changed[key] = value;
  }
  return /** @type {Partial<Values>} */ (changed);
}

/** The create request that rebuilds a session's config: a preset and its changes, or the
 *  whole model and data. input_size is left out: the data decides it.
 * @param {SessionConfig} config
 * @param {Preset[]} presets
 * @returns {SessionRequest}
 */
export function setupRequest(config, presets) {
  const { input_size: _inputSize, ...model } = config.model;
  const preset = config.preset ? presets.find((candidate) => candidate.id === config.preset) : null;
  const presetDataKeys = preset ? Object.keys(preset.data) : [];
  if (!preset || presetDataKeys.some((key) => !(key in config.data))) return { model, data: config.data };
  const { input_size: _presetInputs, ...presetModel } = preset.model;
  /** @type {SessionRequest} */
  const request = { preset: preset.id };
  const modelChanges = changes(model, presetModel);
  const dataChanges = changes(config.data, preset.data);
  if (Object.keys(modelChanges).length) request.model = modelChanges;
  if (Object.keys(dataChanges).length) request.data = dataChanges;
  return request;
}

/** @param {SessionRequest} request */
export function setupFragment(request) {
  return `${SETUP}${toBase64Url(JSON.stringify(request))}`;
}

/**
 * The page's URL with another fragment.
 * @param {string} fragment
 */
export function urlWith(fragment) {
  return `${location.origin}${location.pathname}${location.search}#${fragment}`;
}

/**
 * The share bar: "Share" fills its fields and opens it; each "Copy" copies its link to the
 * clipboard when the browser allows (the field stays for copying by hand).
 */
export class ShareLinks {
  /** elements: shareButton, copyWatchLink, copySetupLink, sharePanel, watchLink, setupLink,
   *  shareCloseButton; links: watch() and setup() give the URLs; notify(message, kind).
   * @param {Pick<PageElements, "shareButton" | "copyWatchLink" | "copySetupLink" | "sharePanel" | "watchLink" | "setupLink" | "shareCloseButton">} elements
   * @param {{ links: { watch: () => string | null, setup: () => string | null }, notify: Notify }} options
   */
  constructor(elements, { links, notify }) {
    this.e = elements;
    this.links = links;
    this.notify = notify;
    elements.shareButton.addEventListener("click", () => this.toggle());
    elements.copyWatchLink.addEventListener("click", () => this.share("watch"));
    elements.copySetupLink.addEventListener("click", () => this.share("setup"));
    elements.shareCloseButton.addEventListener("click", () => this.close());
    for (const field of [elements.watchLink, elements.setupLink]) {
      field.addEventListener("focus", () => field.select());
    }
  }

  /** Fill both fields with the current links. */
  update() {
    this.e.watchLink.value = this.links.watch() ?? "";
    this.e.setupLink.value = this.links.setup() ?? "";
  }

  toggle() {
    if (this.e.sharePanel.hidden) this.open();
    else this.close();
  }

  open() {
    this.update();
    this.e.sharePanel.hidden = false;
    this.e.shareButton.setAttribute("aria-expanded", "true");
  }

  close() {
    this.e.sharePanel.hidden = true;
    this.e.shareButton.setAttribute("aria-expanded", "false");
  }

  /** @param {"watch" | "setup"} which */
  share(which) {
    this.open();
    const field = which === "watch" ? this.e.watchLink : this.e.setupLink;
    const what = which === "watch" ? "Watch link" : "Setup link";
    field.focus();
    if (!field.value) return;
    const copied = navigator.clipboard?.writeText(field.value);
    if (!copied) {
      this.notify(`${what} ready below: copy it from the field.`, "info");
      return;
    }
    copied.then(
      () => this.notify(`${what} copied to the clipboard.`, "info"),
      () => this.notify(`${what} ready below: copy it from the field.`, "info"),
    );
  }
}
