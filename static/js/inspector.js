// @ts-check
// The chain-rule inspector: one weight's ∂L/∂W (a neuron: its bias's ∂L/∂b) as the product
// of its factors per batch row — upstream gradient, local activation derivative, input — with
// their sum beside the gradient the heatmap shows and a central-difference check, all from
// GET /api/sessions/{id}/chain, fetched again as training moves on. On a fused output layer
// (a cross-entropy on its sigmoid / softmax) the loss hands back ∂L/∂z = (p − y)/n in one step:
// that is the factor shown, with the local factor 1.
import { ApiError, api } from "./api.js";
import { createElement } from "./dom.js";
import { LatestLoader } from "./loader.js";
import { numberElement } from "./tables.js";
import { sourceName } from "./words.js";
/** @import { ChainResult, Frame } from "./protocol.js" */

const ROWS_SHOWN_IN_FULL = 16; // a bigger batch: sums and means first, the rows scroll
// The signs against lesson 000, said where the raw numbers are shown.
const SIGN_NOTE =
  "Signs: these are gradients, which descent subtracts (W ← W − α·∂L/∂W). Lesson 000's " +
  "“delta output sum”, “layer1 error” and weight adjustment are their negatives: the lesson " +
  "builds them on y − ŷ and adds them (with the sse loss: −δ of the output, −upstream of " +
  "layer 0, −∂L/∂W).";
// A gradient near zero: the central difference's own rounding, about ε·L/h ≈ 1e-11 with
// h = 1e-5, is then larger than the gradient, so the relative error means nothing. The check
// passes when |reported − numeric| ≤ ABSOLUTE_TOLERANCE + tolerance · (|reported| + |numeric|).
const ABSOLUTE_TOLERANCE = 1e-8;
const DEFAULT_TOLERANCE = 1e-5; // float64's, as GET …/gradcheck judges it

/** How the numeric check went: "relative" (it passes on its relative error), "absolute" (a
 *  tiny gradient: it passes on the absolute difference) or "fail". ``tolerance`` is the
 *  relative one, fit for the session's dtype.
 * @param {number | null} reported
 * @param {number | null} numeric
 * @param {number} [tolerance]
 * @returns {"relative" | "absolute" | "fail"}
 */
export function gradientVerdict(reported, numeric, tolerance = DEFAULT_TOLERANCE) {
  if (reported === null || numeric === null) return "fail";
  const difference = Math.abs(reported - numeric);
  const scale = Math.abs(reported) + Math.abs(numeric);
  if (difference <= tolerance * scale) return "relative";
  if (difference <= ABSOLUTE_TOLERANCE + tolerance * scale) return "absolute";
  return "fail";
}

/** @param {number[]} values */
function sum(values) {
  return values.reduce((total, value) => total + value, 0);
}

/** @param {number[]} values */
function mean(values) {
  return values.length ? sum(values) / values.length : null;
}

/**
 * The factors' names for this parameter, as the lessons write them.
 * @param {{ output: boolean, bias: boolean, softmax: boolean, fused: boolean }} parameter
 */
function factorNames({ output, bias, softmax, fused }) {
  const activated = output ? "ŷ" : "a";
  if (fused) {
    return {
      upstream: "∂L/∂z = (p − y)/n",
      upstreamHint: "the loss and the output activation are fused: the loss hands back ∂L/∂z itself",
      local: "1",
      localHint: "already inside ∂L/∂z",
      input: bias ? "∂z/∂b = 1" : "∂z/∂W = x",
      inputHint: bias ? "a bias adds 1 times itself" : "the input activation on this link",
    };
  }
  if (softmax) {
    return {
      upstream: "∂L/∂z",
      upstreamHint: "softmax couples its outputs: the gradient reaches z as a whole",
      local: "1",
      localHint: "already inside ∂L/∂z",
      input: bias ? "∂z/∂b = 1" : "∂z/∂W = x",
      inputHint: bias ? "a bias adds 1 times itself" : "the input activation on this link",
    };
  }
  return {
    upstream: `∂L/∂${activated}`,
    upstreamHint: output ? "the loss's derivative at the prediction" : "handed back from the layer above",
    local: `∂${activated}/∂z = f′(z)`,
    localHint: "the activation's derivative",
    input: bias ? "∂z/∂b = 1" : "∂z/∂W = x",
    inputHint: bias ? "a bias adds 1 times itself" : "the input activation on this link",
  };
}

