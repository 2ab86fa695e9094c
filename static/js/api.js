// The REST API: one function per endpoint; a failed call throws ApiError with the server's
// `detail` (and `field`), ready to show to the user.

export class ApiError extends Error {
  /** retryAfter: seconds the server asked to wait (a 429's Retry-After), or null. */
  constructor(status, detail, field = null, retryAfter = null) {
    super(detail);
    this.name = "ApiError";
    this.status = status;
    this.field = field;
    this.retryAfter = retryAfter;
  }
}

function describeDetail(detail) {
  if (typeof detail === "string") return detail;
  // FastAPI's own validation errors: a list of {loc, msg}.
  if (Array.isArray(detail)) {
    return detail.map((item) => `${(item.loc || []).slice(1).join(".")}: ${item.msg}`).join("; ");
  }
  return JSON.stringify(detail);
}

export async function request(method, path, { token = null, json = undefined, form = undefined, signal } = {}) {
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

function keepUploadToken(token) {
  uploadToken = token;
  try {
    localStorage.setItem(UPLOAD_TOKEN_KEY, token);
  } catch {
    // storage disabled: kept in memory only
  }
}

export const api = {
  listPresets: () => request("GET", "/api/presets"),
  listDatasets: () => request("GET", "/api/datasets", { token: uploadToken }),
  /** Upload a CSV with this browser's upload token, and keep the token the server answers. */
  uploadDataset: async (formData) => {
    const uploaded = await request("POST", "/api/datasets", { form: formData, token: uploadToken });
    keepUploadToken(uploaded.token);
    return uploaded;
  },
  /** A session on an upload sends the upload token: only the upload's owner may use it. */
  createSession: (body) =>
    request("POST", "/api/sessions", { json: body, token: body?.data?.upload ? uploadToken : null }),
  getSession: (id, token) => request("GET", `/api/sessions/${id}`, { token }),
  updateSession: (id, token, changes) => request("PATCH", `/api/sessions/${id}`, { token, json: changes }),
  stepSession: (id, token, unit, count = 1) =>
    request("POST", `/api/sessions/${id}/step?include_trace=false`, { token, json: { unit, count } }),
  setParameter: (id, token, edit) => request("PATCH", `/api/sessions/${id}/parameter`, { token, json: edit }),
  deleteSession: (id, token) => request("DELETE", `/api/sessions/${id}`, { token }),
  openClass: (sessionId, token) => request("POST", "/api/classes", { token, json: { session_id: sessionId } }),
  readClass: (teacherToken) => request("GET", "/api/classes/current", { token: teacherToken }),
  moveClass: (teacherToken, sessionId, sessionToken) =>
    request("PATCH", "/api/classes/current", {
      token: teacherToken,
      json: { session_id: sessionId, session_token: sessionToken },
    }),
  endClass: (teacherToken) => request("DELETE", "/api/classes/current", { token: teacherToken }),
  /** A lesson's walk-through on the current batch (GET …/lesson?name=). */
  getLesson: (id, token, name, { signal } = {}) =>
    request("GET", `/api/sessions/${id}/lesson?${new URLSearchParams({ name })}`, { token, signal }),
  /** One weight's (or, without i, one bias's) gradient as its chain-rule factors. */
  getChain: (id, token, { layer, i, j }, { signal } = {}) => {
    const query = new URLSearchParams({ layer: String(layer), j: String(j) });
    if (i !== null && i !== undefined) query.set("i", String(i));
    return request("GET", `/api/sessions/${id}/chain?${query}`, { token, signal });
  },
};
