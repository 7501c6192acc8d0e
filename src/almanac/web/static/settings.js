/* Settings and health: live /health, calendar connection and feed, API keys. */
"use strict";
window.AlmanacPages.settings = function () {
  const A = window.Almanac, { h, api } = A;
  const healthEl = document.getElementById("health");

  async function health() {
    try {
      const res = await fetch("/health", { credentials: "same-origin", headers: { Accept: "application/json" } });
      const out = await res.json();
      if (!Array.isArray(out.services) || !out.dependencies) {
        // The public answer (overall status only): the session ended or was signed out.
        return A.fill(healthEl, h("p", {}, h("span", { class: `dot ${out.status}` }), h("strong", { id: "overall" }, String(out.status)),
          " — each dependency is shown to a signed-in key: ", h("a", { href: "/ui/signin?next=/ui/settings" }, "sign in again")));
      }
      A.fill(healthEl, h("p", {}, h("span", { class: `dot ${out.status}` }), h("strong", { id: "overall" }, out.status), ` — Almanac ${out.version}, services: ${out.services.join(", ")}`),
        h("table", {}, h("thead", {}, h("tr", {}, ["Dependency", "Status", "Required", "Detail", "Latency"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, Object.entries(out.dependencies).map(([name, d]) => h("tr", { class: d.status === "ok" || d.status === "not_configured" ? "" : "hot", dataset: { dep: name } },
            h("td", {}, name), h("td", {}, h("span", { class: `dot ${d.status}` }), d.status.replace("_", " ")), h("td", {}, d.required ? "yes" : "no"),
            h("td", {}, d.detail || ""), h("td", { class: "num" }, d.latency_ms === null || d.latency_ms === undefined ? "—" : `${d.latency_ms.toFixed(1)} ms`))))),
        h("p", { class: "hint" }, `Checked ${A.when(new Date())}.`));
    } catch (err) { A.failed(healthEl, new A.ApiError(0, { detail: "Almanac did not answer /health: " + err.message })); }
  }

  async function google() {
    const el = document.getElementById("google");
    try {
      const s = await api("GET", "/oauth/status");
      const ok = s.status === "ok";
      A.fill(el, h("p", {}, h("span", { class: `dot ${ok ? "ok" : s.status === "expired" ? "degraded" : "not_configured"}` }), `${s.status}${s.expires_at ? ", token expires " + A.when(s.expires_at) : ""}${s.detail ? " — " + s.detail : ""}`),
        !A.canAdmin() ? h("p", { class: "hint" }, "Connecting a calendar needs an admin key.")
          : el.dataset.ready === "yes" ? h("p", {}, h("a", { href: "/oauth/authorize" }, ok ? "Reconnect Google Calendar" : "Connect Google Calendar"))
          : h("p", { class: "hint" }, "To connect, set ALMANAC_CALENDAR__GOOGLE_CLIENT_ID, …_GOOGLE_CLIENT_SECRET and …_TOKEN_KEY, then restart."));
    } catch (err) { A.failed(el, err); }
  }

  const keysEl = document.getElementById("keys");
  async function keys() {
    if (document.body.dataset.scope !== "admin") return A.empty(keysEl, "Managing keys needs an admin key.");
    A.loading(keysEl, "Loading keys…");
    try {
      const list = await api("GET", "/api/v1/auth/keys");
      const form = h("form", { class: "grid", novalidate: true, id: "key-form" },
        h("div", { class: "field" }, h("label", { for: "key-name" }, "Name"), h("input", { id: "key-name", name: "name", required: true }), h("p", { class: "err", "data-for": "name" })),
        h("div", { class: "field" }, h("label", { for: "key-scope" }, "Scope"), h("select", { id: "key-scope", name: "scope" }, ["read", "write", "admin"].map((x) => h("option", {}, x))), h("p", { class: "err", "data-for": "scope" })),
        h("div", { class: "actions" }, h("button", { type: "submit" }, "Create key")));
      const created = h("div", { "aria-live": "polite" });
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        A.clearProblems(form);
        try {
          const k = await A.busy(form.querySelector("button"), () => api("POST", "/api/v1/auth/keys", A.formData(form)));
          await keys();
          keysEl.append(h("div", { class: "card", role: "alert" }, h("p", {}, `Key “${k.name}” (${k.scope}) — copy it now, it is not shown again:`), h("pre", { id: "new-key" }, k.key)));
        } catch (err) { A.showProblem(form, err); }
      });
      A.fill(keysEl, list.length ? h("table", {}, h("thead", {}, h("tr", {}, ["Name", "Scope", "Key", "Created", "Last used", "Uses", ""].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, list.map((k) => h("tr", { dataset: { key: k.name } }, h("td", {}, k.name), h("td", {}, k.scope), h("td", {}, h("code", {}, `${k.prefix}…`)),
          h("td", {}, A.when(k.created_at)), h("td", {}, A.when(k.last_used_at)), h("td", { class: "num" }, k.use_count),
          h("td", {}, h("button", { type: "button", class: "danger", "aria-label": `Revoke key ${k.name}`, onclick: async (ev) => {
            if (!confirm(`Revoke the key “${k.name}”? Anything using it stops working at once.`)) return;
            try { await A.busy(ev.currentTarget, () => api("DELETE", `/api/v1/auth/keys/${encodeURIComponent(k.name)}`)); A.flash(`Key “${k.name}” revoked.`); keys(); }
            catch (err) { A.flash(A.describe(err), "err"); }
          } }, "Revoke")))))) : h("p", { class: "empty" }, "No keys."), h("h3", {}, "New key"), form, created);
    } catch (err) { A.failed(keysEl, err); }
  }

  async function feed() {
    const el = document.getElementById("feed");
    if (document.body.dataset.scope !== "admin") return A.empty(el, "The secret address is shown to admin keys only.");
    try {
      const out = await api("GET", "/api/v1/calendar/feed-url");
      A.fill(el, h("p", {}, h("code", { id: "feed-url" }, location.origin + out.path)));
    } catch (err) { A.failed(el, err); }
  }

  health();
  setInterval(health, 10000);
  google();
  feed();
  keys();
};
