// What the server sends and the page reads: the live socket's messages (docs/protocol.md) and
// the REST answers (the OpenAPI schema at /docs). Type-only, for `tsc --checkJs`
// (`make jscheck`); never loaded. Each shape lists the fields the page uses, under the
// server's names; the server's schemas are the truth.

export type Matrix = number[][];
export type Vector = number[];

// ----- a session ------------------------------------------------------------------------

export type PhaseKind = "forward" | "loss" | "backward" | "update";

/** One phase of a batch step; `layer` null for the loss and the update. */
export interface Phase {
  kind: PhaseKind;
  layer: number | null;
}

export type Task = "binary" | "multiclass" | "regression";

/** One dense layer of a network: its units and the activation after it. */
export interface LayerSpec {
  units: number;
  activation: string;
}

export interface ModelConfig {
  input_size: number;
  layers: LayerSpec[];
  loss: string;
  learning_rate: number;
  batch_size: number | null;
  momentum: number;
  l1: number;
  l2: number;
  penalty_rule: string;
  initializer: string;
  seed: number;
  use_bias: boolean;
  dtype: string;
  shuffle: boolean;
}

/** The data spec: a built-in dataset (`dataset`) or an upload (`upload`). */
export interface DataConfig {
  dataset?: string;
  upload?: string;
  n_samples?: number | null;
  noise?: number;
  train_ratio?: number;
  seed?: number;
  labels?: "01" | "pm1";
  features?: string[] | null;
  standardize?: boolean;
  shuffle?: boolean;
}

export interface SessionConfig {
  preset: string | null;
  model: ModelConfig;
  data: DataConfig;
}

/** A create request (POST /api/sessions): a preset, a config, or a preset with changes. */
export interface SessionRequest {
  preset?: string;
  model?: Partial<ModelConfig>;
  data?: DataConfig;
}

export interface HistoryPoint {
  step: number;
  epoch: number;
  train_loss: number | null;
  test_loss: number | null;
  train_accuracy: number | null;
  test_accuracy: number | null;
}

export interface Summary {
  mean: number;
  std: number;
  min: number;
  max: number;
}

/**
 * One layer in a frame (and in a session's state): W (n_in × n_out) always; the batch's
 * traces once computed. A diverged frame's non-finite numbers arrive as null (state.js's
 * isDrawable keeps such weights from being drawn).
 */
export interface FrameLayer {
  index: number;
  activation: string;
  W: Matrix;
  b: Vector | null;
  dead?: boolean[][] | null;
  activation_summary?: Summary;
  delta?: Matrix | null;
  delta_rows?: number;
  delta_summary?: Summary;
  dW?: Matrix | null;
  db?: Vector | null;
  grad_norm?: number | null;
  output_error_mean?: Vector | null;
}

/** The network's output over a grid of the data's plane: z[i][j] at y[i], x[j]. */
export interface Boundary {
  x: Vector;
  y: Vector;
  z: Matrix;
}

/** The session as it is now: a `frame` message, or a state in a frame's shape (state.js). */
export interface Frame {
  seq: number | null;
  t?: number;
  /** When the page received it (socket.js adds it). */
  receivedAt?: number;
  version: number;
  step: number;
  epoch: number;
  phase: Phase | null;
  next_phase: Phase | null;
  playing: boolean;
  loss: number | null;
  test_loss: number | null;
  accuracy: number | null;
  test_accuracy: number | null;
  metrics_step?: number;
  batch_loss: number | null;
  /** The current batch's rows (indices into x_train), at most delta_rows of them. */
  batch_indices?: number[];
  diverged: string | null;
  history_point: HistoryPoint | null;
  layers: FrameLayer[];
  grad_norms: (number | null)[];
  boundary: Boundary | null;
}

/** GET /api/sessions/{id} (and the hello's `state`); `phase` is the next phase. */
export interface SessionState {
  id: string;
  version: number;
  step: number;
  epoch: number;
  phase: Phase;
  playing: boolean;
  loss: number | null;
  test_loss: number | null;
  accuracy: number | null;
  test_accuracy: number | null;
  batch_loss: number | null;
  diverged: string | null;
  task: Task;
  config: SessionConfig;
  layers: FrameLayer[];
  history: HistoryPoint[];
}

/** A session's id and tokens (POST /api/sessions's answer, or a watch link's). */
export interface SessionKeys {
  id: string;
  token: string;
  watch_token: string;
}

export interface SessionCreated extends SessionKeys {
  state: SessionState;
}

/** POST …/step's answer (the page reads only whether the run diverged). */
export interface StepResult {
  diverged: string | null;
}

// ----- data -----------------------------------------------------------------------------

