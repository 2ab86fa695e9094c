// The slot the teaching features (chain-rule inspector, lesson guide) will fill. For now it
// shows the numbers of what was clicked in the diagram, kept current frame by frame.
import { createElement } from "./dom.js";

function fmt(value) {
  return value === null || value === undefined ? "not computed yet" : Number(value).toPrecision(5);
}

function columnMean(rows, j, transform = (v) => v) {
  if (!rows || !rows.length) return null;
  return rows.reduce((sum, row) => sum + transform(row[j]), 0) / rows.length;
}

export class TeachingPanel {
  constructor(content) {
    this.content = content;
    this.selection = null; // {layer, i, j}
  }

  /** Every click on the diagram comes here: (layer, i, j) of a link, (layer, null, j) of a
   *  neuron, (−1, i, null) of an input. */
  select(layer, i, j) {
    this.selection = { layer, i, j };
    if (this.lastFrame) this.render(this.lastFrame);
  }

  clear() {
    this.selection = null;
  }

  render(frame) {
    this.lastFrame = frame;
    if (!this.selection) return;
    const { layer, i, j } = this.selection;
    const rows = [];
    if (layer === -1) {
      rows.push(["input", `x${i}`]);
    } else {
      const data = frame.layers[layer];
      if (!data) return;
      if (i !== null && i !== undefined) {
        rows.push(["weight", `W[${i}→${j}] of layer ${layer}`]);
        rows.push(["value", fmt(data.W[i]?.[j])]);
        rows.push(["∂L/∂W", fmt(data.dW?.[i]?.[j])]);
      } else {
        rows.push(["neuron", `unit ${j} of layer ${layer} · ${data.activation}`]);
        rows.push(["bias b", fmt(data.b?.[j])]);
        rows.push(["∂L/∂b", fmt(data.db?.[j])]);
        rows.push(["mean δ", fmt(columnMean(data.delta, j))]);
      }
    }
    const list = createElement("dl", { className: "inspector", "data-testid": "inspector-values" });
    for (const [term, value] of rows) {
      list.append(createElement("dt", { text: term }), createElement("dd", { text: value }));
    }
    this.content.replaceChildren(list);
  }
}
