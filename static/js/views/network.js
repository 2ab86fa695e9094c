// @ts-check
// The network diagram: a column of neurons per layer and a line per weight, coloured by sign
// and wider with magnitude — of W normally, of ∂L/∂W while the backward pass runs, when the
// neurons show mean |δ| and the layer being processed is highlighted.
//
// Links, neurons and the highlight are Plotly layout shapes, so a frame is one relayout of
// the shapes (Plotly redraws only those). One invisible trace of points along the
// links and on the neurons catches hover and click; the hover box is our own element,
// filled from the latest frame, so it shows exact values that stay current while playing.
import { BASE_LAYOUT, StableRange } from "../charts.js";
import { DIVERGING, IDLE_LINK, MAGNITUDE, NEGATIVE, POSITIVE, scaleInterpolator } from "../colors.js";
import { createElement } from "../dom.js";
import { PLOT_CONFIG, Plotly } from "../plotly.js";
import { activeLayerOf } from "../state.js";
import { forwardLayers, gridOver, planeOf } from "../forward.js";
import { ChartText } from "../chart-text.js";
import { formatNumber, layerName, layerTitle, unitName, weightName } from "../words.js";
/** @import { Dataset, Frame, LayerSpec, Matrix } from "../protocol.js" */
/** @import { Rgb } from "../colors.js" */

/**
 * What the diagram points at, as onClick takes it: [layer, i, j] a link W[i→j] of `layer`,
 * [layer, null, j] a neuron, [−1, i, null] an input.
 * @typedef {[number, number | null, number | null]} Item
 */
/** @typedef {[number, number, number]} ItemIndices an Item read where its kind has i and j */
/** @typedef {{ x: number, y: number }} Point a place in the diagram's coordinates */
/** @typedef {{ k: number, i: number, j: number, from: Point, to: Point }} Link */
/**
 * The drawn network: what setStructure works out once per shape.
 * @typedef {object} Structure
 * @property {string[]} featureNames
 * @property {LayerSpec[]} layers
 * @property {number[]} columns units per column (the inputs first)
 * @property {number[]} drawn units drawn per column
 * @property {number} tallest
 * @property {Link[]} links
 * @property {({ k: number, j: number } & Point)[]} units
 * @property {({ i: number } & Point)[]} inputs
 * @property {({ data: Item } & Point)[]} targets what the mouse finds
 */
/** @typedef {"weights" | "gradients"} Mode what the links show */

const MAX_DRAWN_UNITS = 16; // per column; a wider layer shows its first units, says how many more
const MAX_LINKS = 320; // lines in all: past that, columns show fewer units
const MIN_WIDTH = 0.5;
const MAX_WIDTH = 7;
const NODE_PIXELS = 26;
// Where along a link its hover/click target sits. Crossing links share their midpoint
// (0.5 would make one of them unclickable); at 0.62 no two links of ≤ 16 units meet.
const LINK_TARGET_AT = 0.62;
// Each neuron's picture: its output over the input plane (2-D data), a THUMB × THUMB grid,
// redrawn at most every THUMB_INTERVAL_MS while frames arrive.
const THUMB = 14;
const THUMB_INTERVAL_MS = 250;
const LABEL_CHAR_PIXELS = 7; // an input name's character at 12 px
const LINK_CLICK_PIXELS = 6; // a click this close to a link selects it
const HIGHLIGHT_FILL = "rgba(255, 196, 0, 0.18)";
const HIGHLIGHT_LINE = "#c99700";
const GUIDE_FILL = "rgba(46, 139, 87, 0.16)"; // the lesson guide's step: green, unlike a phase
const GUIDE_LINE = "#2e8b57";
const SELECTED_LINE = "rgba(26, 115, 232, 0.45)"; // the inspected link or neuron
const INPUT_FILL = "#eeeeee";
const FOCUS_LINE = "#111111"; // the keyboard's item: a dark dotted ring or line, unlike a selection
// The keyboard's walk, said beside the diagram while it has focus (and to screen readers).
const KEYS_HINT =
  "Keys: ← → layers, ↑ ↓ units, W a unit's incoming weights (Shift+W back; on a weight ↑ ↓ the next " +
  "one, ← → its ends), Enter the chain rule, E set this value, A ask the class about it.";

const diverging = scaleInterpolator(DIVERGING);
const magnitude = scaleInterpolator(MAGNITUDE);
/** @param {Rgb} rgb */
const css = ([r, g, b]) => `rgb(${r},${g},${b})`;


/** @param {number | null | undefined} value */
function fmt(value) {
  if (value === null || value === undefined) return "–";
  return Number(value).toPrecision(4);
}

/**
 * @param {Matrix | null | undefined} rows
 * @param {(v: number) => number} [transform]
 */
function columnMeans(rows, transform = (v) => v) {
  if (!rows || !rows.length) return null;
  const means = new Array(rows[0].length).fill(0);
  for (const row of rows)
    row.forEach((v, j) => {
      means[j] += transform(v);
    });
  return means.map((sum) => sum / rows.length);
}

/**
 * How many units of each column to draw so that the lines stay under MAX_LINKS.
 * @param {number[]} columns
 */
