/* Prompts and models: versions, edit as new, compare, activate, roll back, preview, usage. */
"use strict";
window.AlmanacPages.prompts = function () {
  const A = window.Almanac, { h, api } = A;
  const [nameSel, versionsEl, form, pvForm] =
    A.byIds("prompt-name", "prompt-versions", "version-form", "preview-form");
  const [cmpA, cmpB] = A.byIds("cmp-a", "cmp-b");
  let versions = [];

  async function loadNames() {
    try {
      const list = await api("GET", "/api/v1/planner/prompts");
      if (!list.length) return A.empty(versionsEl, "No prompt templates: they are created by the database migrations; run almanac db upgrade.");
      const want = nameSel.value || new URLSearchParams(location.search).get("name");
      A.fill(nameSel, ...list.map((p) => h("option", { value: p.template_name, selected: p.template_name === want }, `${p.template_name} (${p.template_type}, active ${p.active_version || "none"})`)));
      await loadVersions();
    } catch (err) { A.failed(versionsEl, err); }
  }

  async function loadVersions() {
    A.loading(versionsEl, "Loading versions…");
    try {
      versions = await api("GET", `/api/v1/planner/prompts/${nameSel.value}/versions`);
      versions.sort((a, b) => +b.version.slice(1) - +a.version.slice(1));
      const active = versions.find((v) => v.is_active);
      // The version that was active before (the latest to give way), never one only saved.
      const older = versions.filter((v) => !v.is_active && v.deactivated_at)
        .sort((a, b) => Date.parse(b.deactivated_at) - Date.parse(a.deactivated_at))[0];
      A.fill(versionsEl, 
        h("table", {}, h("thead", {}, h("tr", {}, ["Version", "Created", "State", ""].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, versions.map((v) => h("tr", { class: v.is_active ? "hot" : "", dataset: { version: v.version } },
            h("td", {}, v.version), h("td", {}, A.when(v.created_at)), h("td", {}, v.is_active ? h("span", { class: "badge billable" }, "active") : ""),
            h("td", {}, !v.is_active && A.canAdmin() ? h("button", { type: "button", class: "secondary", "aria-label": `Activate ${v.version}`, onclick: (e) => activate(e.currentTarget, v.version) }, "Activate") : null))))),
        older && A.canAdmin() ? h("button", { type: "button", id: "rollback", onclick: (e) => activate(e.currentTarget, older.version, true) }, `Roll back to ${older.version}`) : null);
      form.elements.content.value = (active || versions[0] || {}).content || "";
      const opts = (sel) => versions.map((v) => h("option", { value: v.version, selected: v === sel }, v.version + (v.is_active ? " (active)" : "")));
      A.fill(cmpA, ...opts(versions[1] || versions[0])); A.fill(cmpB, ...opts(versions[0]));
      A.fill(pvForm.elements.version, ...opts(versions[0]));
    } catch (err) { A.failed(versionsEl, err); }
  }

  async function activate(button, version, rollback) {
    try {
      await A.busy(button, () => api("POST", `/api/v1/planner/prompts/${nameSel.value}/versions/${version}/activate`));
      await loadNames();
      A.flash(rollback ? `Rolled back: ${version} is active again.` : `${version} is now active.`);
    } catch (err) { A.flash(A.describe(err), "err"); }
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    A.clearProblems(form);
    try {
      const v = await A.busy(form.querySelector("button"), () => api("POST", `/api/v1/planner/prompts/${nameSel.value}/versions`,
        { content: form.elements.content.value, activate: form.elements.activate.checked }));
      A.flash(`Saved ${v.version}${v.is_active ? " and activated it" : " (not active yet)"}.`);
      form.elements.activate.checked = false;
      await loadNames();
    } catch (err) { A.showProblem(form, err); }
  });

  /* A line diff (longest common subsequence), shown side by side. */
  function lineDiff(a, b) {
    const x = a.split("\n"), y = b.split("\n"), n = x.length, m = y.length;
    const L = Array.from({ length: n + 1 }, () => new Uint16Array(m + 1));
    for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) L[i][j] = x[i] === y[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
    const left = [], right = [];
    let i = 0, j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && x[i] === y[j]) { left.push([x[i++], ""]); right.push([y[j++], ""]); }
      else if (j < m && (i >= n || L[i][j + 1] >= L[i + 1][j])) { left.push(["", "blank"]); right.push([y[j++], "added"]); }
      else { left.push([x[i++], "removed"]); right.push(["", "blank"]); }
    }
    return [left, right];
  }
  document.getElementById("compare").addEventListener("click", () => {
    const va = versions.find((v) => v.version === cmpA.value), vb = versions.find((v) => v.version === cmpB.value);
    if (!va || !vb) return;
    if (va.content.length + vb.content.length > 200000) return A.empty(document.getElementById("prompt-diff"), "These versions are too long to compare here.");
    const [l, r] = lineDiff(va.content, vb.content);
    const col = (title, lines) => h("div", {}, h("h3", {}, title), h("pre", {}, lines.map(([t, c]) => h("div", { class: c }, t || " "))));
    const changed = r.filter(([, c]) => c === "added").length + l.filter(([, c]) => c === "removed").length;
    A.fill(document.getElementById("prompt-diff"), h("p", { class: "hint" }, changed ? `${changed} line(s) differ.` : "The two versions are identical."),
      h("div", { class: "diff" }, col(va.version, l), col(vb.version, r)));
  });

  pvForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    A.clearProblems(pvForm);
    const out = document.getElementById("preview-out");
    if (!A.features.preview) return A.empty(out, "This server has no preview endpoint.");
    try {
      const r = await A.busy(pvForm.querySelector("button"), () => api("POST", `/api/v1/planner/prompts/${nameSel.value}/versions/${pvForm.elements.version.value}/preview`,
        { sample: pvForm.elements.sample.value, call_llm: pvForm.elements.call_llm.checked }));
      A.fill(out, h("p", { class: "hint" }, `${r.template_name} ${r.version}: ${r.llm.detail}`),
        ...r.messages.map((m) => h("div", {}, h("h3", {}, m.role), h("pre", {}, m.content))),
        r.answer ? h("div", {}, h("h3", {}, "LLM answer"), h("pre", {}, JSON.stringify(r.answer, null, 2))) : null);
    } catch (err) { A.showProblem(pvForm, err); }
  });

  const [usageEl, sinceSel] = A.byIds("usage", "usage-since");
  async function loadUsage() {
    A.loading(usageEl, "Loading usage…");
    try {
      const days = +sinceSel.value;
      const since = A.zoned(A.addDays(A.today(), 1 - days), 0);
      const u = await api("GET", "/api/v1/planner/llm/usage?since=" + encodeURIComponent(A.isoZoned(since)));
      const cap = h("p", { class: "hint" }, `Planning calls today: ${u.planning_calls_today} of ${u.daily_planning_cap}.`);
      if (!u.rows.length) return A.fill(usageEl, h("p", { class: "empty" }, "No LLM calls in this period."), cap);
      const cost = u.rows.reduce((a, r) => a + (r.cost || 0), 0);
      const perMonth = (cost / days) * 30;
      A.fill(usageEl, h("table", {}, h("thead", {}, h("tr", {}, ["Operation", "Model", "Calls", "Failed", "Tokens in", "Tokens out", "Cost", "Mean ms"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, u.rows.map((r) => h("tr", {}, h("td", {}, r.operation), h("td", {}, r.model), h("td", { class: "num" }, r.calls), h("td", { class: "num" }, r.failed),
          h("td", { class: "num" }, r.tokens_in), h("td", { class: "num" }, r.tokens_out), h("td", { class: "num" }, r.cost === null ? "—" : `$${r.cost.toFixed(4)}`), h("td", { class: "num" }, r.mean_latency_ms.toFixed(0)))))),
        h("p", {}, `Total $${cost.toFixed(4)}; at this rate about $${perMonth.toFixed(2)} a month.`), cap,
        (u.prompts || []).length ? h("table", { id: "usage-prompts" }, h("caption", {}, "By prompt version"),
          h("thead", {}, h("tr", {}, ["Prompt", "Version", "Calls", "Failed", "Rejected", "Tokens", "Cost"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, u.prompts.map((r) => h("tr", {}, h("td", {}, r.prompt_template), h("td", {}, r.prompt_version || "—"), h("td", { class: "num" }, r.calls),
            h("td", { class: "num" }, r.failed), h("td", { class: "num" }, r.rejected), h("td", { class: "num" }, r.tokens_in + r.tokens_out),
            h("td", { class: "num" }, r.cost === null ? "—" : `$${r.cost.toFixed(4)}`))))) : null);
    } catch (err) { A.failed(usageEl, err); }
  }
  nameSel.addEventListener("change", () => { history.replaceState(null, "", `?name=${nameSel.value}`); loadVersions(); });
  sinceSel.addEventListener("change", loadUsage);
  loadNames();
  loadUsage();
};
