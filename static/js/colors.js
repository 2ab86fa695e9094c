// @ts-check
// Colour scales readable with the common colour-vision deficiencies: orange ↔ blue for signs
// (never red ↔ green), a single-hue purple for magnitudes, Okabe–Ito for categories.

export const NEGATIVE = "#e08214";
export const POSITIVE = "#2b6cb0";
export const NEUTRAL = "#f7f7f7";
export const IDLE_LINK = "#d0d0d0";

/** @typedef {[number, string][]} ColorScale Plotly's [[stop in [0, 1], "#rrggbb"], …] */
/** @typedef {[number, number, number]} Rgb */

/** Orange (negative) → white (0) → blue (positive); used with zmid 0 or a symmetric range.
 * @type {ColorScale} */
export const DIVERGING = [
  [0, "#b35806"],
  [0.25, "#f1a340"],
  [0.5, NEUTRAL],
  [0.75, "#6ea6d6"],
  [1, "#1f4e8c"],
];

/** White (0) → purple (large): gradient magnitudes.
 * @type {ColorScale} */
export const MAGNITUDE = [
  [0, "#f7f4f9"],
  [0.5, "#9e9ac8"],
  [1, "#3f007d"],
];
export const MAGNITUDE_STRONG = "#54278f";

/** Okabe & Ito's palette: eight colours distinct for every common colour-vision type. */
export const CATEGORICAL = [
  "#0072b2",
  "#e69f00",
  "#009e73",
  "#cc79a7",
  "#56b4e9",
  "#d55e00",
  "#f0e442",
  "#000000",
];

/** A discrete colour scale for class indices 0 … n−1 (heatmap with zmin −0.5, zmax n−0.5).
 * @param {string[]} colors
 * @returns {ColorScale}
 */
export function classScale(colors) {
  const n = colors.length;
  /** @type {ColorScale} */
  const scale = [];
  colors.forEach((color, k) => {
    scale.push([k / n, color], [(k + 1) / n, color]);
  });
  return scale;
}

/** Binary classes in the sign colours: class 0 / negative orange, class 1 / positive blue. */
export const BINARY_CLASSES = [NEGATIVE, POSITIVE];

/**
 * "#rrggbb" → [r, g, b].
 * @param {string} hex
 * @returns {Rgb}
 */
export function rgb(hex) {
  const value = Number.parseInt(hex.slice(1), 16);
  return [(value >> 16) & 255, (value >> 8) & 255, value & 255];
}

/**
 * A function t ∈ [0, 1] → [r, g, b] along a Plotly-style scale [[stop, "#rrggbb"], …],
 * for pictures drawn outside Plotly (the decision boundary); the same colours as its charts.
 * @param {ColorScale} scale
 * @returns {(t: number) => Rgb}
 */
export function scaleInterpolator(scale) {
  /** @type {[number, Rgb][]} */
  const stops = scale.map(([stop, color]) => [stop, rgb(color)]);
  return (t) => {
    const clamped = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0.5));
    let k = 1;
    while (k < stops.length - 1 && stops[k][0] < clamped) k += 1;
    const [s0, c0] = stops[k - 1];
    const [s1, c1] = stops[k];
    const f = s1 > s0 ? (clamped - s0) / (s1 - s0) : 0;
    /** @param {number} channel */
    const mix = (channel) => Math.round(c0[channel] + f * (c1[channel] - c0[channel]));
    return [mix(0), mix(1), mix(2)];
  };
}