/** GET /api/sessions/{id}/dataset: x (n, features), y (n, outputs; one-hot for classes). */
export interface Dataset {
  name: string;
  task: Task;
  feature_names: string[];
  class_names: string[] | null;
  scaling: { mean: Vector; std: Vector } | null;
  scale_ratio?: number;
  /** The rows' points (x1, x2) when the inputs are features of them. */
  plane?: { x_train: Matrix; x_test: Matrix } | null;
  /** Inputs that are an image's pixels, row after row: [rows, columns] (the digits: [8, 8]). */
  image_shape?: [number, number] | null;
  x_train: Matrix;
  y_train: Matrix;
  x_test: Matrix;
  y_test: Matrix;
}

export interface BuiltinDataset {
  name: string;
  description: string;
  task: Task;
  n_features: number;
  generated: boolean;
  /** Every row trains: the train/test ratio does not apply (the lessons' sets). */
  fixed_split: boolean;
}

export interface UploadedDataset {
  id: string;
  name: string;
  task?: Task;
  class_names?: string[] | null;
  feature_names?: string[];
}

/** GET /api/datasets. */
export interface DatasetList {
  builtin: BuiltinDataset[];
  uploaded: UploadedDataset[];
}

/** POST /api/datasets: the upload, with this browser's upload token. */
export interface DatasetUploaded extends UploadedDataset {
  token: string;
}

/** GET /api/presets's entries. */
export interface Preset {
  id: string;
  description: string;
  task: Task;
  model: ModelConfig;
  data: DataConfig;
}

// ----- the live socket ------------------------------------------------------------------

export interface HelloMessage {
  type: "hello";
  role: string;
  state: SessionState;
  dataset: Dataset;
}

export interface FrameMessage extends Frame {
  type: "frame";
}

export interface EventMessage {
  type: "event";
  event: string;
  message: string;
  detail?: Record<string, any> | null;
  /** A reset's new state. */
  state?: SessionState;
}

export interface ErrorMessage {
  type: "error";
  message: string;
  field?: string | null;
  command?: string | null;
  id?: number | null;
}

export type ServerMessage = HelloMessage | FrameMessage | EventMessage | ErrorMessage;

// ----- teaching -------------------------------------------------------------------------

/** GET …/chain: one weight's (or bias's) gradient as its chain-rule factors per batch row. */
export interface ChainResult {
  layer: number;
  j: number;
  activation: string;
  fused: boolean;
  value: number;
  formula: string;
  note: string;
  products: Vector;
  upstream: Vector;
  local: Vector;
  input: Vector;
  separate?: Vector | null;
  gradient: number;
  reported: number | null;
  numeric: number;
  relative_error: number | null;
  penalty: number;
  equal_to_rounding: boolean;
  tolerance: number;
}

export interface LessonStep {
  id: string;
  title: string;
  available: boolean;
  phase: Phase;
  layer: number | null;
  part: string;
  formula: string;
  explanation: string;
  values: Record<string, unknown>;
}

/** GET …/lesson: a lesson's named steps on the current batch. */
export interface LessonGuide {
  lesson: string;
  current: number | null;
  steps: LessonStep[];
  step: number;
  epoch: number;
  phases_run: number;
  n_phases: number;
  batch_indices: number[];
}

// ----- a class ----------------------------------------------------------------------------

/** POST /api/classes, GET /api/classes/current (the teacher's view). */
export interface ClassPublic {
  code: string;
  session_id: string;
  version: number;
  ended: boolean;
  students: number;
  join_url: string;
  join_qr: string;
}

export interface ClassOpened extends ClassPublic {
  teacher_token: string;
}

export type QuestionKind = "delta_sign" | "largest_change" | "gradient" | "largest_delta" | "loss_change" | "weight_after";

export interface Question {
  id: number;
  kind: QuestionKind;
  layer: number;
  i?: number | null;
  j?: number | null;
  text: string;
  status: string;
  /** The round answers go to now (peer instruction: 1, then 2 …); once revealed, the last. */
  round: number;
}

/** Where the truth lives: the weight W[i→j] that changed most (or the unit j of largest
 *  |δ|), and the answer in words. */
export interface QuestionTruth {
  i?: number;
  j?: number;
  text: string;
}

/** A student's answer: a sign or a direction, a weight {i, j}, a unit {j} or a number. */
export type Answer = string | number | { i: number; j: number } | { j: number };

export interface HistogramBar {
  label: string;
  count: number;
  /** Of count, the answers said to be sure / unsure (the rest said neither). */
  sure: number;
  unsure: number;
}

export type Confidence = "sure" | "unsure";

/** One round's answers: each name's latest in it. */
export interface RoundCount {
  round: number;
  count: number;
  histogram: HistogramBar[];
}

export interface Tally {
  answers: number;
  right: number;
  wrong: number;
}

/** Between the first round and the last, among the names that answered in both. */
export interface Moved {
  wrong_to_right: number;
  right_to_wrong: number;
  right_to_right: number;
  wrong_to_wrong: number;
}

/** One of a name's answers, marked: its latest in one round. */
export interface OwnAnswer {
  round: number;
  answer: Answer;
  confidence: Confidence | null;
  right: boolean;
}

/** POST …/reveal and the reveal message: a teacher's carries every name's marks
 *  (`students`), a student's only their own (`name`, `answers`, `mark`). */