/** @typedef {{ layer: number, i: number | null, j: number | null }} Selection */
/** @typedef {ReturnType<typeof factorNames>} FactorNames */

export class ChainInspector {
  /**
   * session(): {id, token} of the session shown; describeLayer(k): "Layer 0 · hidden";
   * layerCount(): how many dense layers the network has.
   * @param {HTMLElement} container
   * @param {object} options
   * @param {() => { id: string, token: string } | null} options.session
   * @param {(k: number) => string} options.describeLayer
   * @param {() => number} options.layerCount
   */
  constructor(container, { session, describeLayer, layerCount }) {
    this.container = container;
    this.session = session;
    this.describeLayer = describeLayer;
    this.layerCount = layerCount;
    /** @type {Selection | null} */
    this.selection = null;
    /** @type {Frame | null} the latest frame: says whether the server has the numbers yet */
    this.frame = null;
    this.loader = new LatestLoader((signal) => this.load(signal), {
      onResult: (result) => this.show(result),
      onError: (error) => this.showError(error),
    });
  }

  /**
   * A click on the diagram: (layer, i, j) a link, (layer, null, j) a neuron, (−1, i, null) an input.
   * @param {number} layer
   * @param {number | null} i
   * @param {number | null} j
   */
  select(layer, i, j) {
    this.selection = { layer, i, j };
    if (layer < 0) {
      this.loader.cancel();
      this.showInput(i);
      return;
    }
    this.showPending();
    this.loader.now();
  }

  clear() {
    this.selection = null;
    this.loader.cancel();
  }

  /**
   * The session moved on (a frame): fetch the factors again, throttled.
   * @param {Frame} frame
   */
  refresh(frame) {
    this.frame = frame;
    if (this.selection && this.selection.layer >= 0) this.loader.request();
  }

  /**
   * @param {AbortSignal} signal
   * @returns {Promise<ChainResult>}
   */
  load(signal) {
    const session = this.session();
    if (!session) throw new Error("no session yet");
    const selection = this.selected();
    const unavailable = this.unavailable(selection);
    if (unavailable) throw unavailable;
    return api.getChain(session.id, session.token, selection, { signal });
  }

  /** The selection the shown parts are about: they are made only while there is one. */
  selected() {
    if (!this.selection) throw new Error("nothing is selected in the diagram");
    return this.selection;
  }

  /** Why the server would refuse (as it would: 409, 422), judged from the latest frame —
   *  so the page does not ask, and the browser logs no failed request.
   * @param {Selection} selection
   */
  unavailable(selection) {
    const layer = this.frame?.layers[selection.layer];
    if (!layer) return null;
    if (this.isBias() && (layer.b === null || layer.b === undefined)) {
      return new ApiError(422, "this network has no biases; give i for a weight", "i");
    }
    if (!layer.dW) return new ApiError(409, `layer ${selection.layer} has no backward pass yet`, "layer");
    return null;
  }

  isBias() {
    const { i } = this.selected();
    return i === null || i === undefined;
  }

  /** "W[0→1] of layer 0" / "b[1] of layer 1": the name the rest of the page uses. */
  selectionName() {
    const { layer, i, j } = this.selected();
    return this.isBias() ? `b[${j}] of layer ${layer}` : `W[${i}→${j}] of layer ${layer}`;
  }

  heading() {
    const { layer, i, j } = this.selected();
    const what = this.isBias() ? `bias of unit ${j}` : `weight from ${sourceName(layer, i)} to unit ${j}`;
    return createElement("dl", { className: "inspector", "data-testid": "inspector-values" }, [
      createElement("dt", { text: this.isBias() ? "bias" : "weight" }),
      createElement("dd", { text: `${this.selectionName()} (${this.describeLayer(layer).split(" · ")[1]}), ${what}` }),
    ]);
  }

