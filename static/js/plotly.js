// Plotly.js is a classic script (/vendor/plotly.min.js, deferred before the module entry);
// the modules reach it through this one import so a missing bundle fails in one place.
export const Plotly = window.Plotly;
if (!Plotly) {
  throw new Error("Plotly.js did not load: /vendor/plotly.min.js must come before the modules");
}

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
