// @ts-check
// The network editor: a card per layer with its units (− / +), its activation, and a remove
// button for hidden layers. The shape of the network is the session's: a change builds a new
// session, while an activation change is a hyperparameter and keeps the weights.
import { createElement } from "./dom.js";
import { layerTitle as layerLabel } from "./words.js";
/** @import { FeatureInfo, LayerSpec } from "./protocol.js" */

/** @type {LayerSpec} */
const NEW_LAYER = { units: 4, activation: "tanh" };

export class NetworkEditor {
  /**
   * onLayersChange(layers): the list of {units, activation} to rebuild with;
   * onActivationChange(k, name): one layer's activation, weights kept;
   * onFeaturesChange(ids): the input features to rebuild with (2-D data).
   * @param {HTMLElement} container
   * @param {HTMLButtonElement} addButton
   * @param {object} options
   * @param {string[]} options.activations
   * @param {string[]} options.outputOnly activations only an output layer may have
   * @param {FeatureInfo[]} options.features the input features offered on the plane
   * @param {number} options.maxLayers
   * @param {number} options.maxUnits
   * @param {(layers: LayerSpec[]) => void} options.onLayersChange
   * @param {(k: number, name: string) => void} options.onActivationChange
   * @param {(ids: string[]) => void} options.onFeaturesChange
   */
  constructor(
    container,
    addButton,
    { activations, outputOnly, features, maxLayers, maxUnits, onLayersChange, onActivationChange, onFeaturesChange },
  ) {
    this.container = container;
    this.addButton = addButton;
    this.activations = activations;
    this.outputOnly = outputOnly;
    this.offered = features;
    this.maxLayers = maxLayers;
    this.maxUnits = maxUnits;
    this.onLayersChange = onLayersChange;
    this.onActivationChange = onActivationChange;
    this.onFeaturesChange = onFeaturesChange;
    /** @type {string[] | null} ids of the chosen input features; null: the data is not on a plane */
    this.features = null;
    /** @type {LayerSpec[]} */
    this.layers = [];
    this.readOnly = false; // a watch link: shown, not editable
    addButton.addEventListener("click", () => this.addLayer());
  }

  /** @param {boolean} readOnly */
  setReadOnly(readOnly) {
    this.readOnly = readOnly;
    this.lockIfReadOnly();
  }

  lockIfReadOnly() {
    if (!this.readOnly) return;
    const controls = /** @type {NodeListOf<HTMLButtonElement | HTMLSelectElement>} */ (
      this.container.querySelectorAll("button, select")
    );
    for (const control of [...controls, this.addButton]) {
      control.disabled = true;
      control.setAttribute("aria-disabled", "true");
    }
  }

  /**
   * @param {number} featureCount
   * @param {LayerSpec[]} layers
   */
  render(featureCount, layers) {
    const active = document.activeElement;
    const focused = active instanceof HTMLElement && this.container.contains(active) ? active.dataset.testid : null;
    this.layers = layers.map((layer) => ({ units: layer.units, activation: layer.activation }));
    const cards = [this.inputCard(featureCount), ...this.layers.map((layer, k) => this.layerCard(layer, k))];
    this.container.replaceChildren(...cards);
    this.addButton.disabled = this.layers.length >= this.maxLayers;
    this.lockIfReadOnly();
    if (focused) /** @type {HTMLElement | null} */ (this.container.querySelector(`[data-testid="${focused}"]`))?.focus();
  }

  /** The input features offered (TF Playground's column of inputs): ids chosen, or null when
   *  the data is not on the plane (x1, x2). Shown at the next render.
   * @param {string[] | null} chosen
   */
  setFeatures(chosen) {
    this.features = chosen;
  }

  /** @param {number} featureCount */
  inputCard(featureCount) {
    const children = [
      createElement("span", { className: "layer-card-title", text: "Input" }),
      createElement("span", {
        className: "units",
        text: `${featureCount} feature${featureCount === 1 ? "" : "s"}`,
      }),
    ];
    if (this.features) children.push(this.featureToggles(this.features));
    return createElement("div", { className: "layer-card input-card" }, children);
  }

