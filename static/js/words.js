// @ts-check
// Words and numbers as a student reads them, in one place.
//
// Layers: one numbering everywhere, the API's — "layer k", k from 0 for the first dense layer
// after the inputs, with its role beside it ("layer 0 · hidden", "layer 2 · output"). Phases
// say the same ("backward · layer 2").
/** @import { Phase } from "./protocol.js" */

/**
 * "Layer 0 · hidden" / "Layer 2 · output" (capitalised for a title).
 * @param {number} k
 * @param {number} count the network's layers
 */
export function layerTitle(k, count) {
  return `Layer ${k} · ${k === count - 1 ? "output" : "hidden"}`;
}

/**
 * "layer 0 (hidden)" / "layer 2 (output)", inside a sentence or a legend.
 * @param {number} k
 * @param {number} count the network's layers
 */
export function layerName(k, count) {
  return `layer ${k} (${k === count - 1 ? "output" : "hidden"})`;
}

/** Where weight W[i→j] of layer k comes from: "input 0" (the data) for layer 0, "unit 1 of
 *  layer 0" for a later layer (layer k's inputs are layer k−1's units).
 * @param {number} k
 * @param {number | null} i
 */
export function sourceName(k, i) {
  return k === 0 ? `input ${i}` : `unit ${i} of layer ${k - 1}`;
}

/**
 * A training phase: "forward · layer 0", "loss", "backward · layer 2", "update".
 * @param {Phase | null | undefined} phase
 */
export function phaseText(phase) {
  if (!phase) return "–";
  return phase.layer === null || phase.layer === undefined ? phase.kind : `${phase.kind} · layer ${phase.layer}`;
}

const COMPACT_FROM = 1e5; // past this (or below 1e-3) a number is written as 1.23e+5

/** A number that fits its box: fixed digits when moderate, compact scientific otherwise,
 *  "∞ (diverged)" when it is not finite.
 * @param {number | string | null | undefined} value
 * @param {number} [digits]
 */
export function formatNumber(value, digits = 4) {
  if (value === null || value === undefined) return "–";
  const number = Number(value);
  if (!Number.isFinite(number)) return "∞ (diverged)";
  const magnitude = Math.abs(number);
  if (magnitude !== 0 && (magnitude >= COMPACT_FROM || magnitude < 1e-3)) {
    return number.toExponential(2).replace("e+", "e");
  }
  return number.toFixed(digits);
}

/**
 * "unit 1 of layer 0 (hidden)": a neuron, in a sentence.
 * @param {number} k
 * @param {number | null} j
 * @param {number} count the network's layers
 */
export function unitName(k, j, count) {
  return `unit ${j} of ${layerName(k, count)}`;
}

/**
 * "Weight W[0→1] of layer 1 (output)": a link of the diagram, as the chain rule names it.
 * @param {number} k
 * @param {number} i
 * @param {number | null} j
 * @param {number} count the network's layers
 */
export function weightName(k, i, j, count) {
  return `Weight W[${i}→${j}] of ${layerName(k, count)}`;
}