function drawnUnits(columns) {
  let cap = MAX_DRAWN_UNITS;
  const drawn = () => columns.map((n) => Math.min(n, cap));
  /** @param {number[]} d */
  const links = (d) => d.slice(1).reduce((sum, n, c) => sum + n * d[c], 0);
  while (cap > 2 && links(drawn()) > MAX_LINKS) cap -= 1;
  return drawn();
}

/**
 * Pixels from (x, y) to the segment a–b (each {px, py}).
 * @param {number} x
 * @param {number} y
 * @param {{ px: number, py: number }} a
 * @param {{ px: number, py: number }} b
 */
function distanceToSegment(x, y, a, b) {
  const dx = b.px - a.px;
  const dy = b.py - a.py;
  const lengthSquared = dx * dx + dy * dy;
  const t = lengthSquared ? Math.max(0, Math.min(1, ((x - a.px) * dx + (y - a.py) * dy) / lengthSquared)) : 0;
  return Math.hypot(x - (a.px + t * dx), y - (a.py + t * dy));
}

/**
 * A neuron: a square of fixed pixel size centred on its place in the diagram.
 * @param {number} x
 * @param {number} y
 * @param {string} fill
 * @param {string} border
 * @param {number} width
 */
function nodeShape(x, y, fill, border, width) {
  const half = NODE_PIXELS / 2;
  return {
    type: "rect",
    xref: "x",
    yref: "y",
    xsizemode: "pixel",
    ysizemode: "pixel",
    xanchor: x,
    yanchor: y,
    x0: -half,
    x1: half,
    y0: -half,
    y1: half,
    fillcolor: fill,
    line: { color: border, width },
    layer: "above",
  };
}

export class NetworkDiagram {
  /** onClick(layer, i, j): a link W[i→j] of `layer`, a neuron (layer, null, j), or an
   *  input (−1, i, null).
   * @param {HTMLElement} element
   * @param {object} options
   * @param {(...item: Item) => void} options.onClick
   * @param {{ fraction: number, least: number }} options.gridMargin
   * @param {(...item: Item) => void} [options.onEdit]
   * @param {(...item: Item) => void} [options.onAsk]
   */
  constructor(element, { onClick, gridMargin, onEdit = () => {}, onAsk = () => {} }) {
    this.element = element;
    this.onClick = onClick;
    this.onEdit = onEdit; // after a click by keyboard: E goes on to "set this value"
    this.onAsk = onAsk; // and A to "ask the class about it"
    /** @type {Item | null} the keyboard's item */
    this.focused = null;
    this.keyboardFocus = false; // focused by the keyboard (Tab, a key), not only a click
    this.gridMargin = gridMargin; // the boundary grid's room past the points (the server's)
    /** @type {string} "auto", or a Mode */
    this.mode = "auto";
    /** @type {Structure | null} */
    this.structure = null;
    /** @type {PlotlyObject[]} the layout's "+n more" notes */
    this.moreUnits = [];
    /** @type {Frame | null} */
    this.frame = null;
    /** @type {Item | null} customdata of the point under the mouse */
    this.hovered = null;
    this.tooltipAt = { left: 0, top: 0 };
    /** @type {{ layer: number | null, part: string } | null} where the lesson guide's step lives */
    this.guide = null;
    /** @type {Item | null} the inspected link or neuron */
    this.selected = null;
    this.weightRange = new StableRange();
    this.gradientRange = new StableRange();
    this.biasRange = new StableRange();
    this.deltaRange = new StableRange();
    this.tooltip = createElement("div", {
      className: "diagram-tooltip",
      role: "tooltip",
      "data-testid": "diagram-tooltip",
      hidden: true,
    });
    element.after(this.tooltip);
    const { keysLine, focusLine, text } = this.bindKeys();
    this.keysLine = keysLine; // the keys' hint, shown while the diagram has focus
    this.focusLine = focusLine; // the keyboard's item, in words
    this.text = text;
    this.eventsBound = false;
    // A new size (presenter mode, a window resized): the pictures are sized in pixels.
    new ResizeObserver(() => requestAnimationFrame(() => this.draw())).observe(element);
    /** @type {Matrix | null} the input plane's grid rows as inputs, for 2-D data */
    this.plane = null;
    /** @type {string[]} layout images, one per drawn neuron */
    this.thumbnails = [];
    this.thumbnailsAt = 0;
    this.thumbCanvas = Object.assign(document.createElement("canvas"), { width: THUMB, height: THUMB });
  }

  /** The dataset: when its inputs live on the plane (x1, x2), each neuron shows its output
   *  over it.
   * @param {Dataset} dataset
   */
  setPlane(dataset) {
    const plane = planeOf(dataset);
    this.plane = plane ? gridOver([...plane.train, ...plane.test], THUMB, this.gridMargin).rows.map(plane.inputs) : null;
    this.thumbnails = [];
    this.thumbnailsAt = 0;
  }

  /** @param {string} mode "auto", "weights" or "gradients" */
  setMode(mode) {
    this.mode = mode;
  }

