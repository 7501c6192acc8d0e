/* Memory browser: recall with filters, detail with fact history, create, export, forget. */
"use strict";
window.AlmanacPages.memory = function () {
  const A = window.Almanac, { h, api } = A;
  if (!A.features.memory) return; // the Planner alone: the page says where memory lives
  const [results, detail, searchForm] = A.byIds("results", "detail", "search-form");

  function subjectOf(text) {
    const i = (text || "").indexOf(":");
    return i > 0 ? [text.slice(0, i).trim(), text.slice(i + 1).trim()] : null;
  }

  async function search(ev) {
    if (ev) ev.preventDefault();
    A.clearProblems(searchForm);
    const f = A.formData(searchForm);
    if (!f.query) return A.showProblem(searchForm, new A.ApiError(422, { errors: [{ field: "query", message: "Type what to look for." }] }));
    const params = new URLSearchParams({ query: f.query, k: "50" });
    const kind = f.kind || "";
    if (kind === "memory") params.append("kinds", "event");
    else if (kind === "document") params.append("kinds", "document");
    else if (kind) params.append("kinds", "fact");
    if (f.client_id) params.set("client_id", f.client_id);
    if (f.since) params.set("since", A.isoZoned(A.zoned(f.since, 0)));
    if (f.until) params.set("until", A.isoZoned(A.zoned(A.addDays(f.until, 1), 0)));
    const subject = subjectOf(f.subject);
    A.loading(results, "Searching…");
    try {
      const out = await api("GET", "/api/v1/memory/recall?" + params);
      let hits = out.results;
      if (subject || kind === "preference" || kind === "pattern" || kind === "fact") {
        const q = new URLSearchParams({ limit: "1000" });
        if (subject) { q.set("subject_type", subject[0]); q.set("subject_id", subject[1]); }
        if (kind === "preference" || kind === "pattern") q.set("fact_type", kind);
        const facts = new Set((await api("GET", "/api/v1/memory/facts?" + q)).map((x) => x.id));
        hits = hits.filter((x) => (x.kind === "fact" ? facts.has(x.id)
          : !subject || (x.metadata.subject_type === subject[0] && String(x.metadata.subject_id) === subject[1])));
      }
      render(hits, out);
    } catch (err) {
      // Shown once: next to the field it names (the results go back to empty), or else in
      // place of the results. Both at once showed a refused search's reason twice.
      if (A.namesField(searchForm, err)) { A.showProblem(searchForm, err); A.fill(results); }
      else A.failed(results, err);
    }
  }

  function render(hits, out) {
    if (!hits.length) return A.empty(results, "Nothing matches. Try other words, widen the dates or clear a filter.");
    const list = h("ul", { class: "results", "aria-label": "Search results" });
    for (const x of hits) {
      // The relevance compares across searches (0.5 the floor); the fused score only ranks.
      const rel = x.relevance === null || x.relevance === undefined ? "" : ` · relevance ${x.relevance.toFixed(2)}`;
      const label = `${A.when(x.occurred_at)}${rel}`;
      list.append(h("li", {}, h("button", {
        type: "button", "aria-pressed": "false", dataset: { kind: x.kind, id: x.id },
        onclick: (e) => { list.querySelectorAll("button").forEach((b) => b.setAttribute("aria-pressed", "false")); e.currentTarget.setAttribute("aria-pressed", "true"); show(x.kind, x.id, x); },
      }, h("span", { class: "badge" + (x.kind === "fact" ? " internal" : x.kind === "document" ? " billable" : "") }, x.kind === "event" ? "memory" : x.kind), " ", x.content, h("br"), h("small", { class: "hint" }, label))));
    }
    A.fill(results, h("p", { class: "hint" }, `${hits.length} result(s)${out.cached ? " (cached)" : ""} in ${out.took_ms.toFixed(0)} ms`), list);
  }

  function meta(pairs) {
    const dl = h("dl", { class: "meta" });
    for (const [k, v] of pairs) dl.append(h("dt", {}, k), h("dd", {}, v === null || v === undefined || v === "" ? "—" : v));
    return dl;
  }

  async function show(kind, id, hit) {
    if (kind === "document") {
      // A document passage: the recall hit carries its text and citation.
      return A.fill(detail, h("p", {}, hit.content), meta([["passage", id], ["source", hit.source], ["added", A.when(hit.occurred_at)]]),
        h("h3", {}, "Metadata"), h("pre", {}, JSON.stringify(hit.metadata, null, 2)));
    }
    A.loading(detail);
    try {
      if (kind === "event") {
        const e = await api("GET", `/api/v1/memory/events/${id}`);
        A.fill(detail, h("p", {}, e.content), meta([
          ["id", e.id], ["type", e.event_type], ["source", e.event_source], ["client", e.client_id],
          ["scope", e.memory_scope], ["salience", e.salience_score], ["occurred", A.when(e.occurred_at)],
          ["expires", A.when(e.expires_at)], ["promoted to fact", e.promoted_to_fact_id],
        ]), h("h3", {}, "Metadata"), h("pre", {}, JSON.stringify(e.metadata, null, 2)),
        e.promoted_to_fact_id ? h("button", { type: "button", class: "secondary", onclick: () => show("fact", e.promoted_to_fact_id) }, "Open the fact") : null,
        A.canWrite() ? h("button", { type: "button", class: "danger", onclick: (ev) => forgetEvent(ev.currentTarget, e.id) }, "Forget this memory") : null);
        return;
      }
      const f = await api("GET", `/api/v1/memory/facts/${id}`);
      const q = new URLSearchParams({ subject_type: f.subject_type, subject_id: f.subject_id, fact_type: f.fact_type, include_history: "true", limit: "1000" });
      // A slot is also whose the fact is (memory.repository.fact_owner): another client's
      // fact, or the user's own, in the same subject and category is not this one's history.
      const owner = (x) => (x.client_id != null ? String(x.client_id) : x.subject_type === "client" ? x.subject_id : "");
      const all = (await api("GET", "/api/v1/memory/facts?" + q)).filter((x) => (x.category || "") === (f.category || "") && owner(x) === owner(f));
      all.sort((a, b) => new Date(b.valid_from) - new Date(a.valid_from));
      const byId = new Map(all.map((x) => [x.id, x]));
      const successor = new Map(all.filter((x) => x.supersedes_id).map((x) => [x.supersedes_id, x]));
      const rows = all.map((x) => h("tr", { class: x.id === f.id ? "hot" : "" },
        h("td", {}, x.content), h("td", {}, A.when(x.valid_from)), h("td", {}, x.valid_to ? A.when(x.valid_to) : x.current ? "current" : "not yet"),
        h("td", {}, successor.has(x.id) ? `#${successor.get(x.id).id}` : "—"),
        h("td", {}, x.supersedes_id && byId.has(x.supersedes_id) ? `#${x.supersedes_id}` : x.supersedes_id || "—")));
      A.fill(detail, h("p", {}, f.content), meta([
        ["id", f.id], ["subject", `${f.subject_type}:${f.subject_id}`], ["type", f.fact_type], ["category", f.category],
        ["client", f.client_id], ["salience", f.salience_score], ["valid from", A.when(f.valid_from)],
        ["valid to", f.valid_to ? A.when(f.valid_to) : f.current ? "current" : "not yet"], ["learnt", A.when(f.created_at)], ["from memory", f.source_event_id],
      ]), h("h3", {}, "Metadata"), h("pre", {}, JSON.stringify(f.metadata, null, 2)),
      h("h3", { id: "history-h" }, "History"),
      h("table", { "aria-labelledby": "history-h" }, h("thead", {}, h("tr", {}, ["Fact", "Valid from", "Valid to", "Superseded by", "Supersedes"].map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, rows)));
    } catch (err) { A.failed(detail, err); }
  }

  async function forgetEvent(button, id) {
    if (!confirm("Forget this memory? It cannot be undone.")) return;
    try { await A.busy(button, () => api("DELETE", `/api/v1/memory/events/${id}`)); A.flash(`Memory ${id} forgotten.`); A.empty(detail, "Forgotten."); }
    catch (err) { A.flash(A.describe(err), "err"); }
  }

  function bindCreate(form, path, shape, done) {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      A.clearProblems(form);
      try {
        const out = await A.busy(form.querySelector("button[type=submit]"), () => api("POST", path, shape(A.formData(form))));
        form.elements.content.value = "";
        done(out);
      } catch (err) { A.showProblem(form, err); }
    });
  }
  bindCreate(document.getElementById("remember-form"), "/api/v1/memory/remember", (d) => ({ ...d, event_source: "dashboard" }),
    (out) => { A.flash(`Remembered as memory ${out.id}${out.promoted_to_fact_id ? `, promoted to fact ${out.promoted_to_fact_id}` : ""}.`); show("event", out.id); });
  bindCreate(document.getElementById("fact-form"), "/api/v1/memory/facts", (d) => d,
    (out) => { A.flash(`Fact ${out.fact.id} added${out.superseded_id ? `; it supersedes fact ${out.superseded_id}` : ""}.`); show("fact", out.fact.id); });

  // Everything at once is an admin's export (like forgetting); other keys see facts only
  // ([data-admin] is hidden by app.js for them).

  // Archive now: a dry run shows what would go, then one click archives exactly that age.
  const archiveForm = document.getElementById("archive-form");
  const archiveOut = document.getElementById("archive-out");
  archiveForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    A.clearProblems(archiveForm);
    const days = +archiveForm.elements.days.value;
    try {
      const r = await A.busy(archiveForm.querySelector("button"), () => api("POST", "/api/v1/memory/retention", { days, dry_run: true }));
      const kept = r.kept_promoted ? ` (${r.kept_promoted} promoted to facts are kept)` : "";
      if (!r.eligible) return A.fill(archiveOut, h("p", { class: "empty" }, `Nothing to archive: no memory older than ${days} days that is not a fact${kept}.`));
      A.fill(archiveOut, h("div", { role: "alertdialog", "aria-label": "Archive old memories" },
        h("p", {}, `${r.eligible} memories older than ${days} days would be archived to a gzip file in the data folder and deleted${kept}.`),
        h("button", { type: "button", class: "danger", onclick: (e) => archive(e.currentTarget, days) }, `Archive ${r.eligible} memories`)));
    } catch (err) { A.showProblem(archiveForm, err); }
  });
  async function archive(button, days) {
    try {
      const r = await A.busy(button, () => api("POST", "/api/v1/memory/retention", { days, dry_run: false }));
      A.fill(archiveOut, h("p", {}, `Archived and deleted ${r.deleted} memories${r.files.length ? ` into ${r.files.join(", ")}` : ""}.`));
    } catch (err) { A.flash(A.describe(err), "err"); }
  }
  document.getElementById("export").addEventListener("click", async (ev) => {
    try {
      const facts = await A.busy(ev.currentTarget, () => api("GET", "/api/v1/memory/facts?include_history=true&limit=1000"));
      const blob = new Blob([JSON.stringify(facts, null, 2)], { type: "application/json" });
      const a = h("a", { href: URL.createObjectURL(blob), download: `almanac-facts-${A.today()}.json` });
      document.body.append(a); a.click(); a.remove();
      A.flash(`Exported ${facts.length} fact version(s).`);
    } catch (err) { A.flash(A.describe(err), "err"); }
  });

  const [forgetForm, confirmBox] = A.byIds("forget-form", "forget-confirm");
  forgetForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    A.clearProblems(forgetForm);
    const d = A.formData(forgetForm);
    if (!d.subject_type || !d.subject_id) return A.showProblem(forgetForm, new A.ApiError(422, { errors: [{ field: "subject_id", message: "Give the subject's type and id." }] }));
    A.loading(confirmBox, "Looking up what is stored…");
    try {
      const q = new URLSearchParams({ subject_type: d.subject_type, subject_id: d.subject_id, include_history: "true", limit: "1000" });
      const facts = await api("GET", "/api/v1/memory/facts?" + q);
      const subject = `${d.subject_type}:${d.subject_id}`;
      // A client's plans (with their tasks, runs and calendar blocks) and documents go too.
      const client = d.subject_type === "client" && /^[1-9]\d*$/.test(String(d.subject_id));
      const plans = client ? (await api("GET", `/api/v1/planner/plans?client_id=${d.subject_id}&limit=1`)).total : 0;
      const yes = h("button", { type: "button", class: "danger" }, `Forget ${d.subject_type}:${d.subject_id}`);
      const no = h("button", { type: "button", class: "secondary", onclick: () => A.fill(confirmBox, ) }, "Keep it");
      yes.addEventListener("click", async () => {
        try {
          const out = await A.busy(yes, () => api("DELETE", `/api/v1/memory/subjects/${encodeURIComponent(d.subject_type)}/${encodeURIComponent(d.subject_id)}`));
          A.fill(confirmBox, forgotten(subject, out));
        } catch (err) { A.failed(confirmBox, err); }
      });
      A.fill(confirmBox, h("div", { role: "alertdialog", "aria-labelledby": "fg-q", class: "card" },
        h("p", { id: "fg-q" }, `This removes ${facts.length} fact version(s) below, every memory whose metadata names ${subject}`
          + (client ? `, its ${plans} plan(s) with their tasks, time records and calendar blocks (in an external calendar too), its documents` : "")
          + ", and cached recalls. It cannot be undone."),
        facts.length ? h("ul", {}, facts.slice(0, 50).map((x) => h("li", {}, `${x.fact_type}: ${x.content}`))) : h("p", { class: "empty" }, "No facts about this subject."),
        h("div", { class: "actions" }, yes, no)));
      yes.focus();
    } catch (err) { A.failed(confirmBox, err); }
  });
  /* What a forget removed, store by store (the API's `deleted`), and what it has yet to reach. */
  function forgotten(subject, out) {
    // What a person kept, not the indexes beside it (vectors, search words, graph nodes).
    const inner = /embeddings$|^search_terms$|_nodes$|^queued_jobs$/;
    const counts = Object.entries(out.deleted || {}).filter(([what, n]) => n > 0 && !inner.test(what))
      .map(([what, n]) => `${what === "events" ? "memories" : what.replaceAll("_", " ")}: ${n}`);
    const waiting = Object.entries(out.pending || {}).map(([where, why]) => h("li", {}, `${where}: ${why}`));
    if (out.zep === "queued" && out.zep_detail) waiting.push(h("li", {}, `Zep: ${out.zep_detail}`));
    return h("div", {},
      h("p", { class: "ok" }, counts.length ? `Forgot ${subject} — ${counts.join(", ")}.` : `Nothing was stored about ${subject}.`),
      waiting.length ? h("div", {}, h("p", { class: "hint" }, "Not reached yet (deleted once they answer):"), h("ul", {}, waiting)) : null);
  }

  searchForm.addEventListener("submit", search);
  const initial = new URLSearchParams(location.search).get("q");
  if (initial) { searchForm.elements.query.value = initial; search(); }
};