  /**
   * @param {string} state
   * @param {Node[]} children
   */
  root(state, children) {
    const { layer, i, j } = this.selected();
    return createElement(
      "div",
      {
        className: "chain",
        "data-testid": "chain-inspector",
        "data-state": state,
        "data-layer": layer,
        "data-i": this.isBias() ? "" : i,
        "data-j": j,
      },
      [this.heading(), ...children],
    );
  }

  showPending() {
    this.container.replaceChildren(
      this.root("loading", [createElement("p", { className: "hint", text: "Fetching the chain rule's factors…" })]),
    );
  }

  /** @param {number | null} i */
  showInput(i) {
    this.container.replaceChildren(
      createElement("div", { className: "chain", "data-testid": "chain-inspector", "data-state": "input" }, [
        createElement("p", {
          text: `Input ${i} is the data, not a parameter: it has no gradient. It appears as the factor x = ∂z/∂W of every link leaving it — click one of them.`,
        }),
      ]),
    );
  }

  /** @param {Error & { status?: number, field?: string | null }} error */
  showError(error) {
    if (!this.selection || this.selection.layer < 0) return;
    const { layer } = this.selection;
    let message = error.message;
    let state = "error";
    if (error.status === 409) {
      state = "waiting";
      message =
        `Layer ${layer} has no ∂L/∂W yet in this batch: step to the backward pass of layer ${layer} ` +
        `(phase "backward · layer ${layer}"), or a whole batch. The numbers appear here as soon as it has run.`;
    } else if (error.status === 422 && error.field === "i") {
      state = "no-bias";
      message = "This network has no biases: click a link to see a weight's gradient.";
    }
    this.container.replaceChildren(
      this.root(state, [createElement("p", { className: "chain-message", "data-testid": "chain-message", text: message })]),
    );
  }

  /** @param {ChainResult} result */
  show(result) {
    if (!this.selection || result.layer !== this.selection.layer || result.j !== this.selection.j) return;
    const output = result.layer === this.layerCount() - 1;
    const names = factorNames({
      output,
      bias: this.isBias(),
      softmax: result.activation === "softmax",
      fused: result.fused,
    });
    const sumProducts = sum(result.products);
    const root = this.root("ok", [
      createElement("p", { className: "chain-value" }, [
        `${this.isBias() ? "b" : "W"} = `,
        numberElement("span", result.value, { "data-testid": "chain-parameter-value" }),
        ` · ${result.activation} · ${result.products.length} batch row${result.products.length === 1 ? "" : "s"}`,
      ]),
      this.formulas(output, result.formula, result.fused),
      this.factorTable(result, names),
      this.totals(result),
    ]);
    if (result.fused || result.activation === "softmax") {
      root.append(createElement("p", { className: "hint chain-note", "data-testid": "chain-note", text: result.note }));
    }
    root.append(createElement("p", { className: "hint chain-note", "data-testid": "chain-signs", text: SIGN_NOTE }));
    root.dataset.fused = String(result.fused);
    root.dataset.gradient = String(result.gradient);
    root.dataset.reported = String(result.reported);
    root.dataset.numeric = String(result.numeric);
    root.dataset.relativeError = String(result.relative_error);
    root.dataset.sumProducts = String(sumProducts);
    root.dataset.penalty = String(result.penalty);
    root.dataset.rows = String(result.products.length);
    this.container.replaceChildren(root);
  }