  /**
   * A new network shape: inputs (feature names) and [{units, activation}]; scales restart.
   * @param {string[]} featureNames
   * @param {LayerSpec[]} layers
   */
  setStructure(featureNames, layers) {
    const columns = [featureNames.length, ...layers.map((layer) => layer.units)];
    const drawn = drawnUnits(columns);
    const tallest = Math.max(...drawn);
    /**
     * @param {number} c
     * @param {number} i
     * @returns {Point}
     */
    const position = (c, i) => ({ x: c + 0.5, y: (drawn[c] - 1) / 2 - i });
    /** @type {Link[]} */
    const links = [];
    for (let k = 0; k < layers.length; k += 1) {
      for (let i = 0; i < drawn[k]; i += 1) {
        for (let j = 0; j < drawn[k + 1]; j += 1) {
          links.push({ k, i, j, from: position(k, i), to: position(k + 1, j) });
        }
      }
    }
    const units = [];
    for (let k = 0; k < layers.length; k += 1) {
      for (let j = 0; j < drawn[k + 1]; j += 1) units.push({ k, j, ...position(k + 1, j) });
    }
    const inputs = Array.from({ length: drawn[0] }, (_, i) => ({ i, ...position(0, i) }));
    /** @type {(x: number, y: number, data: Item) => Structure["targets"][number]} */
    const target = (x, y, data) => ({ x, y, data });
    const targets = [
      ...links.map(({ k, i, j, from, to }) =>
        target(from.x + LINK_TARGET_AT * (to.x - from.x), from.y + LINK_TARGET_AT * (to.y - from.y), [k, i, j]),
      ),
      ...units.map(({ k, j, x, y }) => target(x, y, [k, null, j])),
      ...inputs.map(({ i, x, y }) => target(x, y, [-1, i, null])),
    ];
    this.structure = { featureNames, layers, columns, drawn, tallest, links, units, inputs, targets };
    for (const range of [this.weightRange, this.gradientRange, this.biasRange, this.deltaRange]) {
      range.reset();
    }
    this.frame = null;
    this.hovered = null;
    this.selected = null;
    this.focused = null;
    this.tooltip.hidden = true;
    Plotly.react(this.element, this.traces(), this.layout([]), PLOT_CONFIG);
    this.bindEvents();
  }

  /**
   * The lesson guide's step to highlight ({layer, part}), or null; the DOM says it at once.
   * @param {{ layer: number | null, part: string } | null} guide
   */
  setGuideHighlight(guide) {
    this.guide = guide;
    this.element.dataset.guideLayer = guide && guide.layer !== null ? String(guide.layer) : "";
    this.element.dataset.guidePart = guide ? guide.part : "";
    this.draw();
  }

  /**
   * Mark the inspected link (layer, i, j) or neuron (layer, null, j); null clears.
   * @param {Item | null} selection
   */
  setSelected(selection) {
    this.selected = selection;
    this.draw();
  }

  /**
   * @param {Frame} frame
   * @returns {string} a Mode, unless the mode set is another
   */
  effectiveMode(frame) {
    if (this.mode !== "auto") return this.mode;
    return frame.phase?.kind === "backward" ? "gradients" : "weights";
  }

  /** The structure setStructure built: the drawing helpers run only after it. */
  get built() {
    if (!this.structure) throw new Error("the network diagram has no network yet: setStructure first");
    return this.structure;
  }

  /**
   * Take a frame in: the DOM says at once which layer is active, the drawing may wait.
   * @param {Frame} frame
   */
  ingest(frame) {
    this.frame = frame;
    const activeLayer = activeLayerOf(frame.phase);
    this.element.dataset.activeLayer = activeLayer === null ? "" : String(activeLayer);
    this.element.dataset.activePhase = frame.phase ? frame.phase.kind : "";
    this.element.dataset.mode = this.effectiveMode(frame);
  }

  draw() {
    const frame = this.frame;
    if (!this.structure || !frame) return;
    const mode = this.effectiveMode(frame);
    const activeLayer = activeLayerOf(frame.phase);
    const atLoss = frame.phase?.kind === "loss";
    let band = this.highlightShapes(activeLayer);
    if (this.guide) band = this.guideShapes(this.guide);
    else if (atLoss) band = this.lossShapes();
    const shapes = [
      ...band,
      ...this.selectedShapes(),
      ...this.focusShapes(),
      ...this.linkShapes(frame, mode),
      ...this.nodeShapes(frame, mode, activeLayer),
    ];
    const annotations = [...this.moreUnits, ...(atLoss ? this.lossAnnotations(frame) : [])];
    Plotly.relayout(this.element, { shapes, images: this.neuronPictures(frame, mode), annotations });
    if (this.hovered) this.showTooltip();
    this.text.update();
    if (this.focused && this.hasFocus()) this.announce();
  }

  /** Layout images: each neuron's output over the input plane, coloured as the boundary is
   *  (orange negative, blue positive). None during the backward pass, when the neurons show
   *  |δ| instead.
   * @param {Frame} frame
   * @param {string} mode
   */
  neuronPictures(frame, mode) {
    if (!this.plane || mode === "gradients") return [];
    const now = performance.now();
    if (!this.thumbnails.length || now - this.thumbnailsAt >= THUMB_INTERVAL_MS) {
      this.thumbnailsAt = now;
      const activations = forwardLayers(frame.layers, this.plane);
      this.thumbnails = this.built.units.map(({ k, j }) =>
        this.paint(activations[k].map((row) => row[j])),
      );
    }
    // Sized from the element as it is now (the layout's margins are 0 left and right, 4 px
    // top and bottom), so a resize never stretches them.
    const top = (this.built.tallest - 1) / 2;
    const xPerPixel = this.built.columns.length / Math.max(1, this.element.clientWidth);
    const yPerPixel = (2 * top + 1.4) / Math.max(1, this.element.clientHeight - 8);
    this.element.dataset.thumbnails = String(this.thumbnails.length);
    return this.built.units.map(({ x, y }, n) => ({
      source: this.thumbnails[n],
      xref: "x",
      yref: "y",
      x,
      y,
      sizex: NODE_PIXELS * xPerPixel,
      sizey: NODE_PIXELS * yPerPixel,
      xanchor: "center",
      yanchor: "middle",
      sizing: "stretch",
      layer: "above",
    }));
  }