export interface Revealed {
  question: Question;
  truth: QuestionTruth;
  tally: Tally;
  rounds: { round: number; tally: Tally }[];
  moved: Moved | null;
  ran: boolean;
  students?: { name: string; answers: OwnAnswer[] }[];
  name?: string | null;
  answers?: OwnAnswer[];
  mark?: boolean | null;
}

/** GET /api/classes/current/record: per student, by the name they answer under. */
export interface LessonRecord {
  rounds: number;
  questions: number;
  revealed: number;
  students: {
    name: string;
    answered: number[];
    right: number[];
    checks: number;
    checks_right: number;
    grades: number;
    grades_passed: number;
  }[];
}

/** The class socket's messages (docs/protocol.md, "The class socket"). */
export type ClassMessage =
  | { type: "class"; ended?: boolean; version: number; session_id: string; watch_token: string }
  | { type: "students"; count: number }
  | { type: "question"; question: Question }
  | { type: "answers"; question: number; round: number; count: number; histogram: HistogramBar[]; rounds: RoundCount[] }
  | {
      type: "answered";
      question: number;
      round: number;
      receipt: string;
      answer: Answer;
      name: string;
      confidence: Confidence | null;
    }
  | ({ type: "reveal" } & Revealed)
  | { type: "error"; message: string };

// ----- the study section ------------------------------------------------------------------

/** GET …/timeline: the run's epochs (runs of equal length) and a batch's phases. */
export interface Timeline {
  epochs: { epoch: number; first_step: number; epochs: number; batches: number }[];
  phases: Phase[];
  start: { batch: number };
  now: { batch: number; phase: number };
  checkpoints: number;
}

/** A moment of the run: GET …/at's place. */
export interface Moment {
  epoch: number;
  batch: number;
  phase: number;
}

/** GET …/at: the session as it was then. */
export interface MomentAnswer {
  state: SessionState;
  boundary: Boundary | null;
}

/** GET …/grade's answer: the current batch, or with `student` their own (`seed`: its seed). */
export interface GradeProblem {
  batch_rows: number;
  batch_indices: number[];
  seed: number | null;
  x: number[][];
  y: number[][];
  layers: { activation: string; W: number[][]; b: number[] | null }[];
  [field: string]: unknown;
}

/** POST …/grade's answer. */
export interface GradeResult {
  passed: boolean;
  diagnosis: string;
  first_wrong_layer: number | null;
  layers: {
    layer: number;
    relative_error_W: number | null;
    relative_error_b: number | null;
    passed: boolean;
    cause: string | null;
    explanation: string;
  }[];
}

/** GET …/coach's answer. */
export interface CoachReport {
  epoch: number;
  findings: { kind: string; message: string; formula: string; layer: number | null; units: number[] }[];
}

/** POST …/check's answer. */
export interface CheckResult {
  correct: boolean;
  name: string;
  backprop: number;
  numeric: number;
  value: number;
  allowed: number;
  tolerance: number;
  reason: string;
  off_by_sign: boolean;
  /** The seed of the batch marked (a class's student's own); null: the session's current batch. */
  seed: number | null;
  factors: {
    formula: string;
    upstream: Vector;
    local: Vector;
    input: Vector;
    products: Vector;
    penalty: number | null;
  } | null;
}

// ----- the page's config ----------------------------------------------------------------

/** An input feature of a point (x1, x2): its id (data.features), the label its column gets
 *  (a dataset's feature_names) and its formula in words. */
export interface FeatureInfo {
  id: string;
  label: string;
  formula: string;
}

/** A lesson the guide walks; `network`: what its guide needs (null: any network). */
export interface LessonInfo {
  id: string;
  title: string;
  preset: string;
  load: string;
  introduction: string;
  network: { layers: { units: number | null; activation: string }[]; loss: string; use_bias: boolean } | null;
  refusal: string | null;
}

/** A close code of both sockets; `final`: the page stops reconnecting. */
export interface CloseCodeInfo {
  name: string;
  meaning: string;
  final: boolean;
}

/** The page's start-up values and the facts it shares with the server: <body data-config>, from
 *  app/api/pages.py's page_config (static/js/config.js reads it). */
export interface PageConfig {
  default_preset: string;
  frame_rate: number;
  max_layers: number;
  max_units: number;
  /** Rows of a batch's δ a frame carries. */
  delta_rows: number;
  /** The boundary's grid: the points' extent plus span × fraction + least each side. */
  grid_margin: { fraction: number; least: number };
  /** A class question's most rounds (question_max_rounds). */
  question_max_rounds: number;
  features: FeatureInfo[];
  activations: string[];
  /** Activations only an output layer may have (softmax). */
  output_only_activations: string[];
  /** The output activations each loss needs; null: any. */
  loss_outputs: Record<string, string[] | null>;
  default_loss: string;
  lessons: LessonInfo[];
  default_lesson: string;
  /** By code. */
  close_codes: Record<string, CloseCodeInfo>;
}