  /**
   * The lessons' formulas; `formula` (the server's, with this weight's indices) as a tooltip.
   * @param {boolean} output
   * @param {string} formula
   * @param {boolean} fused
   */
  formulas(output, formula, fused) {
    const lesson000 = output
      ? "∂L/∂W = ∂L/∂ŷ · ∂ŷ/∂z · ∂z/∂W"
      : "∂L/∂W = ∂L/∂a · ∂a/∂z · ∂z/∂W";
    const lines = [
      createElement("p", { className: "formula" }, [
        createElement("span", { className: "formula-source", text: "lesson 000, one weight: " }),
        createElement("span", { className: "formula-text", text: this.isBias() ? "∂L/∂b = ∂L/∂a · ∂a/∂z · 1" : lesson000 }),
      ]),
      createElement("p", { className: "formula" }, [
        createElement("span", { className: "formula-source", text: "lesson 003, the whole layer: " }),
        createElement("span", {
          className: "formula-text",
          text: this.isBias() ? "∂E/∂B = ∂E/∂Y (summed over the batch)" : "∂E/∂W = Xᵀ · ∂E/∂Y",
        }),
      ]),
      ...(fused
        ? [
            createElement("p", { className: "formula" }, [
              createElement("span", { className: "formula-source", text: "fused, as computed here: " }),
              createElement("span", {
                className: "formula-text",
                "data-testid": "chain-fused-formula",
                text: this.isBias() ? "∂L/∂b = Σ ∂L/∂z, ∂L/∂z = (p − y)/n" : "∂L/∂W = Σ ∂L/∂z · x, ∂L/∂z = (p − y)/n",
              }),
            ]),
          ]
        : []),
      createElement("p", {
        className: "formula-detail",
        text: fused
          ? "The loss and the output activation are fused: ∂L/∂ŷ · ∂ŷ/∂z taken together is (p − y)/n, " +
            "exact even when the output saturates, so the table's upstream factor is ∂L/∂z and the local factor 1."
          : this.isBias()
          ? "Each row s adds ∂L/∂a · f′(z) of this unit; the sum over the batch is the gradient."
          : "This entry of Xᵀ · ∂E/∂Y is Σ over rows s of x[s, i] · ∂E/∂Y[s, j], where ∂E/∂Y of the " +
            "FCLayer is ∂L/∂a · f′(z): the three factors of the table, row by row.",
      }),
    ];
    return createElement("div", { className: "formulas", title: formula }, lines);
  }

  /**
   * @param {ChainResult} result
   * @param {FactorNames} names
   */
  factorTable(result, names) {
    const rows = result.products.length;
    // A fused layer keeps its separate factors: ∂L/∂ŷ through the activation's derivative.
    const separate = Array.isArray(result.separate) ? result.separate : null;
    const separateHead = separate
      ? [
          createElement("th", {
            scope: "col",
            title:
              "∂L/∂z taken apart: ∂L/∂ŷ times the activation's derivative. Equal to rounding " +
              "unless the output saturates, where it loses the gradient: why the layer is fused",
            text: "apart: ∂L/∂ŷ · ∂ŷ/∂z",
          }),
        ]
      : [];
    const head = createElement("tr", {}, [
      createElement("th", { scope: "col", text: "row s" }),
      ...separateHead,
      createElement("th", { scope: "col", title: names.upstreamHint, text: names.upstream }),
      createElement("th", { scope: "col", title: names.localHint, text: names.local }),
      createElement("th", { scope: "col", title: names.inputHint, text: names.input }),
      createElement("th", { scope: "col", text: "product" }),
    ]);
    const body = result.products.map((product, s) =>
      createElement("tr", {}, [
        createElement("th", { scope: "row", text: String(s) }),
        ...(separate ? [numberElement("td", separate[s], { "data-factor": "separate", "data-row": s })] : []),
        numberElement("td", result.upstream[s], { "data-factor": "upstream", "data-row": s }),
        numberElement("td", result.local[s], { "data-factor": "local", "data-row": s }),
        numberElement("td", result.input[s], { "data-factor": "input", "data-row": s }),
        numberElement("td", product, { "data-factor": "product", "data-row": s }),
      ]),
    );
    const foot = createElement("tr", { className: "factor-summary" }, [
      createElement("th", { scope: "row", text: rows > ROWS_SHOWN_IN_FULL ? "mean / Σ" : "Σ" }),
      ...(separate ? [rows > ROWS_SHOWN_IN_FULL ? numberElement("td", mean(separate)) : createElement("td")] : []),
      rows > ROWS_SHOWN_IN_FULL ? numberElement("td", mean(result.upstream)) : createElement("td"),
      rows > ROWS_SHOWN_IN_FULL ? numberElement("td", mean(result.local)) : createElement("td"),
      rows > ROWS_SHOWN_IN_FULL ? numberElement("td", mean(result.input)) : createElement("td"),
      numberElement("td", sum(result.products), { "data-factor": "sum" }),
    ]);
    const table = createElement("table", { className: "values-table factor-table", "data-testid": "chain-factors" }, [
      createElement("caption", {
        text:
          rows > ROWS_SHOWN_IN_FULL
            ? `Factors per batch row (${rows} rows; scroll): the last row gives their means and the products' sum.`
            : "Factors per batch row: their product, summed over the batch, is the gradient.",
      }),
      createElement("thead", {}, [head]),
      createElement("tbody", {}, body),
      createElement("tfoot", {}, [foot]),
    ]);
    const scroller = createElement("div", { className: `table-scroll${rows > ROWS_SHOWN_IN_FULL ? " tall" : ""}` }, [table]);
    if (rows > ROWS_SHOWN_IN_FULL) scroller.setAttribute("tabindex", "0"); // scrollable by keyboard
    return scroller;
  }