  /** @param {string[]} chosen */
  featureToggles(chosen) {
    const buttons = this.offered.map(({ id, label, formula }) => {
      const on = chosen.includes(id);
      const named = formula === label ? label : `${label} = ${formula}`;
      const button = createElement("button", {
        type: "button",
        className: `feature-toggle${on ? " on" : ""}`,
        "data-testid": `feature-${id}`,
        "aria-pressed": on ? "true" : "false",
        title: on ? `Stop feeding ${named} to the network` : `Feed ${named} to the network too`,
        text: label,
      });
      // The last feature stays: a network needs an input.
      if (on && chosen.length === 1) button.disabled = true;
      button.addEventListener("click", () => {
        const next = on ? chosen.filter((other) => other !== id) : [...chosen, id];
        this.onFeaturesChange(this.offered.map((f) => f.id).filter((other) => next.includes(other)));
      });
      return button;
    });
    return createElement("div", { className: "feature-toggles", role: "group", "aria-label": "Input features" }, buttons);
  }

  /**
   * @param {LayerSpec} layer
   * @param {number} k
   */
  layerCard(layer, k) {
    const count = this.layers.length;
    const output = k === count - 1;
    const title = layerLabel(k, count);
    const children = [createElement("span", { className: "layer-card-title", text: title })];
    if (output) {
      children.push(
        createElement("span", {
          className: "units",
          "data-testid": `layer-units-${k}`,
          text: `${layer.units} unit${layer.units === 1 ? "" : "s"}`,
          title: "The output layer's size follows the data's targets",
        }),
      );
    } else {
      const fewer = this.button(
        "−",
        `layer-remove-unit-${k}`,
        `One unit fewer in ${title}`,
        layer.units <= 1,
        () => this.changeUnits(k, -1),
      );
      const more = this.button(
        "+",
        `layer-add-unit-${k}`,
        `One unit more in ${title}`,
        layer.units >= this.maxUnits,
        () => this.changeUnits(k, +1),
      );
      const units = createElement("span", {
        className: "units",
        "data-testid": `layer-units-${k}`,
        text: `${layer.units}`,
        "aria-label": `${layer.units} units in ${title}`,
      });
      children.push(createElement("div", { className: "unit-stepper" }, [fewer, units, more]));
    }
    children.push(this.activationSelect(layer, k, title, output));
    if (!output) {
      children.push(
        this.button(
          "×",
          `layer-remove-${k}`,
          `Remove ${title}`,
          false,
          () => this.removeLayer(k),
          "remove-layer",
        ),
      );
    }
    return createElement(
      "div",
      { className: `layer-card${output ? " output-card" : ""}`, "data-testid": `layer-card-${k}` },
      children,
    );
  }

  /**
   * @param {LayerSpec} layer
   * @param {number} k
   * @param {string} title
   * @param {boolean} output
   */
  activationSelect(layer, k, title, output) {
    const id = `layer-activation-${k}`;
    const select = createElement("select", { id, "data-testid": id });
    // softmax only fits an output layer (the engine refuses it elsewhere)
    const names = this.activations.filter((name) => output || !this.outputOnly.includes(name));
    for (const name of names) {
      select.append(
        createElement("option", {
          value: name,
          text: name.replace("_", " "),
          selected: name === layer.activation,
        }),
      );
    }
    select.addEventListener("change", () => this.onActivationChange(k, select.value));
    const label = createElement("label", {
      for: id,
      className: "visually-hidden",
      text: `Activation of ${title}`,
    });
    return createElement("div", { className: "activation-field" }, [label, select]);
  }

  /**
   * @param {string} text
   * @param {string} testid
   * @param {string} label
   * @param {boolean} disabled
   * @param {() => void} onClick
   * @param {string} [className]
   */
  button(text, testid, label, disabled, onClick, className = "stepper-button") {
    const button = createElement("button", {
      type: "button",
      className,
      "data-testid": testid,
      "aria-label": label,
      title: label,
      disabled,
      text,
    });
    button.addEventListener("click", onClick);
    return button;
  }

  /**
   * @param {number} k
   * @param {number} by
   */
  changeUnits(k, by) {
    const layers = this.layers.map((layer) => ({ ...layer }));
    layers[k].units = Math.min(this.maxUnits, Math.max(1, layers[k].units + by));
    this.onLayersChange(layers);
  }

  addLayer() {
    if (this.layers.length >= this.maxLayers) return;
    const layers = this.layers.map((layer) => ({ ...layer }));
    const template = layers.length > 1 ? layers[layers.length - 2] : NEW_LAYER;
    layers.splice(layers.length - 1, 0, { units: template.units, activation: template.activation });
    this.onLayersChange(layers);
  }

  /** @param {number} k */
  removeLayer(k) {
    this.onLayersChange(this.layers.filter((_, index) => index !== k));
  }
}