  /**
   * THUMB × THUMB values (row by row, y growing upwards) as a PNG data URL.
   * @param {number[]} values
   */
  paint(values) {
    const context = this.thumbCanvas.getContext("2d");
    if (!context) throw new Error("this browser draws no 2-D canvas");
    const image = context.createImageData(THUMB, THUMB);
    const limit = Math.max(1e-9, ...values.map(Math.abs));
    values.forEach((value, index) => {
      const row = THUMB - 1 - Math.floor(index / THUMB); // the grid's first row is its lowest y
      const column = index % THUMB;
      const [r, g, b] = diverging(0.5 + value / (2 * limit));
      const at = 4 * (row * THUMB + column);
      image.data.set([r, g, b, 255], at);
    });
    context.putImageData(image, 0, 0);
    return this.thumbCanvas.toDataURL();
  }

  // ----- the figure: static traces, shapes per frame -----------------------------------

  traces() {
    const { targets, inputs, featureNames } = this.built;
    return [
      {
        // what the mouse finds: points along the links, neurons, inputs
        type: "scatter",
        mode: "markers",
        x: targets.map((t) => t.x),
        y: targets.map((t) => t.y),
        customdata: targets.map((t) => t.data),
        hoverinfo: "none",
        marker: { size: 14, color: "rgba(0,0,0,0)" },
      },
      {
        // the inputs' names
        type: "scatter",
        mode: "text",
        x: inputs.map((input) => input.x - this.labelGap()),
        y: inputs.map((input) => input.y),
        text: featureNames.slice(0, inputs.length).map((name) => this.fitLabel(name)),
        textposition: "middle left",
        textfont: { size: 12, color: "#333" },
        hoverinfo: "skip",
      },
    ];
  }

  /** An input's name, shortened with "…" to the room left of its column (hovering the input
   *  shows it in full), never cut at its start.
   * @param {string} name
   */
  fitLabel(name) {
    const room = this.columnPixels() * (0.5 - this.labelGap()) - 4;
    const fits = Math.max(4, Math.floor(room / LABEL_CHAR_PIXELS));
    return name.length <= fits ? name : `${name.slice(0, fits - 1)}…`;
  }

  /** A column's width on the screen, in pixels. */
  columnPixels() {
    return this.element.clientWidth / this.built.columns.length;
  }

  /** How far left of an input's centre its name ends, in x units: clear of the node (half
   *  its width and 4 px) on a phone's narrow columns as on a wide screen's. */
  labelGap() {
    return Math.max(0.12, (NODE_PIXELS / 2 + 4) / this.columnPixels());
  }

  /** @param {PlotlyObject[]} shapes */
  layout(shapes) {
    const { columns, drawn, tallest } = this.built;
    const top = (tallest - 1) / 2;
    /** @type {PlotlyObject[]} */
    const annotations = [];
    this.moreUnits = annotations; // drawn again with each frame's own annotations
    columns.forEach((n, c) => {
      if (n > drawn[c]) {
        annotations.push({
          x: c + 0.5,
          y: -top - 0.75,
          xref: "x",
          yref: "y",
          showarrow: false,
          text: `+${n - drawn[c]} more`,
          font: { size: 10, color: "#777" },
        });
      }
    });
    return {
      ...BASE_LAYOUT,
      plot_bgcolor: "rgba(0,0,0,0)",
      margin: { l: 0, r: 0, t: 4, b: 4 },
      showlegend: false,
      hovermode: "closest",
      dragmode: false,
      xaxis: { range: [0, columns.length], visible: false, fixedrange: true },
      yaxis: { range: [-top - 0.8, top + 0.6], visible: false, fixedrange: true },
      annotations,
      shapes,
    };
  }

  /** @param {number | null} activeLayer */
  highlightShapes(activeLayer) {
    if (activeLayer === null) return [];
    const top = (this.built.tallest - 1) / 2;
    return [
      {
        // the active layer's band: its incoming links and its neurons
        name: "highlight",
        type: "rect",
        layer: "below",
        xref: "x",
        yref: "y",
        x0: activeLayer + 0.62,
        x1: activeLayer + 1.85,
        y0: -top - 0.6,
        y1: top + 0.6,
        fillcolor: HIGHLIGHT_FILL,
        line: { color: HIGHLIGHT_LINE, width: 1.5, dash: "dot" },
      },
    ];
  }

