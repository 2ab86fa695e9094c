// @ts-check
// The study endpoints (issue 13): rewind and branch, grade, coach, hand checks, worksheets.
// One function per endpoint, on api.js's `request` (errors throw ApiError with `field`).
import { ApiError, request } from "../api.js";
/** @import { Boundary, CheckResult, CoachReport, GradeProblem, GradeResult, Moment, MomentAnswer, SessionCreated, SessionState, StepResult, Timeline } from "../protocol.js" */

/** @param {string} id */
const base = (id) => `/api/sessions/${id}`;
/** @param {Record<string, unknown>} params */
const query = (params) => new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]));

/**
 * In a class, the study calls name the student: their own batch and worksheet (drawn by their
 * seed), counted in the lesson's record; outside a class, nothing.
 * @param {string | null} student
 * @returns {{ student?: string }}
 */
export const own = (student) => (student ? { student } : {});

// Each endpoint's arguments and answer; `id` a session's, `token` its control (or watch) token.
export const studyApi = {
  /** @type {(id: string, token: string) => Promise<SessionState>} */
  getState: (id, token) => request("GET", `${base(id)}?include_trace=false`, { token }),
  /** @type {(id: string, token: string, resolution: number) => Promise<Boundary>} */
  getBoundary: (id, token, resolution) =>
    request("GET", `${base(id)}/boundary?${query({ resolution })}`, { token }),
  /** @type {(id: string, token: string, unit: string, count: number) => Promise<StepResult>} */
  step: (id, token, unit, count) => request("POST", `${base(id)}/step?include_trace=false`, { token, json: { unit, count } }),
  /** @type {(id: string, token: string) => Promise<Timeline>} */
  getTimeline: (id, token) => request("GET", `${base(id)}/timeline`, { token }),
  /** @type {(id: string, token: string, moment: Moment, resolution?: number | null) => Promise<MomentAnswer>} */
  getMoment: (id, token, moment, resolution = null) => {
    /** @type {Record<string, unknown>} */
    const params = { ...moment, include_trace: true };
    if (resolution) params.resolution = resolution;
    return request("GET", `${base(id)}/at?${query(params)}`, { token });
  },
  /** @type {(id: string, token: string, body: Moment & { changes: Record<string, unknown> }) => Promise<SessionCreated>} */
  branch: (id, token, body) => request("POST", `${base(id)}/branch`, { token, json: body }),
  /** @type {(id: string, token: string, params?: { student?: string }) => Promise<GradeProblem>} */
  getGradeProblem: (id, token, params = {}) => request("GET", `${base(id)}/grade?${query(params)}`, { token }),
  /** @type {(id: string, token: string, body: unknown) => Promise<GradeResult>} */
  grade: (id, token, body) => request("POST", `${base(id)}/grade`, { token, json: body }),
  /** @type {(id: string, token: string) => Promise<CoachReport>} */
  getCoach: (id, token) => request("GET", `${base(id)}/coach`, { token }),
  /** @type {(id: string, token: string, body: Record<string, unknown>) => Promise<CheckResult>} */
  check: (id, token, body) => request("POST", `${base(id)}/check`, { token, json: body }),
  /**
   * The worksheet's HTML (a page, not JSON): its text.
   * @param {string} id
   * @param {string} token
   * @param {{ seed: number, answers: boolean } | { student: string, answers: boolean }} params
   *   a seed's sheet, or in a class the student's own
   * @returns {Promise<string>}
   */
  getWorksheet: async (id, token, params) => (await fetchFile(`${base(id)}/worksheet?${query(params)}`, token)).text,
  /**
   * The run as a Jupyter notebook (style lesson003 or lesson000, exercise true/false).
   * @param {string} id
   * @param {string} token
   * @param {{ style: string, exercise: boolean }} params
   * @returns {Promise<{ text: string, filename: string | null }>}
   */
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
