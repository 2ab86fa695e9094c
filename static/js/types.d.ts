// The page's globals, for `tsc --checkJs` (`make jscheck`); type-only, never loaded. Plotly.js
// is a classic script (app/vendor/, served as /vendor/plotly.min.js) and the modules reach it
// through plotly.js only; just what the page calls is declared.

/** A trace, a layout, a config or an update as Plotly takes it: plain data Plotly checks. */
type PlotlyObject = Record<string, any>;

/** An axis of a drawn figure, as Plotly keeps it (its private fields the diagram reads). */
interface PlotlyFullAxis {
  range: [number, number];
  _offset: number;
  _length: number;
}

interface PlotlyHoverEvent {
  points?: { customdata?: [number, number | null, number | null] }[];
  event: MouseEvent;
}

/** An element Plotly has drawn a figure in. */
interface PlotlyElement extends HTMLElement {
  data: PlotlyObject[];
  layout: PlotlyObject;
  _fullLayout?: { xaxis: PlotlyFullAxis; yaxis: PlotlyFullAxis };
  on(event: "plotly_hover", handler: (event: PlotlyHoverEvent) => void): void;
  on(event: "plotly_unhover", handler: () => void): void;
}

interface PlotlyStatic {
  react(element: HTMLElement, data: PlotlyObject[], layout?: PlotlyObject, config?: PlotlyObject): Promise<PlotlyElement>;
  newPlot(element: HTMLElement, data: PlotlyObject[], layout?: PlotlyObject, config?: PlotlyObject): Promise<PlotlyElement>;
  relayout(element: HTMLElement, update: PlotlyObject): Promise<PlotlyElement>;
  extendTraces(element: HTMLElement, update: PlotlyObject, indices: number[], maxPoints?: number): Promise<PlotlyElement>;
  purge(element: HTMLElement): void;
}

/** "play-button" → "playButton", as dom.js names the page's elements. */
type CamelCase<S extends string> = S extends `${infer Head}-${infer Tail}` ? `${Head}${Capitalize<CamelCase<Tail>>}` : S;

interface Window {
  /** Plotly.js's bundle; undefined when it failed to load (plotly.js says so). */
  Plotly?: PlotlyStatic;
  /** For tests and the console: the page's state in short (state.js). */
  playgroundState: import("./state.js").StateSummary;
  /** For tests and the console: frames received, applied, dropped (socket.js). */
  playgroundStats: import("./socket.js").FrameStats;
  /** For tests: break the connection, send a raw command past the page's checks (app.js). */
  playgroundDebug: { dropConnection(): void; send(message: { type: string } & Record<string, unknown>): number | null };
  /** /docs only: Swagger UI's bundle (docs.js) and the UI it starts. */
  SwaggerUIBundle: ((options: object) => unknown) & { presets: { apis: unknown } };
  ui: unknown;
}
