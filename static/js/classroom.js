// @ts-check
// The class link (#class=<code>): a teacher opens a class on their session; students' pages
// follow whatever session the teacher shows now. The code travels in the URL's fragment and
// in a websocket's token= query (masked in the server's logs), never in a path.
//
// ClassSocket: /ws/classes?token=<code | teacher token>, reconnecting; it hands on `class`
// messages (students: where the class is, or that it ended) and `students` counts (teacher).
// ClassControls: the teacher's part of the share panel and the class badge in the top bar.
import { api } from "./api.js";
import { ClassJoin } from "./class-join.js";
import { closeCode } from "./config.js";
import { TeacherQuestions } from "./predict.js";
/** @import { PageElements } from "./dom.js" */
/** @import { ClassMessage, ClassPublic, Phase, SessionKeys } from "./protocol.js" */
/** @import { Notify } from "./views/status.js" */
/** @import { Highlight } from "./predict.js" */

const RECONNECT_FIRST_MS = 500;
const RECONNECT_MAX_MS = 8000;
const STORAGE_KEY = "playground.class"; // this tab's open class survives a reload

export const CLASS = "class=";

/** @param {string} code */
export function classFragment(code) {
  return `${CLASS}${code}`;
}

export class ClassSocket {
  /** onMessage(message); onGone(reason): the server does not know this class; onOpen(): a
   *  socket (the first, or one after a reconnect) is open.
   * @param {{ onMessage: (message: ClassMessage) => void, onGone: (reason: string) => void, onOpen?: () => void }} handlers
   */
  constructor({ onMessage, onGone, onOpen = () => {} }) {
    this.onMessage = onMessage;
    this.onGone = onGone;
    this.onOpen = onOpen;
    /** @type {WebSocket | null} */
    this.socket = null;
    /** @type {string | null} a class code or a teacher token */
    this.token = null;
    this.attempt = 0;
    /** @type {number | undefined} */
    this.timer = undefined;
  }

  /** @param {string} token a class code (a student) or the teacher token */
  connect(token) {
    this.close();
    this.token = token;
    this.open();
  }