  /** The loss phase's band: around the output column, where the loss compares ŷ with y. */
  lossShapes() {
    const top = (this.built.tallest - 1) / 2;
    const count = this.built.layers.length;
    return [
      {
        name: "highlight",
        type: "rect",
        layer: "below",
        xref: "x",
        yref: "y",
        x0: count + 0.15,
        x1: count + 0.98,
        y0: -top - 0.6,
        y1: top + 0.6,
        fillcolor: HIGHLIGHT_FILL,
        line: { color: HIGHLIGHT_LINE, width: 1.5, dash: "dot" },
      },
    ];
  }

  /** The loss phase's numbers: the batch's loss above the output column, and under each
   *  output neuron its ∂L/∂ŷ (mean over the batch), the error the backward pass starts from.
   * @param {Frame} frame
   */
  lossAnnotations(frame) {
    const top = (this.built.tallest - 1) / 2;
    const count = this.built.layers.length;
    const error = frame.layers[count - 1]?.output_error_mean;
    /**
     * @param {string} text
     * @param {number} x
     * @param {number} y
     * @param {number} yshift
     */
    const label = (text, x, y, yshift) => ({
      x,
      y,
      yshift,
      xref: "x",
      yref: "y",
      showarrow: false,
      text,
      font: { size: 12, color: "#333" },
      bgcolor: "rgba(255,255,255,0.8)",
    });
    const notes = [label(`loss ${formatNumber(frame.batch_loss)}`, count + 0.5, top + 0.3, 0)];
    if (error) {
      for (const { k, j, x, y } of this.built.units) {
        if (k === count - 1) notes.push(label(`∂L/∂ŷ ${formatNumber(error[j])}`, x, y, -NODE_PIXELS));
      }
    }
    return notes;
  }

  /** The guide's band: a layer (forward, backward), right of the output (the loss), or
   *  every layer's links (the update).
   * @param {{ layer: number | null, part: string }} guide
   */
  guideShapes({ layer, part }) {
    const top = (this.built.tallest - 1) / 2;
    const count = this.built.layers.length;
    let x0;
    let x1;
    if (part === "update") [x0, x1] = [0.62, count + 0.85];
    else if (layer === null || layer === undefined) [x0, x1] = [count + 0.15, count + 0.98];
    else [x0, x1] = [layer + 0.62, layer + 1.85];
    return [
      {
        name: "guide",
        type: "rect",
        layer: "below",
        xref: "x",
        yref: "y",
        x0,
        x1,
        y0: -top - 0.6,
        y1: top + 0.6,
        fillcolor: GUIDE_FILL,
        line: { color: GUIDE_LINE, width: 2, dash: "dash" },
      },
    ];
  }

  /** A wide soft line under the inspected link, or a ring around the inspected neuron. */
  selectedShapes() {
    if (!this.selected) return [];
    const [k, i, j] = this.selected;
    if (i !== null && i !== undefined) {
      const link = this.built.links.find((l) => l.k === k && l.i === i && l.j === j);
      if (!link) return [];
      const { from, to } = link;
      return [
        {
          name: "selected",
          type: "line",
          layer: "below",
          xref: "x",
          yref: "y",
          x0: from.x,
          y0: from.y,
          x1: to.x,
          y1: to.y,
          line: { color: SELECTED_LINE, width: MAX_WIDTH + 8 },
        },
      ];
    }
    const unit = this.built.units.find((u) => u.k === k && u.j === j);
    if (!unit) return [];
    const ring = nodeShape(unit.x, unit.y, "rgba(0,0,0,0)", SELECTED_LINE, 6);
    return [{ ...ring, name: "selected", x0: ring.x0 - 5, x1: ring.x1 + 5, y0: ring.y0 - 5, y1: ring.y1 + 5 }];
  }

  /**
   * @param {Frame} frame
   * @param {string} mode
   */
  linkShapes(frame, mode) {
    const gradients = mode === "gradients";
    const range = gradients ? this.gradientRange : this.weightRange;
    let limit = 1e-12;
    for (const layer of frame.layers) {
      const values = gradients ? layer.dW : layer.W;
      if (values) limit = range.cover(values);
    }
    return this.built.links.map(({ k, i, j, from, to }) => {
      const values = gradients ? frame.layers[k].dW : frame.layers[k].W;
      const value = values ? values[i][j] : null;
      const idle = value === null || value === undefined; // ∂L/∂W of a layer not reached yet
      const width = idle ? 1 : MIN_WIDTH + (MAX_WIDTH - MIN_WIDTH) * Math.min(1, Math.abs(value) / limit);
      return {
        name: `link ${k} ${i} ${j}`,
        type: "line",
        layer: "below",
        xref: "x",
        yref: "y",
        x0: from.x,
        y0: from.y,
        x1: to.x,
        y1: to.y,
        opacity: 0.85,
        line: {
          color: idle ? IDLE_LINK : value < 0 ? NEGATIVE : POSITIVE,
          width,
          dash: idle ? "dot" : "solid",
        },
      };
    });
  }

