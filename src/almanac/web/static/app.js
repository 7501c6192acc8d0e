/* Almanac dashboard: shared helpers. Every page reads and writes through the REST API. */
"use strict";
(function () {
  const body = document.body;
  const features = JSON.parse(body.dataset.features || "{}");
  const tz = body.dataset.tz || "UTC";
  const CSRF = "almanac.csrf";

  /* A field as a reader knows it: its own name, not the API's path to it ("sop.steps[0].tasks[1].title"
     is "title"); "body", the API's name for the request as a whole, is no field. */
  function fieldName(path) {
    const parts = String(path || "").split(/[.[\]]+/).filter((p) => p && !/^\d+$/.test(p));
    const last = parts.length ? parts[parts.length - 1] : "";
    return last === "body" ? "" : last;
  }
  /* A problem in one line, as the CLI and the MCP tools word it (http_problems.Problem.message):
     a detail that only lists its fields' reasons ("body: give a task", "sop.steps[0].tasks[1].title:
     …") gives way to them, each after its field's plain name (`label`), alone where the reason
     is about the whole request or begins with the name; any other detail is said as sent. */
  const itemsOf = (problem) => (Array.isArray(problem.errors) ? problem.errors : []).filter((e) => e && typeof e === "object" && String(e.message || "").trim());
  /* Whether the problem's detail says more than its fields' messages (how to go on). */
  function saysMore(problem, text = problem.detail) {
    let rest = String(text || "");
    for (const e of itemsOf(problem)) rest = rest.split(`${e.field}: ${e.message}`).join("").split(String(e.message)).join("");
    return Boolean(rest.replace(/[ ;,.:()[\]]/g, ""));
  }
  function problemText(problem, label) {
    const detail = String(problem.detail || problem.title || "");
    const errors = itemsOf(problem);
    if (!errors.length) return detail;
    if (saysMore(problem, detail)) return detail;
    const said = [];
    for (const e of errors) {
      const name = (label || fieldName)(e.field), reason = String(e.message).trim();
      const line = !name || reason.startsWith(name + " ") ? reason : `${name}: ${reason}`;
      if (!said.includes(line)) said.push(line);
    }
    return said.join("; ");
  }

  class ApiError extends Error {
    constructor(status, problem) {
      const known = problem && typeof problem === "object";
      super((known && problemText(problem)) || "HTTP " + status);
      this.status = status;
      this.problem = known ? problem : {};
    }
  }

  /* An error answer that is not a problem (a proxy's HTML page, plain text): never shown raw. */
  function notJson(res, text) {
    const plain = String(text || "").trim();
    const html = /^</.test(plain);
    return {
      title: `HTTP ${res.status}${res.statusText ? " " + res.statusText : ""}`,
      detail: html || !plain
        ? `Almanac (or a proxy in front of it) answered HTTP ${res.status}${res.status === 502 || res.status === 503 || res.status === 504 ? ": it may be restarting or down; try again shortly" : ""}.`
        : plain.slice(0, 300),
    };
  }

  async function api(method, path, data, opts) {
    const headers = { Accept: "application/json" };
    if (data !== undefined) headers["Content-Type"] = "application/json";
    const token = localStorage.getItem(CSRF);
    if (method !== "GET" && token) headers["X-CSRF-Token"] = token;
    let res;
    try {
      res = await fetch(path, {
        method, headers, credentials: "same-origin",
        body: data === undefined ? undefined : JSON.stringify(data),
      });
    } catch (e) {
      throw new ApiError(0, { title: "Network error", detail: "Almanac did not answer: " + e.message });
    }
    const type = res.headers.get("Content-Type") || "";
    let payload;
    try { payload = type.includes("json") ? await res.json() : await res.text(); }
    catch (e) { payload = ""; } // a cut-off or malformed body: the status still says what happened
    if (res.status === 401 && !(opts && opts.noRedirect)) {
      // Signed in here before (a CSRF token is kept), so the session expired, was signed out
      // elsewhere, or its key was revoked: sign in again, and say why.
      const ended = localStorage.getItem(CSRF) || endedElsewhere ? "ended=1&" : "";
      localStorage.removeItem(CSRF);
      location.assign(`/ui/signin?${ended}next=` + encodeURIComponent(location.pathname + location.search));
      throw new ApiError(401, payload);
    }
    if (!res.ok) throw new ApiError(res.status, typeof payload === "object" && payload ? payload : notJson(res, payload));
    return payload;
  }

  /* Text as shown: without bidi embedding/override controls (an override in a stored title
     would reverse the letters of the page's own text after it: "Trojan Source" spoofing),
     and with isolates it opens closed in the same text. Right-to-left scripts need neither. */
  const BIDI_FORCED = /[\u202a\u202b\u202d\u202e]/g;
  function safeText(text) {
    const t = String(text).replace(BIDI_FORCED, "");
    const open = (t.match(/[\u2066-\u2068]/g) || []).length - (t.match(/\u2069/g) || []).length;
    return open > 0 ? t + "\u2069".repeat(open) : t;
  }

  /* Element builder: text is always set as text, never parsed as HTML. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "class") el.className = v;
      else if (k === "style") el.style.cssText = v; // CSSOM, allowed by the CSP (attributes are not)
      else if (k === "dataset") Object.assign(el.dataset, v);
      else if (k === "title" || k === "aria-label") el.setAttribute(k, safeText(v));
      else el.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(safeText(c)));
    }
    return el;
  }

  const svgNS = "http://www.w3.org/2000/svg";
  function s(tag, attrs, ...children) {
    const el = document.createElementNS(svgNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
    for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : document.createTextNode(safeText(c)));
    return el;
  }

  const fmtDateTime = new Intl.DateTimeFormat(undefined, { timeZone: tz, year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  const fmtTime = new Intl.DateTimeFormat(undefined, { timeZone: tz, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  const fmtDay = new Intl.DateTimeFormat(undefined, { timeZone: tz, weekday: "short", day: "numeric", month: "short" });
  const ymd = new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" });

  const when = (v) => (v ? fmtDateTime.format(new Date(v)) : "—");
  const clock = (v) => fmtTime.format(new Date(v));
  const dayLabel = (v) => fmtDay.format(v instanceof Date ? v : new Date(v));
  /* The calendar date (YYYY-MM-DD) of an instant in the user's zone. */
  const localDate = (v) => ymd.format(v instanceof Date ? v : new Date(v));

  /* The UTC offset of the user's zone at an instant, in minutes. */
  function offsetMinutes(instant) {
    const parts = {};
    for (const p of new Intl.DateTimeFormat("en-US", {
      timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    }).formatToParts(instant)) parts[p.type] = p.value;
    const asUtc = utc(+parts.year, +parts.month - 1, +parts.day, +parts.hour % 24, +parts.minute, +parts.second);
    return Math.round((asUtc - instant.getTime()) / 60000);
  }
  /* The instant of a wall-clock time (date YYYY-MM-DD, minutes after midnight) in the user's zone. */
  function zoned(date, minutes) {
    const [y, m, d] = date.split("-").map(Number);
    const guess = new Date(utc(y, m - 1, d, 0, minutes));
    const first = new Date(guess.getTime() - offsetMinutes(guess) * 60000);
    return new Date(guess.getTime() - offsetMinutes(first) * 60000);
  }
  /* ISO 8601 with the user's offset, as the API expects aware datetimes. */
  function isoZoned(instant) {
    const off = offsetMinutes(instant);
    const local = isoUtc(new Date(instant.getTime() + off * 60000));
    const sign = off < 0 ? "-" : "+";
    const a = Math.abs(off);
    return local + sign + String(Math.floor(a / 60)).padStart(2, "0") + ":" + String(a % 60).padStart(2, "0");
  }
  function addDays(date, n) {
    const [y, m, d] = date.split("-").map(Number);
    return isoUtc(new Date(utc(y, m - 1, d + n))).slice(0, 10);
  }
  /* Date.UTC, but a year below 100 is that year (Date.UTC read 0001 as 1901: a date typed
     with year 1 was sent as 1901, and the API could not say it was out of its range). */
  function utc(y, mo, d, h = 0, mi = 0, s = 0) {
    const t = new Date(0);
    t.setUTCFullYear(y, mo, d);
    t.setUTCHours(h, mi, s, 0);
    return t.getTime();
  }
  /* YYYY-MM-DDTHH:MM:SS of an instant in UTC. toISOString wrote a year past 9999 as
     "+010000" (and the day after 9999-12-31 became "+010000-01", an Invalid Date that threw
     and left a search without an answer); here it is written as it is, for the API to refuse. */
  function isoUtc(t) {
    if (Number.isNaN(t.getTime())) throw new RangeError("Invalid time value");
    const two = (n) => String(n).padStart(2, "0");
    return `${String(t.getUTCFullYear()).padStart(4, "0")}-${two(t.getUTCMonth() + 1)}-${two(t.getUTCDate())}` +
      `T${two(t.getUTCHours())}:${two(t.getUTCMinutes())}:${two(t.getUTCSeconds())}`;
  }
  const today = () => localDate(new Date());

  /* A problem in one line: its title and detail ("Database unavailable: Postgres did not answer"). */
  function describe(err, label) {
    const title = err.problem && err.problem.title;
    const message = (label && err.problem && problemText(err.problem, label)) || err.message;
    return title && message && title !== message ? `${title}: ${message}` : message || title || "Something went wrong.";
  }

  function flash(text, kind) {
    const el = document.getElementById("flash");
    fill(el, h("p", { class: kind || "ok" }, text));
  }

  /* Show a problem next to the field it names (data-for), or at the form's end. */
  function showProblem(form, err, map, label) {
    clearProblems(form);
    // An earlier success ("Remembered as memory 8.") must not stand beside this refusal.
    const banner = document.getElementById("flash");
    if (banner && banner.querySelector("p.ok")) banner.replaceChildren();
    const problem = err.problem || {};
    const items = problem.errors && problem.errors.length ? problem.errors : [{ field: problem.field || "", message: err.message }];
    let shown = false;
    for (const item of items) {
      const name = (map && map[item.field]) || String(item.field || "").split(".").pop();
      const slot = form.querySelector(`.err[data-for="${CSS.escape(name)}"]`);
      if (slot) {
        // Every reason for the field: a refused move named three, and showed only the last.
        const said = safeText(item.message);
        slot.textContent = slot.textContent && !slot.textContent.includes(said) ? `${slot.textContent}; ${said}` : said;
        const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
        if (input) { input.setAttribute("aria-invalid", "true"); if (slot.id) input.setAttribute("aria-describedby", slot.id); }
        shown = true;
      }
    }
    let general = form.querySelector(".err.general");
    if (!general) { general = h("p", { class: "err general", role: "alert" }); form.append(general); }
    // With the fields marked, the answer's own detail (how to go on, the closest matches)
    // rather than its bare title ("Validation failed").
    const detail = saysMore(problem) ? String(problem.detail) : "";
    general.textContent = safeText(shown ? (detail || problem.title || "Please check the fields above.") : describe(err, label));
    const firstBad = form.querySelector('[aria-invalid="true"]');
    if (firstBad) firstBad.focus();
  }
  /* Whether showProblem would place `err` next to one of the form's fields. */
  function namesField(form, err, map) {
    const items = (err.problem && err.problem.errors) || [];
    return items.some((item) => {
      const name = (map && map[item.field]) || String(item.field || "").split(".").pop();
      return name && form.querySelector(`.err[data-for="${CSS.escape(name)}"]`);
    });
  }
  function clearProblems(form) {
    form.querySelectorAll(".err").forEach((e) => (e.textContent = ""));
    form.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
  }

  function formData(form) {
    const out = {};
    for (const el of form.elements) {
      if (!el.name || el.disabled) continue;
      if (el.type === "checkbox") { out[el.name] = el.checked; continue; }
      const v = el.value.trim();
      if (v === "") continue;
      out[el.name] = el.type === "number" ? Number(v) : v;
    }
    return out;
  }

  /* replaceChildren without the null/false placeholders of conditional parts. */
  // The page's elements by id, in order: `const [a, b] = byIds("a", "b")`.
  function byIds(...ids) { return ids.map((id) => document.getElementById(id)); }

  function fill(el, ...children) {
    el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false && c !== ""));
    return el;
  }

  function loading(el, text) { fill(el, h("p", { class: "loading", role: "status" }, text || "Loading…")); }
  function empty(el, text) { fill(el, h("p", { class: "empty" }, text)); }
  /* A problem in place of a panel's content: its title and detail (and the status), never blank. */
  function failed(el, err) {
    const p = err.problem || {};
    const title = p.title && p.title !== err.message ? p.title : null;
    fill(el, h("div", { class: "problem", role: "alert", dataset: { status: err.status } },
      title ? h("strong", {}, title + (err.status ? ` (${err.status})` : "")) : null,
      h("p", { class: "err" }, err.message || "Something went wrong.")));
  }

  /* Run an async action from a button: busy state, and problems shown instead of thrown. */
  async function busy(button, fn) {
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    try { return await fn(); } finally { button.disabled = false; button.removeAttribute("aria-busy"); }
  }

  const canWrite = () => body.dataset.scope !== "read";
  const canAdmin = () => body.dataset.scope === "admin";
  /* What a key may not do is not offered: [data-write] needs write, [data-admin] needs admin. */
  function applyScope(scope, name) {
    body.dataset.scope = scope;
    const who = document.getElementById("who");
    if (who) who.textContent = safeText(name ? `${name} (${scope})` : scope);
    const off = [scope === "read" ? "[data-write]" : null, scope !== "admin" ? "[data-admin]" : null].filter(Boolean);
    if (!off.length) return;
    document.querySelectorAll(off.join(", ")).forEach((el) => {
      el.hidden = true;
      el.querySelectorAll("button, input, select, textarea").forEach((c) => (c.disabled = true));
    });
  }

  /* Signed out in another tab (its sign-out removes the kept CSRF token): said here at once,
     not at this tab's next request, and kept for the sign-in page that request leads to.
     No redirect: what is being typed here stays to be copied. */
  let endedElsewhere = false;
  window.addEventListener("storage", (e) => {
    if (e.key !== CSRF || e.newValue !== null || body.dataset.page === "signin") return;
    endedElsewhere = true;
    const next = encodeURIComponent(location.pathname + location.search);
    fill(document.getElementById("flash"), h("p", { class: "err" },
      "You signed out in another tab. ", h("a", { href: `/ui/signin?ended=1&next=${next}` }, "Sign in again"), " to go on."));
  });

  async function start() {
    const page = body.dataset.page;
    if (page !== "signin") {
      try {
        const me = await api("GET", "/api/v1/auth/me");
        applyScope(me.scope, me.name);
      } catch (e) {
        if (e.status === 401) return; // on the way to the sign-in page
        // Almanac could not say who this is (e.g. its database is down): say so, offer a retry.
        const main = document.getElementById("flash");
        failed(main, e);
        main.firstChild.append(h("button", { type: "button", class: "secondary", onclick: () => location.reload() }, "Try again"));
        document.querySelectorAll("[data-write], [data-admin]").forEach((el) => (el.hidden = true));
        return;
      }
      const out = document.getElementById("signout");
      if (out) out.addEventListener("click", async () => {
        try { await api("DELETE", "/api/v1/auth/session", undefined, { noRedirect: true }); } catch (e) { /* already out */ }
        localStorage.removeItem(CSRF);
        location.assign("/ui/signin");
      });
    }
    const init = (window.AlmanacPages || {})[page];
    if (init) init();
  }

  window.Almanac = {
    api, h, s, when, clock, dayLabel, localDate, zoned, isoZoned, addDays, today, offsetMinutes,
    byIds, fill, flash, describe, fieldName, safeText, showProblem, namesField, clearProblems, formData, loading, empty, failed, busy,
    canWrite, canAdmin, features, tz, ApiError, CSRF,
  };
  window.AlmanacPages = window.AlmanacPages || {};
  /* Where to go after signing in: a dashboard page of this origin only, checked after the
     URL is resolved (so "/ui/../api/…" or "/ui/%2e%2e/…" cannot lead anywhere else). */
  function nextPage(next) {
    try {
      const url = new URL(next || "/ui/today", location.origin);
      if (url.origin === location.origin && /^\/ui\/[a-z]+$/.test(url.pathname)) return url.pathname + url.search;
    } catch (e) { /* not a URL */ }
    return "/ui/today";
  }

  window.AlmanacPages.signin = function () {
    const form = document.getElementById("signin-form");
    if (!form) return;
    if (new URLSearchParams(location.search).get("ended")) {
      flash("Your session has ended: it expired, you signed out elsewhere, or its key was revoked. Sign in again with a valid key.", "err");
    }
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clearProblems(form);
      const key = form.elements.key.value.trim();
      const btn = form.querySelector("button");
      try {
        const out = await busy(btn, () => api("POST", "/api/v1/auth/session", { key }, { noRedirect: true }));
        localStorage.setItem(CSRF, out.csrf_token);
        location.assign(nextPage(new URLSearchParams(location.search).get("next")));
      } catch (err) {
        const e = new ApiError(err.status, { ...err.problem, errors: [{ field: "key", message: err.status === 401 || err.status === 403 ? "That key was not accepted: check it, or create one with almanac keys create." : err.message }] });
        showProblem(form, e);
      }
    });
    form.querySelector("fieldset").disabled = false;  // only now can the form be sent
    document.getElementById("key").focus();
  };
  document.addEventListener("DOMContentLoaded", start);
})();
