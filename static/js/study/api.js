// The study endpoints (issue 13): rewind and branch, grade, coach, hand checks, worksheets.
// One function per endpoint, on api.js's `request` (errors throw ApiError with `field`).
import { ApiError, request } from "../api.js";

const base = (id) => `/api/sessions/${id}`;
const query = (params) => new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]));

export const studyApi = {
  getState: (id, token) => request("GET", `${base(id)}?include_trace=false`, { token }),
  getBoundary: (id, token, resolution) =>
    request("GET", `${base(id)}/boundary?${query({ resolution })}`, { token }),
  step: (id, token, unit, count) => request("POST", `${base(id)}/step?include_trace=false`, { token, json: { unit, count } }),
  getTimeline: (id, token) => request("GET", `${base(id)}/timeline`, { token }),
  getMoment: (id, token, moment, resolution = null) => {
    const params = { ...moment, include_trace: true };
    if (resolution) params.resolution = resolution;
    return request("GET", `${base(id)}/at?${query(params)}`, { token });
  },
  branch: (id, token, body) => request("POST", `${base(id)}/branch`, { token, json: body }),
  getGradeProblem: (id, token) => request("GET", `${base(id)}/grade`, { token }),
  grade: (id, token, body) => request("POST", `${base(id)}/grade`, { token, json: body }),
  getCoach: (id, token) => request("GET", `${base(id)}/coach`, { token }),
  check: (id, token, body) => request("POST", `${base(id)}/check`, { token, json: body }),
  /** The worksheet's HTML (a page, not JSON): its text. */
  getWorksheet: async (id, token, params) => (await fetchFile(`${base(id)}/worksheet?${query(params)}`, token)).text,
  /** The run as a Jupyter notebook (style lesson003 or lesson000, exercise true/false): {text, filename}. */
  getNotebook: (id, token, params) => fetchFile(`${base(id)}/notebook?${query(params)}`, token),
};

/**
 * A file an endpoint answers (not JSON; its errors are): its text and the name its
 * Content-Disposition gives.
 * @param {string} path
 * @param {string} token
 * @returns {Promise<{ text: string, filename: string | null }>}
 */
async function fetchFile(path, token) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
  const text = await response.text();
  if (!response.ok) {
    const payload = JSON.parse(text || "{}");
    throw new ApiError(response.status, payload.detail ?? response.statusText, payload.field ?? null);
  }
  const named = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") ?? "");
  return { text, filename: named ? named[1] : null };
}