  /**
   * @param {Frame} frame
   * @param {string} mode
   * @param {number | null} activeLayer
   */
  nodeShapes(frame, mode, activeLayer) {
    const gradients = mode === "gradients";
    const perLayer = frame.layers.map((layer) => ({
      bias: layer.b,
      deltaMagnitude: columnMeans(layer.delta, Math.abs),
    }));
    const colorRange = gradients ? this.deltaRange : this.biasRange;
    let limit = 1e-12;
    for (const values of perLayer) {
      const shown = gradients ? values.deltaMagnitude : values.bias;
      if (shown) limit = colorRange.cover([shown]);
    }
    // The loss phase: the output neurons show ∂L/∂ŷ (mean over the batch), by sign.
    const atLoss = frame.phase?.kind === "loss";
    const outputLayer = frame.layers.length - 1;
    const error = frame.layers[outputLayer]?.output_error_mean;
    const errorLimit = Math.max(1e-12, ...(error ?? []).map(Math.abs));
    const inputs = this.built.inputs.map(({ x, y }) => nodeShape(x, y, INPUT_FILL, "#777", 1));
    const units = this.built.units.map(({ k, j, x, y }) => {
      const { bias, deltaMagnitude } = perLayer[k];
      let fill;
      if (gradients) fill = css(magnitude((deltaMagnitude?.[j] ?? 0) / limit));
      else if (this.plane) fill = "rgba(0,0,0,0)"; // the neuron's picture shows through
      else fill = css(diverging(0.5 + (bias?.[j] ?? 0) / (2 * limit)));
      const active = k === activeLayer || (atLoss && k === outputLayer);
      if (atLoss && k === outputLayer) fill = css(diverging(0.5 + (error?.[j] ?? 0) / (2 * errorLimit)));
      return nodeShape(x, y, fill, active ? HIGHLIGHT_LINE : "#666", active ? 3 : 1);
    });
    return [...inputs, ...units];
  }

  // ----- the keyboard: one tab stop, arrows between neurons and weights --------------------

  /** The diagram is one tab stop (a roving cursor inside it); the item under the cursor is
   *  drawn with a dark dotted ring and said in a live line under the diagram. */
  bindKeys() {
    const element = this.element;
    element.tabIndex = 0;
    element.setAttribute("role", "application");
    element.setAttribute("aria-roledescription", "network diagram");
    const focusLine = createElement("p", {
      className: "diagram-focus",
      "data-testid": "diagram-focus",
      role: "status",
      "aria-live": "polite",
    });
    const keysLine = createElement("div", { className: "diagram-keys", "data-testid": "diagram-keys", hidden: true }, [
      focusLine,
      createElement("p", { id: "diagram-keys-hint", className: "hint", text: KEYS_HINT }),
    ]);
    this.tooltip.after(keysLine);
    element.setAttribute("aria-describedby", "diagram-keys-hint");
    const text = new ChartText(element, {
      label: "Weights",
      role: null,
      name: () => this.accessibleName(),
      table: () => this.parameterTable(),
    });
    element.addEventListener("focus", () => {
      // The cursor's ring and the keys' line are for the keyboard: a tap or a click that
      // focuses the diagram shows neither until a key is pressed (:focus-visible says which).
      this.keyboardFocus = element.matches(":focus-visible");
      keysLine.hidden = !this.keyboardFocus;
      if (!this.focused && this.structure) this.focused = [-1, 0, null];
      this.draw();
      this.announce();
    });
    element.addEventListener("blur", () => {
      this.keyboardFocus = false;
      keysLine.hidden = true;
      this.draw();
    });
    element.addEventListener("keydown", (event) => this.onKey(event));
    return { keysLine, focusLine, text };
  }

  /** The diagram has the keyboard's focus (not only a click's). */
  hasFocus() {
    return document.activeElement === this.element && this.keyboardFocus;
  }

  /** What the diagram shows, for its accessible name. */
  accessibleName() {
    if (!this.structure) return "Network diagram";
    const { featureNames, layers } = this.built;
    const count = layers.length;
    const parts = layers.map(
      (layer, k) => `${layerName(k, count)} ${layer.units} unit${layer.units === 1 ? "" : "s"} ${layer.activation ?? ""}`.trim(),
    );
    const shown = this.frame && this.effectiveMode(this.frame) === "gradients" ? "gradients ∂L/∂W" : "weights";
    return `Network diagram, showing ${shown}: ${featureNames.length} inputs (${featureNames.join(", ")}), ${parts.join(", ")}`;
  }

  /** Every drawn weight and bias with its value and gradient, for "Show as table". */
  parameterTable() {
    if (!this.structure || !this.frame) return null;
    const count = this.built.layers.length;
    const rows = [];
    for (const { k, i, j } of this.built.links) {
      const layer = this.frame.layers[k];
      rows.push([`W[${i}→${j}] of layer ${k}`, this.sourceWords(k, i), `${unitName(k, j, count)}`, layer.W[i][j], layer.dW ? layer.dW[i][j] : null]);
    }
    for (const { k, j } of this.built.units) {
      const layer = this.frame.layers[k];
      if (layer.b) rows.push([`b[${j}] of layer ${k}`, "bias", unitName(k, j, count), layer.b[j], layer.db ? layer.db[j] : null]);
    }
    return {
      caption: "The network's weights and biases as drawn (– where ∂L/∂W is not computed yet)",
      columns: ["parameter", "from", "to", "value", "∂L/∂ (gradient)"],
      rows,
    };
  }

  /**
   * Where weight W[i→j] of layer k starts, an input named by its feature.
   * @param {number} k
   * @param {number} i
   */
  sourceWords(k, i) {
    if (k > 0) return unitName(k - 1, i, this.built.layers.length);
    return `input ${i} (${this.built.featureNames[i]})`;
  }

