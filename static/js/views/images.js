// @ts-check
// Inputs that are an image's pixels (the digits, dataset.image_shape from the server): the
// current batch's first image with its digit and the network's guess, and each first-layer
// unit's incoming weights drawn as an image of the same shape — what the unit looks for —
// updated while the network trains. Drawn on small canvases (no Plotly: 33 images a frame).
import { DIVERGING, scaleInterpolator } from "../colors.js";
import { createElement } from "../dom.js";
import { argmax, forward } from "../forward.js";
/** @import { Dataset, Frame, Matrix, Vector } from "../protocol.js" */

const PIXEL = 12; // CSS pixels per image pixel of the batch's image
const WEIGHT_PIXEL = 5; // per pixel of a unit's weights
const diverging = scaleInterpolator(DIVERGING);

/**
 * Paint an image of (rows, columns) values on a canvas, one canvas pixel each.
 * @param {HTMLCanvasElement} canvas
 * @param {[number, number]} shape
 * @param {(k: number) => [number, number, number]} color the k-th pixel's, row after row
 */
function paint(canvas, [rows, columns], color) {
  const context = canvas.getContext("2d");
  if (!context) return;
  const image = context.createImageData(columns, rows);
  for (let k = 0; k < rows * columns; k += 1) {
    const [r, g, b] = color(k);
    image.data.set([r, g, b, 255], 4 * k);
  }
  context.putImageData(image, 0, 0);
}

/**
 * @param {[number, number]} shape
 * @param {number} scale CSS pixels per image pixel
 * @param {string} label
 */
function canvasOf([rows, columns], scale, label) {
  const canvas = createElement("canvas", { width: columns, height: rows, role: "img", "aria-label": label });
  canvas.style.width = `${columns * scale}px`;
  canvas.style.height = `${rows * scale}px`;
  return canvas;
}

export class ImagesView {
  /** @param {HTMLElement} element the panel (shown only for image inputs) */
  constructor(element) {
    this.element = element;
    /** @type {Dataset | null} */
    this.dataset = null;
    /** @type {[number, number] | null} */
    this.shape = null;
    /** @type {Frame | null} */
    this.frame = null;
    /** @type {{ image: HTMLCanvasElement, caption: HTMLElement, units: HTMLElement, weights: HTMLCanvasElement[] } | null} */
    this.e = null;
  }

  /**
   * A new dataset (and network): the panel shows only when its inputs are an image's pixels.
   * @param {Dataset} dataset
   * @param {number} firstLayerUnits
   */
  setData(dataset, firstLayerUnits) {
    this.dataset = dataset;
    this.shape = dataset.image_shape ?? null;
    this.frame = null;
    this.element.hidden = !this.shape;
    if (!this.shape) {
      this.element.replaceChildren();
      this.e = null;
      return;
    }
    const shape = this.shape;
    const image = canvasOf(shape, PIXEL, "the batch's first image");
    const caption = createElement("figcaption", { className: "image-caption", "data-testid": "batch-image-caption" });
    const weights = Array.from({ length: firstLayerUnits }, (_, j) => canvasOf(shape, WEIGHT_PIXEL, `unit ${j}'s weights`));
    const units = createElement(
      "div",
      {
        className: "unit-images",
        role: "img",
        "data-testid": "unit-weight-images",
        "aria-label":
          `Layer 0: each of its ${firstLayerUnits} units' ${shape[0] * shape[1]} incoming weights ` +
          `as a ${shape[0]} × ${shape[1]} image, blue positive, orange negative`,
      },
      weights.map((canvas, j) => createElement("figure", { className: "unit-image" }, [canvas, createElement("figcaption", { text: String(j) })])),
    );
    this.element.replaceChildren(
      createElement("h3", { className: "image-heading", text: "Images" }),
      createElement("div", { className: "image-views" }, [
        createElement("figure", { className: "batch-image", "data-testid": "batch-image" }, [image, caption]),
        createElement("div", {}, [
          createElement("p", {
            className: "hint",
            text: "What each unit of layer 0 looks for: its weights from the pixels (blue +, orange −).",
          }),
          units,
        ]),
      ]),
    );
    this.e = { image, caption, units, weights };
  }

  /** @param {Frame} frame */
  ingest(frame) {
    this.frame = frame;
  }

  draw() {
    const { dataset, shape, frame, e } = this;
    if (!dataset || !shape || !frame || !e || !frame.layers.length) return;
    this.drawBatchImage(dataset, shape, frame, e);
    this.drawWeights(shape, frame.layers[0].W, e.weights);
  }

  /**
   * @param {Dataset} dataset
   * @param {[number, number]} shape
   * @param {Frame} frame
   * @param {{ image: HTMLCanvasElement, caption: HTMLElement }} e
   */
  drawBatchImage(dataset, shape, frame, e) {
    const row = frame.batch_indices?.[0];
    const none = row === undefined || row === null || !dataset.x_train[row];
    e.image.hidden = none;
    if (none) {
      const text = "No batch has run yet: step or play to see a batch's first image.";
      if (e.caption.textContent !== text) e.caption.textContent = text;
      return;
    }
    const x = dataset.x_train[row];
    const scaling = dataset.scaling;
    /** @type {Vector} the pixels as the file has them (0…16 for the digits) */
    const raw = scaling ? x.map((value, k) => value * scaling.std[k] + scaling.mean[k]) : x;
    const low = Math.min(...raw);
    const high = Math.max(...raw);
    const span = high > low ? high - low : 1;
    paint(e.image, shape, (k) => {
      const ink = Math.round(255 * (1 - (raw[k] - low) / span)); // dark ink on white
      return [ink, ink, ink];
    });
    const names = dataset.class_names ?? [];
    const target = names[argmax(dataset.y_train[row])] ?? String(argmax(dataset.y_train[row]));
    const output = forward(frame.layers, [x])[0];
    const guess = argmax(output);
    const sure = output[guess];
    const text =
      `Training row ${row}: a ${target}. The network says ${names[guess] ?? guess}` +
      (Number.isFinite(sure) ? `, ${Math.round(100 * sure)} % sure.` : ".");
    if (e.caption.textContent !== text) e.caption.textContent = text;
    e.caption.dataset.row = String(row);
    e.caption.dataset.target = target;
    e.caption.dataset.guess = names[guess] ?? String(guess);
    e.image.setAttribute("aria-label", text);
  }

  /**
   * @param {[number, number]} shape
   * @param {Matrix} W layer 0's (pixels, units)
   * @param {HTMLCanvasElement[]} canvases
   */
  drawWeights(shape, W, canvases) {
    let largest = 0;
    for (const row of W) for (const w of row) if (Math.abs(w) > largest) largest = Math.abs(w);
    const scale = largest > 0 ? largest : 1;
    canvases.forEach((canvas, j) => {
      // DIVERGING runs from orange (−) through white (0) to blue (+).
      paint(canvas, shape, (k) => diverging(0.5 + W[k][j] / (2 * scale)));
    });
  }
}