  /** @param {ChainResult} result */
  totals(result) {
    const symbol = this.isBias() ? "∂L/∂b" : "∂L/∂W";
    const matches = result.reported !== null && result.equal_to_rounding;
    const tolerance = result.tolerance; // fit for the session's dtype, as GET …/gradcheck judges
    const verdict = gradientVerdict(result.reported, result.numeric, tolerance);
    const difference = result.reported === null ? null : Math.abs(result.reported - result.numeric);
    const verdictText = {
      relative: ` ✓ below ${tolerance.toExponential(0)}`,
      absolute:
        ` ✓ the difference ${Number(difference).toExponential(1)} is below ${ABSOLUTE_TOLERANCE.toExponential(0)}:` +
        " this gradient is so close to 0 that rounding in the central difference (about 1e-11)" +
        " decides its relative error, so the check uses the absolute difference",
      fail: ` ✗ above ${tolerance.toExponential(0)}`,
    }[verdict];
    /**
     * @param {string} testid
     * @param {(Node | string)[]} children
     */
    const line = (testid, children) => createElement("p", { className: "total-line", "data-testid": testid }, children);
    const lines = [
      line("chain-sum", [
        `Σ products${result.penalty ? " + penalty " : ""}`,
        ...(result.penalty ? [numberElement("span", result.penalty)] : []),
        ` = ${symbol} = `,
        numberElement("strong", result.gradient, { "data-testid": "chain-gradient" }),
      ]),
      line("chain-reported", [
        `heatmap ${symbol} = `,
        numberElement("strong", result.reported, { "data-testid": "chain-reported-value" }),
        createElement("span", {
          className: `verdict ${matches ? "pass" : "fail"}`,
          title: "Σ products and the matrix product xᵀ·δ add the same rows in different orders: they may differ in the last bits",
          text: matches ? " ✓ equal to rounding" : " ✗ differs by more than rounding",
        }),
      ]),
      line("chain-numeric", [
        "numeric (central difference) = ",
        numberElement("strong", result.numeric, { "data-testid": "chain-numeric-value" }),
        ", relative error ",
        createElement("span", {
          className: "number",
          "data-value": String(result.relative_error),
          title: String(result.relative_error),
          text: result.relative_error === null ? "–" : Number(result.relative_error).toExponential(1),
        }),
        createElement("span", {
          className: `verdict ${verdict === "fail" ? "fail" : "pass"}`,
          "data-testid": "chain-verdict",
          "data-verdict": verdict,
          text: verdictText,
        }),
      ]),
    ];
    return createElement("div", { className: "chain-totals" }, lines);
  }
}
