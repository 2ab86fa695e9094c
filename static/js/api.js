// @ts-check
// The REST API: one function per endpoint; a failed call throws ApiError with the server's
// `detail` (and `field`), ready to show to the user.

/** @import { ChainResult, ClassOpened, ClassPublic, DatasetList, DatasetUploaded, LessonGuide, Preset, SessionCreated, SessionRequest, SessionState, StepResult } from "./protocol.js" */

export class ApiError extends Error {
  /**
   * retryAfter: seconds the server asked to wait (a 429's Retry-After), or null.
   * @param {number} status
   * @param {string} detail
   * @param {string | null} [field]
   * @param {number | null} [retryAfter]
   */
  constructor(status, detail, field = null, retryAfter = null) {
    super(detail);
    this.name = "ApiError";
    this.status = status;
    this.field = field;
    this.retryAfter = retryAfter;
  }
}

/** @param {unknown} detail */
function describeDetail(detail) {
  if (typeof detail === "string") return detail;
  // FastAPI's own validation errors: a list of {loc, msg}.
  if (Array.isArray(detail)) {
    const items = /** @type {{ loc?: string[], msg: string }[]} */ (detail);
    return items.map((item) => `${(item.loc || []).slice(1).join(".")}: ${item.msg}`).join("; ");
  }
  return JSON.stringify(detail);
}

/**
 * @typedef {object} RequestOptions
 * @property {string | null} [token] sent as the bearer
 * @property {unknown} [json] the body, as JSON
 * @property {FormData} [form] the body, as a multipart form
 * @property {AbortSignal} [signal]
 */

/**
 * One call; the parsed JSON answer (null for an empty one), or an ApiError.
 * @param {string} method
 * @param {string} path
 * @param {RequestOptions} [options]
 * @returns {Promise<any>} the answer as the endpoint's schema gives it
 */
export async function request(method, path, { token = null, json = undefined, form = undefined, signal } = {}) {
  /** @type {Record<string, string>} */
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form; // the browser sets the multipart boundary
  }
  const response = await fetch(path, { method, headers, body, signal });
  const text = await response.text();
  const payload = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const detail = payload && payload.detail !== undefined ? describeDetail(payload.detail) : text;
    const retryAfter = Number(response.headers.get("Retry-After")) || null;
    throw new ApiError(response.status, detail || response.statusText, payload?.field ?? null, retryAfter);
  }
  return payload;
}

// This browser's upload token: it owns the CSVs uploaded from here (only it lists them,
// trains on them or deletes them). Kept in localStorage so that a reload still lists them.
const UPLOAD_TOKEN_KEY = "backprop-playground.upload-token";

function storedUploadToken() {
  try {
    return localStorage.getItem(UPLOAD_TOKEN_KEY);
  } catch {
    return null; // storage disabled: the token lives as long as the page
  }
}

let uploadToken = storedUploadToken();

/** @param {string} token */
function keepUploadToken(token) {
  uploadToken = token;
  try {
    localStorage.setItem(UPLOAD_TOKEN_KEY, token);
  } catch {
    // storage disabled: kept in memory only
  }
}

// Each endpoint's arguments and answer; `id` a session's, `token` its control (or watch) token.
export const api = {
  /** @returns {Promise<Preset[]>} */
  listPresets: () => request("GET", "/api/presets"),
  /** @returns {Promise<DatasetList>} */
  listDatasets: () => request("GET", "/api/datasets", { token: uploadToken }),
  /**
   * Upload a CSV with this browser's upload token, and keep the token the server answers.
   * @param {FormData} formData
   * @returns {Promise<DatasetUploaded>}
   */
  uploadDataset: async (formData) => {
    /** @type {DatasetUploaded} */
    const uploaded = await request("POST", "/api/datasets", { form: formData, token: uploadToken });
    keepUploadToken(uploaded.token);
    return uploaded;
  },
  /**
   * A session on an upload sends the upload token: only the upload's owner may use it.
   * @param {SessionRequest} body
   * @returns {Promise<SessionCreated>}
   */
  createSession: (body) =>
    request("POST", "/api/sessions", { json: body, token: body?.data?.upload ? uploadToken : null }),
  /** @type {(id: string, token: string) => Promise<SessionState>} */
  getSession: (id, token) => request("GET", `/api/sessions/${id}`, { token }),
  /** @type {(id: string, token: string, changes: Record<string, unknown>) => Promise<SessionState>} */
  updateSession: (id, token, changes) => request("PATCH", `/api/sessions/${id}`, { token, json: changes }),
  /** @type {(id: string, token: string, unit: string, count?: number) => Promise<StepResult>} */
  stepSession: (id, token, unit, count = 1) =>
    request("POST", `/api/sessions/${id}/step?include_trace=false`, { token, json: { unit, count } }),
  /** @type {(id: string, token: string, edit: { layer: number, i: number | null, j: number | null, value: number }) => Promise<unknown>} */
  setParameter: (id, token, edit) => request("PATCH", `/api/sessions/${id}/parameter`, { token, json: edit }),
  /** @type {(id: string, token: string) => Promise<unknown>} */
  deleteSession: (id, token) => request("DELETE", `/api/sessions/${id}`, { token }),
  /** @type {(sessionId: string, token: string) => Promise<ClassOpened>} */
  openClass: (sessionId, token) => request("POST", "/api/classes", { token, json: { session_id: sessionId } }),
  /** @type {(teacherToken: string) => Promise<ClassPublic>} */
  readClass: (teacherToken) => request("GET", "/api/classes/current", { token: teacherToken }),
  /** @type {(teacherToken: string, sessionId: string, sessionToken: string) => Promise<ClassPublic>} */
  moveClass: (teacherToken, sessionId, sessionToken) =>
    request("PATCH", "/api/classes/current", {
      token: teacherToken,
      json: { session_id: sessionId, session_token: sessionToken },
    }),
  /** @type {(teacherToken: string) => Promise<unknown>} */
  endClass: (teacherToken) => request("DELETE", "/api/classes/current", { token: teacherToken }),
  /**
   * A lesson's walk-through on the current batch (GET …/lesson?name=).
   * @param {string} id
   * @param {string} token
   * @param {string} name
   * @param {{ signal?: AbortSignal }} [options]
   * @returns {Promise<LessonGuide>}
   */
  getLesson: (id, token, name, { signal } = {}) =>
    request("GET", `/api/sessions/${id}/lesson?${new URLSearchParams({ name })}`, { token, signal }),
  /**
   * One weight's (or, without i, one bias's) gradient as its chain-rule factors.
   * @param {string} id
   * @param {string} token
   * @param {{ layer: number, i: number | null, j: number | null }} parameter
   * @param {{ signal?: AbortSignal }} [options]
   * @returns {Promise<ChainResult>}
   */
  getChain: (id, token, { layer, i, j }, { signal } = {}) => {
    const query = new URLSearchParams({ layer: String(layer), j: String(j) });
    if (i !== null && i !== undefined) query.set("i", String(i));
    return request("GET", `/api/sessions/${id}/chain?${query}`, { token, signal });
  },
};
