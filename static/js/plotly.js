// @ts-check
// Plotly.js is a classic script (/vendor/plotly.min.js, deferred before the module entry);
// the modules reach it through this one import so a missing bundle fails in one place.
const loaded = window.Plotly;
if (!loaded) {
  throw new Error("Plotly.js did not load: /vendor/plotly.min.js must come before the modules");
}
const PlotlyLibrary = loaded;

// Shared by every chart: no mode bar, no Plotly logo link, resize with the container.
export const PLOT_CONFIG = Object.freeze({
  displayModeBar: false,
  displaylogo: false,
  responsive: true,
});

export const FONT = Object.freeze({
  family: "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif",
  size: 11,
  color: "#333",
});

// Chart text grows with the page's type (presenter mode): every font size a layout names is
// multiplied by this scale when the chart is drawn.
let textScale = 1;

/**
 * A copy of a layout with every `font.size` (and the default font) scaled.
 * @template {PlotlyObject | PlotlyObject[] | undefined} Layout
 * @param {Layout} layout
 * @param {number} scale
 * @returns {Layout}
 */
function scaledLayout(layout, scale) {
  if (scale === 1 || !layout || typeof layout !== "object") return layout;
  /** @type {(node: any) => any} */
  const scaleNode = (node) => {
    if (Array.isArray(node)) return node.map(scaleNode);
    if (!node || typeof node !== "object") return node;
    /** @type {PlotlyObject} */
    const copy = {};
    for (const [key, value] of Object.entries(node)) {
      if (key === "font" && value && typeof value === "object") {
        copy.font = { ...value, size: Math.round((value.size ?? FONT.size) * scale) };
      } else copy[key] = scaleNode(value);
    }
    return copy;
  };
  const scaled = scaleNode(layout);
  if (!scaled.font) scaled.font = { ...FONT, size: Math.round(FONT.size * scale) };
  for (const [key, axis] of Object.entries(scaled)) {
    // Fewer, larger tick labels: as many as fit without turning sideways.
    if (/^xaxis\d*$/.test(key) && axis && typeof axis === "object" && axis.nticks === undefined) {
      scaled[key] = { ...axis, nticks: 4 };
    }
  }
  if (scaled.margin) {
    // Larger tick labels and titles need room of their own.
    /** @type {PlotlyObject} */
    const margin = {};
    for (const [side, pixels] of Object.entries(scaled.margin)) {
      margin[side] = typeof pixels === "number" ? Math.round(pixels * scale) : pixels;
    }
    scaled.margin = margin;
  }
  return scaled;
}

/**
 * Copies of traces with their text's size (a diagram's labels) scaled.
 * @param {PlotlyObject[]} data
 * @param {number} scale
 */
function scaledData(data, scale) {
  if (scale === 1 || !Array.isArray(data)) return data;
  return data.map((trace) =>
    trace?.textfont?.size ? { ...trace, textfont: { ...trace.textfont, size: Math.round(trace.textfont.size * scale) } } : trace,
  );
}

/**
 * Plotly, with chart text following textScale; everything else is Plotly's own.
 * @type {PlotlyStatic}
 */
export const Plotly = {
  ...PlotlyLibrary,
  react: (element, data, layout, config) =>
    PlotlyLibrary.react(element, scaledData(data, textScale), scaledLayout(layout, textScale), config),
  newPlot: (element, data, layout, config) =>
    PlotlyLibrary.newPlot(element, scaledData(data, textScale), scaledLayout(layout, textScale), config),
  // A frame's update: its annotations' text scaled too (shapes and images have none).
  relayout: (element, update) =>
    PlotlyLibrary.relayout(
      element,
      update.annotations ? { ...update, annotations: scaledLayout(update.annotations, textScale) } : update,
    ),
};

/**
 * Set the chart text's scale and redraw the charts already drawn at the new size.
 * @param {number} scale
 */
export function setChartTextScale(scale) {
  if (scale === textScale) return;
  const ratio = scale / textScale;
  textScale = scale;
  for (const element of /** @type {NodeListOf<PlotlyElement>} */ (document.querySelectorAll(".js-plotly-plot"))) {
    // A scaled copy: the drawn layout may share frozen objects (FONT) with the views' own.
    PlotlyLibrary.react(element, scaledData(element.data, ratio), scaledLayout(element.layout, ratio), PLOT_CONFIG);
  }
}
