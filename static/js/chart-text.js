// @ts-check
// A chart's text alternative: an accessible name that says what the chart shows, with its key
// numbers kept current, and the chart's numbers as a table on request ("Show as table").
// The view that owns the chart gives both from the data it already has; nothing is fetched.
import { createElement } from "./dom.js";
import { formatNumber } from "./words.js";

const TABLE_REFRESH_MS = 1000; // an open table follows the chart at most this often
export const TABLE_MAX_ROWS = 100; // a longer series shows every k-th row (first and last kept)

/** @typedef {string | number | null | undefined} Cell a table cell: a number or text */

/**
 * A chart's numbers as a table.
 * @typedef {object} ChartTable
 * @property {string} caption
 * @property {string[]} columns
 * @property {Cell[][]} rows
 */

/**
 * At most `limit` of `rows`, evenly spread, the first and the last kept.
 * @template Row
 * @param {Row[]} rows
 * @param {number} [limit]
 * @returns {Row[]}
 */
export function spreadRows(rows, limit = TABLE_MAX_ROWS) {
  if (rows.length <= limit) return rows;
  const step = (rows.length - 1) / (limit - 1);
  return Array.from({ length: limit }, (_, k) => rows[Math.round(k * step)]);
}

/**
 * A cell: numbers as the page writes them, the rest as text.
 * @param {Cell} value
 */
function cellText(value) {
  if (Number.isInteger(value)) return String(value); // a step, a count
  return typeof value === "number" || value === null || value === undefined ? formatNumber(value) : String(value);
}

let tables = 0; // ids of the tables, one per chart

/** The buttons and tables of a section's charts: one shelf at the end of the section (or of a
 *  layer's heatmaps), never between the charts, so no layout gains a cell.
 * @param {HTMLElement} element
 * @returns {{ shelf: Element, buttons: Element }}
 */
function tableShelf(element) {
  const home = element.closest(".layer-row, section") ?? element.parentElement;
  if (!home) throw new Error(`chart #${element.id} is not on the page`);
  let shelf = [...home.children].find((child) => child.classList.contains("chart-tables"));
  if (!shelf) {
    shelf = createElement("div", { className: "chart-tables" }, [createElement("div", { className: "chart-table-buttons" })]);
    home.append(shelf);
  }
  const buttons = shelf.firstElementChild;
  if (!buttons) throw new Error("a chart-tables shelf without its buttons");
  return { shelf, buttons };
}

export class ChartText {
  /**
   * element: the chart; label: its short name for the button; name(): what it shows, with its key numbers; table(): {caption,
   * columns: [...], rows: [[...]]} or null when there is nothing to show yet. `role`: "img"
   * for a picture (the default); null when the element has its own role (the diagram).
   * @param {HTMLElement} element
   * @param {{ label: string, name: () => string, table: () => ChartTable | null, role?: string | null }} options
   */
  constructor(element, { label, name, table, role = "img" }) {
    this.element = element;
    this.label = label; // "Loss", "W of layer 0": the button says "Loss as a table"
    this.name = name;
    this.table = table;
    if (role) element.setAttribute("role", role);
    tables += 1;
    const id = `chart-table-${tables}`;
    this.button = createElement("button", {
      type: "button",
      className: "secondary small chart-table-button",
      "data-testid": `${element.id || "chart"}-table-button`,
      "aria-expanded": "false",
      "aria-controls": id,
      text: `${label} as a table`,
      title: "The chart's numbers as a table",
    });
    this.region = createElement("div", {
      id,
      className: "chart-table",
      "data-testid": `${element.id || "chart"}-table`,
      hidden: true,
    });
    const { shelf, buttons } = tableShelf(element);
    buttons.append(this.button);
    shelf.append(this.region);
    this.button.addEventListener("click", () => this.toggle());
    this.builtAt = 0;
    this.update();
  }

  toggle() {
    const open = this.region.hidden;
    this.region.hidden = !open;
    this.button.setAttribute("aria-expanded", String(open));
    this.button.textContent = open ? `Hide the ${this.label} table` : `${this.label} as a table`;
    if (open) this.build();
  }

  /** After a draw: the name follows the numbers, an open table too (throttled). */
  update() {
    const label = this.name();
    if (label && this.element.getAttribute("aria-label") !== label) this.element.setAttribute("aria-label", label);
    if (!this.region.hidden && performance.now() - this.builtAt >= TABLE_REFRESH_MS) this.build();
  }

  build() {
    this.builtAt = performance.now();
    const data = this.table();
    if (!data) {
      this.region.replaceChildren(createElement("p", { className: "hint", text: "Nothing to show yet." }));
      return;
    }
    const head = createElement(
      "tr",
      {},
      data.columns.map((column) => createElement("th", { scope: "col", text: column })),
    );
    const body = data.rows.map((row) =>
      createElement(
        "tr",
        {},
        row.map((value, k) =>
          k === 0 ? createElement("th", { scope: "row", text: cellText(value) }) : createElement("td", { text: cellText(value) }),
        ),
      ),
    );
    const table = createElement("table", { className: "values-table" }, [
      createElement("caption", { text: data.caption }),
      createElement("thead", {}, [head]),
      createElement("tbody", {}, body),
    ]);
    // Scrollable, so reachable and scrollable by keyboard.
    this.region.replaceChildren(
      createElement("div", { className: "table-scroll", tabindex: "0", role: "region", "aria-label": data.caption }, [table]),
    );
  }
}
