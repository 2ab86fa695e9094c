// @ts-check
// Small helpers the study panels share: look an element up (failing at once), build rows.
import { ChartText } from "../chart-text.js";
import { elementById } from "../dom.js";
import { FONT, PLOT_CONFIG, Plotly } from "../plotly.js";
/** @import { ChartTable } from "../chart-text.js" */
/** @import { Boundary } from "../protocol.js" */

/** @typedef {{ name: string, table: ChartTable | null }} ChartDescription */
/** @typedef {HTMLElement & { chartText?: ChartText, chartDescription?: ChartDescription }} DescribedChart */

const BOUNDARY_TABLE_SIDE = 11; // a boundary's table: at most this many rows and columns of its grid

/**
 * A study chart's text alternative, made once per element; `describe()` gives {name, table}.
 * @param {DescribedChart} element
 * @param {string} label
 * @param {() => ChartDescription} describe
 */
export function describeChart(element, label, describe) {
  const text =
    element.chartText ??
    new ChartText(element, {
      label,
      name: () => element.chartDescription?.name ?? `${label}: nothing yet`,
      table: () => element.chartDescription?.table ?? null,
    });
  element.chartText = text;
  element.chartDescription = describe();
  text.update();
  if (!text.region.hidden) text.build();
}

/**
 * Every k-th index of n, at most `side`, the last kept.
 * @param {number} n
 * @param {number} side
 */
function sampled(n, side) {
  const step = Math.max(1, Math.ceil((n - 1) / (side - 1)));
  const indices = [];
  for (let k = 0; k < n; k += step) indices.push(k);
  if (indices.at(-1) !== n - 1) indices.push(n - 1);
  return indices;
}

/**
 * A study panel's element, of the kind the panel uses it as; a missing one fails at once.
 * @template {typeof HTMLElement} [Kind=typeof HTMLElement]
 * @param {string} id
 * @param {Kind} [kind]
 * @returns {InstanceType<Kind>}
 */
export function byId(id, kind = /** @type {Kind} */ (HTMLElement)) {
  return elementById(id, kind, { template: "templates/partials/study-section.html" });
}

/**
 * @param {unknown} value
 * @param {number} [digits]
 */
export function format(value, digits = 5) {
  if (value === null || value === undefined) return "–";
  if (typeof value !== "number") return String(value);
  return Math.abs(value) >= 1e-3 || value === 0 ? value.toPrecision(digits).replace(/\.?0+$/, "") : value.toExponential(2);
}

/**
 * A <tr> of cells (strings or nodes); `header` makes them <th>.
 * @param {(string | Node)[]} cells
 * @param {{ header?: boolean, className?: string }} [options]
 */
export function row(cells, { header = false, className = "" } = {}) {
  const tr = document.createElement("tr");
  if (className) tr.className = className;
  for (const cell of cells) {
    const td = document.createElement(header ? "th" : "td");
    if (cell instanceof Node) td.append(cell);
    else td.textContent = cell;
    tr.append(td);
  }
  return tr;
}

/**
 * Offer `text` as a download named `filename` (a blob link, clicked).
 * @param {string} text
 * @param {string} filename
 * @param {string} type
 */
export function saveFile(text, filename, type) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([text], { type }));
  link.download = filename;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
}

/**
 * @param {string} label
 * @param {() => void} onClick
 */
export function button(label, onClick) {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = label;
  element.addEventListener("click", onClick);
  return element;
}

/**
 * The z grid of a boundary as a Plotly heatmap, filling `element`.
 * @param {HTMLElement} element
 * @param {Boundary} boundary
 * @param {string} [title]
 */
export function drawBoundary(element, boundary, title) {
  const data = [{ type: "heatmap", x: boundary.x, y: boundary.y, z: boundary.z, colorscale: "RdBu", showscale: false }];
  const layout = {
    margin: { l: 28, r: 6, t: title ? 22 : 6, b: 22 },
    font: FONT,
    title: title ? { text: title, font: { size: 11 } } : undefined,
    xaxis: { zeroline: false },
    yaxis: { zeroline: false },
  };
  Plotly.react(element, data, layout, PLOT_CONFIG);
  describeChart(element, title ? `Boundary ${title}` : "Boundary", () => {
    const values = boundary.z.flat();
    const rows = sampled(boundary.y.length, BOUNDARY_TABLE_SIDE).reverse(); // top row first, as drawn
    const columns = sampled(boundary.x.length, BOUNDARY_TABLE_SIDE);
    return {
      name:
        `Decision boundary${title ? ` ${title}` : ""}: the network's output over a ${boundary.x.length} × ` +
        `${boundary.y.length} grid, from ${format(Math.min(...values), 3)} to ${format(Math.max(...values), 3)}`,
      table: {
        caption: `The output on the grid (rows y, columns x; every ${Math.ceil(boundary.x.length / BOUNDARY_TABLE_SIDE)}th point)`,
        columns: ["y \\ x", ...columns.map((c) => format(boundary.x[c], 3))],
        rows: rows.map((r) => [format(boundary.y[r], 3), ...columns.map((c) => boundary.z[r][c])]),
      },
    };
  });
}
