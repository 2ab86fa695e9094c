// @ts-check
// The class's join card, for the projector: the code in large type and a QR code of the class
// link, with the address to type on a phone that cannot scan. The link and its QR code come
// from the server (it knows the address phones on the room's network reach: PUBLIC_URL).

import { elementById } from "./dom.js";
/** @import { ClassPublic } from "./protocol.js" */

const TEMPLATE = { template: "templates/partials/class-join.html" };

export class ClassJoin {
  constructor() {
    this.card = elementById("class-join", HTMLElement, TEMPLATE);
    this.qr = elementById("class-join-qr", HTMLImageElement, TEMPLATE);
    this.address = elementById("class-join-address", HTMLElement, TEMPLATE);
    this.code = elementById("class-join-code", HTMLElement, TEMPLATE);
  }

  /**
   * Show a class: its code, and `join_url` and `join_qr` as the server answered them.
   * @param {string} code
   * @param {Pick<ClassPublic, "join_url" | "join_qr">} answer
   */
  show(code, { join_url: joinUrl, join_qr: joinQr }) {
    const link = new URL(joinUrl);
    this.qr.src = joinQr;
    this.qr.alt = `QR code of the class link ${joinUrl}`;
    this.address.textContent = link.host;
    this.code.textContent = code;
    this.card.hidden = false;
  }

  hide() {
    this.card.hidden = true;
    this.qr.removeAttribute("src");
  }
}
