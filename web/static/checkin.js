// The check-in page: one question per screen, a summary to change any answer, then Send.
// Answers live only in this page until Send: nothing in cookies, storage or on the server (P5).
// It talks to the Telegram client through the public Mini Apps events protocol (a few lines
// below, our own: no script from another host may load, CSP default-src 'self').
"use strict";
(() => {
  const TELEGRAM_WEB = "https://web.telegram.org";
  const app = document.getElementById("app");
  const fragment = new URLSearchParams(location.hash.slice(1));
  const initData = fragment.get("tgWebAppData") || "";
  const search = new URLSearchParams(location.search);
  const lang = /^(sv|en)$/.test(search.get("lang") || "") ? search.get("lang") : document.documentElement.lang;
  const roundText = search.get("round") || "";
  const round = /^\d{1,12}$/.test(roundText) ? Number(roundText) : null;

  // --- the bridge to the Telegram client -------------------------------------------------------
  function post(eventType, eventData) {
    const data = eventData || {};
    try {
      if (window.TelegramWebviewProxy) {                    // Android and iOS
        window.TelegramWebviewProxy.postEvent(eventType, JSON.stringify(data));
      } else if (window.external && "notify" in window.external) {  // Desktop
        window.external.notify(JSON.stringify({ eventType, eventData: data }));
      } else if (window.parent !== window) {                 // Telegram Web: we are in its frame
        window.parent.postMessage(JSON.stringify({ eventType, eventData: data }), TELEGRAM_WEB);
      }
    } catch (error) { /* outside Telegram there is nobody to tell */ }
  }
  function received(eventType, eventData) {
    if (eventType === "theme_changed" && eventData) applyTheme(eventData.theme_params);
  }
  window.Telegram = { WebView: { receiveEvent: received } };
  window.addEventListener("message", (event) => {
    if (event.origin !== TELEGRAM_WEB || typeof event.data !== "string") return;
    try { const m = JSON.parse(event.data); received(m.eventType, m.eventData); } catch (e) { /* not ours */ }
  });
  const THEME = { bg_color: "--bg", text_color: "--text", hint_color: "--hint", link_color: "--link",
    button_color: "--button", button_text_color: "--button-text", secondary_bg_color: "--secondary-bg" };
  function applyTheme(params) {
    if (!params || typeof params !== "object") return;
    for (const [key, variable] of Object.entries(THEME)) {
      const value = params[key];
      if (typeof value === "string" && /^#[0-9a-fA-F]{3,8}$/.test(value)) {
        document.documentElement.style.setProperty(variable, value);
      }
    }
  }
  try { applyTheme(JSON.parse(fragment.get("tgWebAppThemeParams") || "null")); } catch (e) { /* plain colours */ }

  // --- talking to our server --------------------------------------------------------------------
  async function request(path, body) {
    let response;
    try {
      response = await fetch(`${path}?lang=${lang}`, {
        method: "POST", credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ init_data: initData, round, ...body }),
      });
    } catch (error) {
      return { state: "offline", message: app.dataset.offline };
    }
    try { return await response.json(); } catch (error) {
      return { state: "error", message: app.dataset.offline };
    }
  }

  // --- drawing ----------------------------------------------------------------------------------
  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (name === "onclick") node.addEventListener("click", value);
      else if (value !== false && value !== null && value !== undefined) node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }
  function show(...nodes) {
    app.replaceChildren(...nodes.filter((node) => node !== null));
    const heading = app.querySelector("h1");
    if (heading) { heading.tabIndex = -1; heading.focus(); }
  }
  function finish(message, isError) {
    post("web_app_setup_closing_behavior", { need_confirmation: false });
    const close = el("button", { class: "primary", type: "button", onclick: () => post("web_app_close") },
      texts.close || app.dataset.close);
    show(el("h1", {}, message), close);
    if (isError) app.querySelector("h1").classList.add("error");
  }

  let texts = {};
  let items = [];
  let answers = [];          // per item: an option index, or null when skipped
  let position = 0;          // the question shown, or items.length for the summary
  let changing = false;      // a question reached from the summary goes back to it

  function question() {
    const item = items[position];
    const chosen = answers[position];
    const progress = el("p", { class: "progress" },
      texts.question.replace("{n}", position + 1).replace("{total}", items.length));
    const options = el("div", { class: "options", role: "group", "aria-labelledby": "question" },
      ...item.labels.map((label, index) => el("button", {
        type: "button", class: chosen === index ? "chosen" : null, "aria-pressed": String(chosen === index),
        onclick: () => choose(index),
      }, label)));
    const row = el("div", { class: "row" });
    if (position > 0 || changing) row.append(el("button", { type: "button", class: "quiet", onclick: back }, `« ${texts.back}`));
    if (!item.required) row.append(el("button", { type: "button", class: "quiet", onclick: () => choose(null) }, `${texts.skip} »`));
    show(progress, el("h1", { id: "question" }, item.text), options, row.childElementCount ? row : null);
  }
  function choose(index) {
    answers[position] = index;
    post("web_app_setup_closing_behavior", { need_confirmation: true });
    position = changing ? items.length : position + 1;
    changing = false;
    draw();
  }
  function back() {
    if (changing) { changing = false; position = items.length; } else { position -= 1; }
    draw();
  }
  function summary() {
    const list = el("ol", { class: "summary" }, ...items.map((item, index) => el("li", {},
      el("div", {}, item.text),
      el("div", { class: "answer" }, answers[index] === null ? texts.skipped : item.labels[answers[index]]),
      el("button", { type: "button", "aria-label": `${texts.change}: ${item.text}`,
        onclick: () => { changing = true; position = index; draw(); } }, texts.change))));
    const nothing = answers.every((answer) => answer === null);
    const note = el("p", { id: "note", role: "status" }, nothing ? texts.nothing_to_send : texts.send_question);
    const send = nothing ? null : el("button", { type: "button", class: "primary", onclick: sendAnswers }, texts.send);
    show(el("h1", {}, texts.summary), list, note, send);
  }
  function draw() { if (position < items.length) question(); else summary(); }

  async function sendAnswers(event) {
    const button = event.currentTarget;
    button.disabled = true;
    button.textContent = texts.sending;
    const chosen = {};
    items.forEach((item, index) => { chosen[item.key] = answers[index]; });
    const outcome = await request("/checkin/send", { answers: chosen });
    if (outcome.state === "sent") {
      finish(outcome.message, false);
      setTimeout(() => post("web_app_close"), 2500);
      return;
    }
    if (["busy", "offline", "unavailable", "error"].includes(outcome.state)) {
      const note = document.getElementById("note");   // nothing was saved: the answers stay here
      note.textContent = outcome.message;
      note.classList.add("error");
      button.disabled = false;
      button.textContent = texts.send;
      return;
    }
    finish(outcome.message, outcome.state !== "answered");
  }

  async function start() {
    post("web_app_ready");
    post("web_app_expand");
    const opened = await request("/checkin/open", {});
    if (opened.state !== "open") { texts = opened.texts || texts; finish(opened.message, opened.state !== "answered"); return; }
    texts = opened.texts;
    items = opened.items;
    answers = items.map(() => null);
    position = 0;
    draw();
  }
  start();
})();