  /** The keyboard item in words, with its value: "Weight W[0→1] of layer 1 (output), from
   *  unit 0 of layer 0 (hidden) to unit 1 of layer 1 (output): W = 0.3400".
   * @param {Item} item
   */
  itemLabel(item) {
    const [k, i, j] = /** @type {ItemIndices} */ (item);
    const count = this.built.layers.length;
    if (k === -1) return `Input ${i} (${this.built.featureNames[i]}), the data`;
    const layer = this.frame?.layers[k];
    if (i !== null && i !== undefined) {
      const value = layer ? `: W = ${formatNumber(layer.W[i][j])}` : "";
      return `${weightName(k, i, j, count)}, from ${this.sourceWords(k, i)} to ${unitName(k, j, count)}${value}`;
    }
    const bias = layer?.b ? `: b = ${formatNumber(layer.b[j])}` : "";
    const activation = layer ? `, ${layer.activation}` : "";
    return `${unitName(k, j, count)[0].toUpperCase()}${unitName(k, j, count).slice(1)}${activation}${bias}`;
  }

  announce() {
    if (!this.focused || !this.structure) return;
    const text = this.itemLabel(this.focused);
    if (this.focusLine.textContent !== text) this.focusLine.textContent = text;
    this.element.dataset.focused = this.focused.map((v) => (v === null ? "" : String(v))).join(",");
  }

  /**
   * The column (0 the inputs, c the layer c − 1) and row of a neuron or input.
   * @param {Item} item
   */
  static place(item) {
    const [k, i, j] = /** @type {ItemIndices} */ (item);
    return k === -1 ? { column: 0, row: i } : { column: k + 1, row: j };
  }

  /**
   * @param {number} column
   * @param {number} row
   * @returns {Item}
   */
  nodeAt(column, row) {
    const { drawn } = this.built;
    const c = Math.max(0, Math.min(drawn.length - 1, column));
    const r = Math.max(0, Math.min(drawn[c] - 1, row));
    return c === 0 ? [-1, r, null] : [c - 1, null, r];
  }

  /**
   * Where a key takes the cursor from `item`, or null (a key the diagram does not use).
   * @param {Item} item
   * @param {KeyboardEvent} event
   * @returns {Item | null}
   */
  moveFrom(item, event) {
    const [k, i, j] = item;
    const { drawn } = this.built;
    const onWeight = k >= 0 && i !== null && i !== undefined;
    const key = event.key;
    if (onWeight) {
      const sources = drawn[k];
      if (key === "ArrowUp") return [k, Math.max(0, i - 1), j];
      if (key === "ArrowDown") return [k, Math.min(sources - 1, i + 1), j];
      if (key === "w" || key === "W") return [k, (i + (event.shiftKey ? sources - 1 : 1)) % sources, j];
      if (key === "ArrowLeft") return this.nodeAt(k, i); // the weight's source
      if (key === "ArrowRight" || key === "Escape") return [k, null, j]; // its unit
      return null;
    }
    const { column, row } = NetworkDiagram.place(item);
    if (key === "ArrowLeft") return this.nodeAt(column - 1, row);
    if (key === "ArrowRight") return this.nodeAt(column + 1, row);
    if (key === "ArrowUp") return this.nodeAt(column, row - 1);
    if (key === "ArrowDown") return this.nodeAt(column, row + 1);
    if (key === "Home") return this.nodeAt(column, 0);
    if (key === "End") return this.nodeAt(column, drawn[column] - 1);
    if ((key === "w" || key === "W") && k >= 0) return [k, event.shiftKey ? drawn[k] - 1 : 0, j];
    return null;
  }

  /** @param {KeyboardEvent} event */
  onKey(event) {
    if (!this.structure || event.altKey || event.ctrlKey || event.metaKey) return;
    if (!this.keyboardFocus) {
      this.keyboardFocus = true;
      this.keysLine.hidden = false;
    }
    if (!this.focused) this.focused = [-1, 0, null];
    const key = event.key;
    if (key === "Enter" || key === " ") {
      event.preventDefault();
      this.onClick(...this.focused);
      return;
    }
    if (key === "e" || key === "E") {
      event.preventDefault();
      this.onClick(...this.focused);
      this.onEdit(...this.focused);
      return;
    }
    if (key === "a" || key === "A") {
      event.preventDefault();
      this.onClick(...this.focused);
      this.onAsk(...this.focused);
      return;
    }
    const next = this.moveFrom(this.focused, event);
    if (!next) return;
    event.preventDefault();
    this.focused = next;
    this.draw();
    this.announce();
  }

  /** The keyboard's item: a dark dotted ring around a neuron, a dark dotted line on a link. */
  focusShapes() {
    if (!this.focused || !this.hasFocus()) return [];
    const [k, i, j] = this.focused;
    if (k >= 0 && i !== null && i !== undefined) {
      const link = this.built.links.find((l) => l.k === k && l.i === i && l.j === j);
      if (!link) return [];
      const { from, to } = link;
      const line = { color: FOCUS_LINE, width: 3, dash: "dot" };
      return [{ name: "focus", type: "line", layer: "above", xref: "x", yref: "y", x0: from.x, y0: from.y, x1: to.x, y1: to.y, line }];
    }
    const node = k === -1 ? this.built.inputs.find((u) => u.i === i) : this.built.units.find((u) => u.k === k && u.j === j);
    if (!node) return [];
    const ring = nodeShape(node.x, node.y, "rgba(0,0,0,0)", FOCUS_LINE, 3);
    return [{ ...ring, name: "focus", line: { ...ring.line, dash: "dot" }, x0: ring.x0 - 4, x1: ring.x1 + 4, y0: ring.y0 - 4, y1: ring.y1 + 4 }];
  }

