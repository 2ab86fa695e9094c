// Small helpers the study panels share: look an element up (failing at once), build rows.
import { FONT, PLOT_CONFIG, Plotly } from "../plotly.js";

export function byId(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}: templates/partials/study-section.html`);
  return element;
}

export function format(value, digits = 5) {
  if (value === null || value === undefined) return "–";
  if (typeof value !== "number") return String(value);
  return Math.abs(value) >= 1e-3 || value === 0 ? value.toPrecision(digits).replace(/\.?0+$/, "") : value.toExponential(2);
}

/** A <tr> of cells (strings or nodes); `header` makes them <th>. */
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

export function button(label, onClick) {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = label;
  element.addEventListener("click", onClick);
  return element;
}

/** The z grid of a boundary as a Plotly heatmap, filling `element`. */
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
}
