// @ts-check
// The page's start-up values and the facts it shares with the server — input features, the
// loss ↔ output-activation rules, the lessons, limits, close codes — from the JSON the server
// renders into <body data-config> (templates/index.html, app/api/pages.py's
// page_config).
// The page keeps no copy of them: what it must compute itself (a feature's column for the
// boundary) it looks up by the server's id.

/** @import { CloseCodeInfo, LessonInfo, PageConfig } from "./protocol.js" */

/** @type {PageConfig | null} */
let config = null;

/** The page's config, read once. */
export function pageConfig() {
  if (config) return config;
  const json = document.body.dataset.config;
  if (!json) throw new Error("the page's <body> has no data-config: it was not served by the playground");
  config = /** @type {PageConfig} */ (JSON.parse(json));
  return config;
}

/**
 * What a socket's close code means, or undefined for a code the server does not send.
 * @param {number} code
 * @returns {CloseCodeInfo | undefined}
 */
export function closeCode(code) {
  return pageConfig().close_codes[String(code)];
}

/**
 * A lesson of the guide, by id.
 * @param {string} id
 * @returns {LessonInfo}
 */
export function lessonById(id) {
  const lesson = pageConfig().lessons.find((candidate) => candidate.id === id);
  if (!lesson) throw new Error(`no lesson ${id}`);
  return lesson;
}

/**
 * Does `activation` fit an output layer trained with `loss` (a cross-entropy needs its own)?
 * @param {string} loss
 * @param {string} activation
 */
export function lossFits(loss, activation) {
  const needs = pageConfig().loss_outputs[loss];
  return !needs || needs.includes(activation);
}