  // ----- hover and click ---------------------------------------------------------------

  bindEvents() {
    if (this.eventsBound) return;
    this.eventsBound = true;
    const plot = /** @type {PlotlyElement} */ (this.element); // setStructure drew its figure
    // Clicks are ours, not Plotly's: a link answers anywhere along its length, not only at
    // its hover target.
    this.element.addEventListener("click", (event) => {
      const hit = this.hitTest(event.clientX, event.clientY);
      if (hit) {
        this.focused = hit; // the keyboard goes on from what was clicked
        this.onClick(...hit);
      }
    });
    plot.on("plotly_hover", (event) => {
      const point = event.points?.[0];
      const panel = this.tooltip.parentElement; // positioned: the tooltip is placed in it
      if (!point?.customdata || !panel) return;
      this.hovered = point.customdata;
      const box = panel.getBoundingClientRect();
      this.tooltipAt = { left: event.event.clientX - box.left + 14, top: event.event.clientY - box.top + 14 };
      this.showTooltip();
    });
    plot.on("plotly_unhover", () => {
      this.hovered = null;
      this.tooltip.hidden = true;
    });
  }

  /** [layer, i, j] of the neuron or input under a page point, else of the nearest link
   *  within LINK_CLICK_PIXELS; null when nothing is that close.
   * @param {number} clientX
   * @param {number} clientY
   * @returns {Item | null}
   */
  hitTest(clientX, clientY) {
    const full = /** @type {PlotlyElement} */ (this.element)._fullLayout;
    if (!this.structure || !full) return null;
    const box = this.element.getBoundingClientRect();
    const { xaxis, yaxis } = full;
    /** @param {Point} point */
    const toPixels = ({ x, y }) => ({
      px: xaxis._offset + ((x - xaxis.range[0]) / (xaxis.range[1] - xaxis.range[0])) * xaxis._length,
      py: yaxis._offset + ((yaxis.range[1] - y) / (yaxis.range[1] - yaxis.range[0])) * yaxis._length,
    });
    const mx = clientX - box.left;
    const my = clientY - box.top;
    const half = NODE_PIXELS / 2 + 1;
    const { units, inputs, links } = this.built;
    for (const unit of units) {
      const { px, py } = toPixels(unit);
      if (Math.abs(mx - px) <= half && Math.abs(my - py) <= half) return [unit.k, null, unit.j];
    }
    for (const input of inputs) {
      const { px, py } = toPixels(input);
      if (Math.abs(mx - px) <= half && Math.abs(my - py) <= half) return [-1, input.i, null];
    }
    let best = null;
    let bestDistance = LINK_CLICK_PIXELS;
    for (const link of links) {
      const distance = distanceToSegment(mx, my, toPixels(link.from), toPixels(link.to));
      if (distance <= bestDistance) {
        best = link;
        bestDistance = distance;
      }
    }
    return best ? [best.k, best.i, best.j] : null;
  }

  /**
   * The exact numbers of the hovered link or neuron, from the latest frame.
   * @param {Item} item
   */
  describe(item) {
    const [k, i, j] = /** @type {ItemIndices} */ (item);
    const frame = this.frame;
    if (!frame) return [];
    const count = this.built.layers.length;
    if (k === -1) return [`input ${this.built.featureNames[i]}`];
    const layer = frame.layers[k];
    if (i !== null && i !== undefined) {
      const lines = [
        `${layerTitle(k, count)} · W[${i}→${j}]`,
        `W = ${fmt(layer.W[i][j])}`,
        `∂L/∂W = ${layer.dW ? fmt(layer.dW[i][j]) : "not computed yet"}`,
      ];
      // TF Playground's L1 rule froze it: the gradient is still its own, the update skips it.
      if (layer.dead && layer.dead[i][j]) lines.push("dead: L1 took it across 0; no update moves it");
      return lines;
    }
    const deltas = columnMeans(layer.delta, Math.abs);
    const lines = [
      `${layerTitle(k, count)} · unit ${j} · ${layer.activation}`,
      `b = ${layer.b ? fmt(layer.b[j]) : "none"}`,
      `∂L/∂b = ${layer.db ? fmt(layer.db[j]) : "not computed yet"}`,
      `mean |δ| = ${deltas ? fmt(deltas[j]) : "not computed yet"}`,
    ];
    if (layer.output_error_mean) lines.push(`mean ∂L/∂ŷ = ${fmt(layer.output_error_mean[j])}`);
    return lines;
  }

  showTooltip() {
    if (!this.hovered) return;
    const lines = this.describe(this.hovered);
    this.tooltip.replaceChildren(...lines.map((line) => createElement("div", { text: line })));
    this.tooltip.style.left = `${this.tooltipAt.left}px`;
    this.tooltip.style.top = `${this.tooltipAt.top}px`;
    this.tooltip.hidden = false;
  }
}
