// @ts-check
// Numbers for people and for tests: shown with 4 decimals (or in exponent form when tiny or
// huge), the exact value kept in `data-value` and the `title` tooltip.
import { createElement } from "./dom.js";
/** @import { Attributes } from "./dom.js" */

/**
 * 0.1235, −2.5000, 3.142e-7; "–" for null (NaN and infinity arrive as null).
 * @param {number | null | undefined} value
 */
export function formatNumber(value) {
  if (value === null || value === undefined) return "–";
  const number = Number(value);
  if (!Number.isFinite(number)) return String(number);
  const magnitude = Math.abs(number);
  if (magnitude !== 0 && (magnitude < 1e-3 || magnitude >= 1e5)) return number.toExponential(3);
  return number.toFixed(4);
}

/**
 * An element showing one number: 4 decimals, the exact value in data-value and title.
 * @template {keyof HTMLElementTagNameMap} Tag
 * @param {Tag} tag
 * @param {number | null | undefined} value
 * @param {Attributes} [attributes]
 */
export function numberElement(tag, value, attributes = {}) {
  const exact = value === null || value === undefined ? "" : String(value);
  return createElement(tag, {
    className: "number",
    "data-value": exact,
    title: exact || "not a finite number",
    text: formatNumber(value),
    ...attributes,
  });
}

/**
 * How deep a nested array of numbers is: 0 for a number, 1 for a vector, 2 for a matrix.
 * @param {unknown} value
 */
export function depthOf(value) {
  let depth = 0;
  let inner = value;
  while (Array.isArray(inner)) {
    depth += 1;
    inner = inner.find((item) => item !== null && item !== undefined);
  }
  return depth;
}

/**
 * A matrix (rows of numbers) as a table: a header of column indices, a row index per row.
 * `name` goes to data-name; each cell has data-row, data-col and data-value.
 * @param {string} name
 * @param {(number | null)[][]} rows
 * @param {{ rowLabel?: (r: number) => string, colLabel?: (c: number) => string }} [labels]
 */
export function matrixTable(name, rows, { rowLabel = (r) => String(r), colLabel = (c) => String(c) } = {}) {
  const columns = rows.length ? rows[0].length : 0;
  const head = createElement("tr", {}, [
    createElement("th", { scope: "col", text: "" }),
    ...Array.from({ length: columns }, (_, c) => createElement("th", { scope: "col", text: colLabel(c) })),
  ]);
  const body = rows.map((row, r) =>
    createElement("tr", {}, [
      createElement("th", { scope: "row", text: rowLabel(r) }),
      ...row.map((value, c) => numberElement("td", value, { "data-row": r, "data-col": c })),
    ]),
  );
  return createElement("table", { className: "values-table", "data-name": name }, [
    createElement("thead", {}, [head]),
    createElement("tbody", {}, body),
  ]);
}