  open() {
    if (!this.token) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/classes?token=${encodeURIComponent(this.token)}`);
    this.socket = socket;
    socket.addEventListener("open", () => {
      if (socket === this.socket) this.onOpen();
    });
    socket.addEventListener("message", (event) => {
      if (socket !== this.socket) return;
      this.attempt = 0;
      this.onMessage(JSON.parse(event.data));
    });
    socket.addEventListener("close", (event) => {
      if (socket !== this.socket) return;
      this.socket = null;
      const code = closeCode(event.code);
      if (code?.final) {
        this.token = null; // no such class (the server's close codes): it will not come back
        this.onGone(event.reason || code.meaning);
        return;
      }
      if (!this.token) return;
      const delay = Math.min(RECONNECT_FIRST_MS * 2 ** this.attempt, RECONNECT_MAX_MS);
      this.attempt += 1;
      this.timer = setTimeout(() => this.token && this.open(), delay * (0.8 + 0.4 * Math.random()));
    });
  }

  /**
   * Send a message (a student's answer); false when the socket is not open.
   * @param {{ type: string } & Record<string, unknown>} message
   */
  send(message) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  close() {
    this.token = null;
    clearTimeout(this.timer);
    if (this.socket) {
      const socket = this.socket;
      this.socket = null;
      socket.close(1000, "client closed");
    }
  }
}

/** @param {number} count */
function studentsText(count) {
  return count === 1 ? "1 student following" : `${count} students following`;
}

/**
 * The teacher's class: "Open a class" in the share panel, the code and link, the number of
 * students, "End the class"; the top bar's badge says the same in short.
 * elements: openClassButton, endClassButton, classOpen, classCode, classLink, copyClassLink,
 * classStudents, classBadge, joinClassForm, joinClassCode.
 * session(): {id, token} of the session shown; notify(message, kind);
 * nextPhase(): the phase the session runs next (the class's questions are about it);
 * highlight(layer, i, j): show a revealed answer on the diagram; maxRounds: a question's most
 * rounds (the server's question_max_rounds).
 */
export class ClassControls {
  /**
   * @param {Pick<PageElements, "openClassButton" | "endClassButton" | "classOpen" | "classCode" | "classLink" | "copyClassLink" | "classStudents" | "classBadge" | "joinClassForm" | "joinClassCode">} elements
   * @param {{ session: () => SessionKeys | null, notify: Notify, nextPhase: () => Phase | null, highlight: Highlight, maxRounds: number }} options
   */
  constructor(elements, { session, notify, nextPhase, highlight, maxRounds }) {
    this.e = elements;
    this.session = session;
    this.notify = notify;
    this.join = new ClassJoin();
    /** @type {{ code: string, teacherToken: string } | null} */
    this.classroom = null;
    this.questions = new TeacherQuestions({
      teacherToken: () => this.classroom?.teacherToken ?? null,
      nextPhase,
      notify,
      highlight,
      maxRounds,
    });
    this.socket = new ClassSocket({
      onMessage: (message) => this.onMessage(message),
      onGone: () => this.forget("The class is no longer known to the server: open a new one."),
    });
    elements.openClassButton.addEventListener("click", () => this.open());
    elements.endClassButton.addEventListener("click", () => this.end());
    elements.copyClassLink.addEventListener("click", () => this.copyLink());
    elements.classLink.addEventListener("focus", () => elements.classLink.select());
    elements.joinClassForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const code = elements.joinClassCode.value.replace(/[\s-]/g, "").toUpperCase();
      if (code) location.hash = classFragment(code); // the page starts again from the link
    });
  }

  /** A class this tab opened before a reload: resumed on the session now shown. */
  async resume() {
    const saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "null");
    if (!saved?.teacherToken) return;
    try {
      const current = await api.readClass(saved.teacherToken);
      if (current.ended) throw new Error("ended");
      this.show({ code: current.code, teacherToken: saved.teacherToken }, current);
      await this.sessionChanged();
    } catch {
      sessionStorage.removeItem(STORAGE_KEY);
    }
  }

  async open() {
    const session = this.session();
    if (!session) return;
    const { id, token } = session;
    try {
      const opened = await api.openClass(id, token);
      this.show({ code: opened.code, teacherToken: opened.teacher_token }, opened);
      this.notify(`Class ${opened.code} is open: students follow ${this.e.classLink.value}`, "info");
    } catch (error) {
      this.notify(`The class could not be opened: ${error.message}`);
    }
  }

  /**
   * classroom: {code, teacherToken}; answer: the server's class, with its join link.
   * @param {{ code: string, teacherToken: string }} classroom
   * @param {ClassPublic} answer
   */
  show(classroom, answer) {
    this.classroom = classroom;
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(classroom));
    this.e.classCode.textContent = classroom.code;
    this.e.classLink.value = answer.join_url;
    this.join.show(classroom.code, answer);
    this.e.classOpen.hidden = false;
    this.e.openClassButton.hidden = true;
    this.showStudents(0);
    this.questions.show();
    this.socket.connect(classroom.teacherToken);
  }

  /** @param {number} count */
  showStudents(count) {
    if (!this.classroom) return;
    this.e.classStudents.textContent = studentsText(count);
    this.e.classStudents.dataset.count = String(count);
    this.e.classBadge.textContent = `Class ${this.classroom.code} · ${studentsText(count)}`;
    this.e.classBadge.hidden = false;
  }

  /** @param {ClassMessage} message */
  onMessage(message) {
    if (message.type === "students") this.showStudents(message.count);
    else if (message.type !== "class") this.questions.onMessage(message);
    // "class" messages echo the teacher's own moves: nothing to do.
  }

  /** The teacher now shows another session: the class moves there, students follow. */
  async sessionChanged() {
    const session = this.session();
    if (!this.classroom || !session) return;
    const { id, token } = session;
    try {
      await api.moveClass(this.classroom.teacherToken, id, token);
    } catch (error) {
      this.notify(`The class could not follow the new session: ${error.message}`);
    }
  }

  async end() {
    if (!this.classroom) return;
    try {
      await api.endClass(this.classroom.teacherToken);
      this.forget(`Class ${this.classroom.code} has ended: its link now says so.`);
    } catch (error) {
      this.notify(`The class could not be ended: ${error.message}`);
    }
  }

  /** @param {string} message */
  forget(message) {
    this.socket.close();
    this.classroom = null;
    this.questions.hide();
    this.join.hide();
    sessionStorage.removeItem(STORAGE_KEY);
    this.e.classOpen.hidden = true;
    this.e.openClassButton.hidden = false;
    this.e.classBadge.hidden = true;
    this.notify(message, "info");
  }

  copyLink() {
    const link = this.e.classLink.value;
    const copied = navigator.clipboard?.writeText(link);
    const fallback = () => this.notify("Class link ready: copy it from the field.", "info");
    if (!copied) return fallback();
    copied.then(() => this.notify("Class link copied to the clipboard.", "info"), fallback);
  }
}
