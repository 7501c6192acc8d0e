/* Plans: intent → draft, editable checklist, versions with a side-by-side diff, approve, cancel. */
"use strict";
window.AlmanacPages.plans = function () {
  const A = window.Almanac, { h, api } = A;
  const [listEl, planEl, versionsEl, filter] = A.byIds("plan-list", "plan", "versions", "status-filter");
  let current = null; // the plan shown
  let draft = null; // its SOP being edited

  const localInput = (iso) => (iso ? `${A.localDate(iso)}T${A.clock(iso)}` : "");
  function fromLocalInput(v) {
    if (!v) return null;
    const [d, t] = v.split("T");
    const [hh, mm] = t.split(":").map(Number);
    return A.isoZoned(A.zoned(d, hh * 60 + mm));
  }

  const PAGE = 20; // plans carry their whole checklist, so the list is fetched a page at a time
  let shown = PAGE;
  async function loadList() {
    if (!listEl.querySelector("ul")) A.loading(listEl, "Loading plans…");
    try {
      const q = new URLSearchParams({ limit: String(shown) });
      if (filter.value) q.set("status", filter.value);
      const out = await api("GET", "/api/v1/planner/plans?" + q);
      if (!out.items.length) return A.empty(listEl, filter.value ? `No ${filter.value} plans.` : "No plans yet: describe what you want to get done in “Plan something”.");
      A.fill(listEl, h("ul", { class: "results", "aria-label": "Plans" }, out.items.map((p) => h("li", {},
        h("button", { type: "button", "aria-pressed": current && current.id === p.id ? "true" : "false", onclick: () => open(p.id) },
          h("span", { class: "badge" }, p.status), " ", `#${p.id} ${p.plan_title}`, h("br"),
          h("small", { class: "hint" }, `v${p.version}${p.client_id === null || p.client_id === undefined ? "" : ` · client ${p.client_id}`} · ${p.total_hours} h · ${A.when(p.created_at)}`))))),
        out.total > out.items.length ? h("p", { class: "actions" }, h("span", { class: "hint" }, `${out.items.length} of ${out.total} shown.`),
          h("button", { type: "button", class: "secondary", onclick: () => { shown = Math.min(200, shown + PAGE); loadList(); } }, `Show ${Math.min(PAGE, out.total - out.items.length)} more`)) : null);
    } catch (err) { A.failed(listEl, err); }
  }

  async function open(id) {
    A.loading(planEl, "Loading the plan…");
    try {
      current = await api("GET", `/api/v1/planner/plans/${id}`);
      if (!current.sop) throw new Error(current.sop_error || "this plan's SOP cannot be read");
      draft = JSON.parse(JSON.stringify(current.sop));
      history.replaceState(null, "", `?plan=${id}`);
      renderPlan();
      loadVersions();
      loadList();
    } catch (err) {
      A.failed(planEl, err);
      loadList(); // a bookmark to a plan gone (forgotten) still leaves the list to choose from
    }
  }

  // Why no estimate was changed: what the plan's `estimates` say, not a guess.
  function noCalibration(p) {
    if (p.estimates_mode === "library") return "No calibration: library estimates were requested for this plan; no history was used.";
    if ((p.estimates || []).some((e) => e.runs > 0 && e.basis !== "hand")) return "No calibration: the past runs put these tasks at their library estimates.";
    return "No calibration: not enough finished runs of these tasks yet.";
  }

  function renderPlan() {
    const p = current;
    const editable = p.status === "draft" && A.canWrite();
    const llm = p.llm ? `${p.llm.used ? "yes" : "no"}${p.llm.model ? " (" + p.llm.model + ")" : ""} — ${p.llm.detail}` : "no";
    const facts = h("dl", { class: "meta" },
      h("dt", {}, "Status"), h("dd", {}, h("span", { class: "badge", id: "plan-status" }, p.status), ` version ${p.version}`),
      h("dt", {}, "Intent"), h("dd", {}, p.intent),
      h("dt", {}, "From"), h("dd", {}, p.source === "llm" ? "the LLM, adapting the library" : "the workflow library", p.workflow_id ? ` (workflow #${p.workflow_id})` : ""),
      h("dt", {}, "LLM used"), h("dd", {}, llm),
      h("dt", {}, "Total"), h("dd", { id: "plan-total" }, `${p.total_hours} h`),
      h("dt", {}, "Deadline"), h("dd", {}, A.when(p.deadline)));
    const calib = p.calibration.length
      ? h("ul", {}, p.calibration.map((c) => h("li", {}, `${c.task_id}: ${c.from_hours} h → ${c.to_hours} h (×${c.ratio.toFixed(2)}, ${c.runs} runs${c.client_runs ? `, ${c.client_runs} this client's` : ""}, by ${c.basis}) — ${c.reason}`)))
      : h("p", { class: "hint" }, noCalibration(p));
    const notes = [...p.notes, ...p.degraded.map((d) => "degraded: " + d)];
    const buttons = !A.canWrite() ? h("p", { class: "hint" }, "You signed in with a read-only key: approving and editing need a write key.") : h("div", { class: "actions" },
      editable ? h("button", { type: "button", id: "save", onclick: save }, "Save as a new version") : null,
      p.status === "draft" ? h("button", { type: "button", id: "approve", onclick: (e) => act(e, "approve") }, "Approve") : null,
      ["draft", "approved", "scheduled", "active"].includes(p.status) ? h("button", { type: "button", class: "danger", onclick: (e) => act(e, "cancel") }, "Cancel plan") : null,
      ["approved", "scheduled"].includes(p.status) ? h("a", { href: `/ui/week?plan=${p.id}` }, "Schedule it in the week view") : null);
    const form = h("form", { id: "edit-form", novalidate: true, onsubmit: (e) => { e.preventDefault(); save(); } },
      h("div", { class: "field" }, h("label", { for: "plan-title" }, "Title"), h("input", { id: "plan-title", name: "plan_title", value: p.plan_title, disabled: !editable }), h("p", { class: "err", "data-for": "plan_title" })),
      checklist(editable), h("p", { class: "err", "data-for": "sop" }));
    A.fill(planEl, facts, h("h3", {}, "Calibration applied"), calib,
      notes.length ? h("ul", { class: "hint" }, notes.map((n) => h("li", {}, n))) : null, form, buttons);
  }

  function checklist(editable) {
    const wrap = h("div", { class: "checklist" });
    draft.steps.forEach((step, si) => {
      const rows = step.tasks.map((t, ti) => {
        const name = `${step.title}: ${t.title}`;
        return h("tr", { dataset: { task: t.id } },
          h("td", {}, h("input", { class: "title", "aria-label": `Title of task ${t.id}`, value: t.title, disabled: !editable, oninput: (e) => (t.title = e.target.value) })),
          h("td", {}, h("input", { class: "est", type: "number", step: "0.25", min: "0.25", "aria-label": `Estimate in hours of ${name}`, value: t.estimate_hours, disabled: !editable, oninput: (e) => { t.estimate_hours = Number(e.target.value); total(); } })),
          h("td", {}, h("input", { type: "datetime-local", "aria-label": `Deadline of ${name}`, value: localInput(t.deadline), disabled: !editable, onchange: (e) => (t.deadline = fromLocalInput(e.target.value)) })),
          h("td", {}, t.billable ? h("span", { class: "badge billable" }, "billable") : h("span", { class: "badge internal" }, "internal")),
          editable ? h("td", { class: "actions" },
            h("button", { type: "button", class: "secondary", "aria-label": `Move ${name} up`, disabled: ti === 0, onclick: () => move(si, ti, -1) }, "↑"),
            h("button", { type: "button", class: "secondary", "aria-label": `Move ${name} down`, disabled: ti === step.tasks.length - 1, onclick: () => move(si, ti, 1) }, "↓"),
            h("button", { type: "button", class: "secondary", "aria-label": `Remove ${name}`, onclick: () => remove(si, ti) }, "Remove")) : h("td"));
      });
      // h() drops null children; Element.append would write the word "null".
      wrap.append(...h("div", {}, h("h3", {}, `${si + 1}. ${step.title}`), h("table", {},
        h("thead", {}, h("tr", {}, ["Task", "Hours", "Deadline", "Kind", ""].map((c) => h("th", { scope: "col" }, c)))), h("tbody", {}, rows)),
        editable ? h("button", { type: "button", class: "secondary", onclick: () => add(si) }, `Add a task to “${step.title}”`) : null).childNodes);
    });
    return wrap;
  }
  function total() {
    const sum = draft.steps.reduce((a, s) => a + s.tasks.reduce((b, t) => b + (t.estimate_hours || 0), 0), 0);
    document.getElementById("plan-total").textContent = `${Math.round(sum * 100) / 100} h (edited)`;
  }
  function move(si, ti, d) { const ts = draft.steps[si].tasks; [ts[ti], ts[ti + d]] = [ts[ti + d], ts[ti]]; renderPlan(); }
  function remove(si, ti) {
    const [gone] = draft.steps[si].tasks.splice(ti, 1);
    for (const s of draft.steps) for (const t of s.tasks) t.depends_on = t.depends_on.filter((x) => x !== gone.id);
    if (!draft.steps[si].tasks.length) draft.steps.splice(si, 1);
    renderPlan();
  }
  function add(si) {
    const ids = new Set(draft.steps.flatMap((s) => s.tasks.map((t) => t.id)));
    let n = 1; while (ids.has(`task-${n}`)) n++;
    draft.steps[si].tasks.push({ id: `task-${n}`, title: "New task", description: "", estimate_hours: 1, depends_on: [], billable: false, priority: 2 });
    renderPlan();
    const inputs = planEl.querySelectorAll(`tr[data-task="task-${n}"] input`);
    if (inputs[0]) { inputs[0].focus(); inputs[0].select(); }
  }

  async function save() {
    const form = document.getElementById("edit-form");
    A.clearProblems(form);
    try {
      const body = { plan_title: form.elements.plan_title.value, sop: draft, version: current.version };
      current = await A.busy(document.getElementById("save"), () => api("PUT", `/api/v1/planner/plans/${current.id}`, body));
      draft = JSON.parse(JSON.stringify(current.sop));
      A.flash(`Saved as version ${current.version}.`);
      renderPlan(); loadVersions(); loadList();
    } catch (err) { A.showProblem(form, err, { plan_title: "plan_title" }, checklistField); A.flash(A.describe(err, checklistField), "err"); }
  }
  /* A checklist field by the task it belongs to ("title of “Kickoff call”"), not the API's
     path to it ("sop.steps[0].tasks[1].title"). */
  function checklistField(path) {
    const m = /^sop\.steps[.[](\d+)\]?\.tasks[.[](\d+)\]?\.(\w+)$/.exec(String(path || ""));
    const t = m && draft.steps[+m[1]] && draft.steps[+m[1]].tasks[+m[2]];
    return t ? `${m[3]} of “${String(t.title || "").trim() || t.id}”` : A.fieldName(path);
  }

  /* Whether the checklist or title shown differ from the saved version (what Approve approves). */
  function edited() {
    const title = document.getElementById("plan-title");
    return JSON.stringify(draft) !== JSON.stringify(current.sop) || (title && title.value !== current.plan_title);
  }

  async function act(ev, what) {
    if (what === "approve" && edited()) {
      // Approve takes the saved version: unsaved edits were dropped while the page went on
      // showing them as approved.
      A.flash(`Save your edits first (“Save as a new version”), or reload to undo them: Approve approves the saved version ${current.version}.`, "err");
      return;
    }
    if (what === "cancel" && !confirm(`Cancel plan #${current.id}? Its tasks will not be scheduled.`)) return;
    try {
      const out = await A.busy(ev.currentTarget, () => what === "approve"
        ? api("POST", `/api/v1/planner/plans/${current.id}/approve`)
        : api("POST", `/api/v1/planner/plans/${current.id}/status`, { status: "cancelled" }));
      current = what === "approve" ? out.plan : out;
      if (current.sop) draft = JSON.parse(JSON.stringify(current.sop)); // the checklist as approved
      A.flash(what === "approve" ? `Approved: ${out.task_ids.length} task(s) created. Schedule it from the week view.` : "Cancelled.");
      renderPlan(); loadList();
    } catch (err) { A.flash(A.describe(err), "err"); }
  }

  async function loadVersions() {
    A.loading(versionsEl, "Loading versions…");
    try {
      const earlier = await api("GET", `/api/v1/planner/plans/${current.id}/versions`);
      // The API lists earlier versions; the current one is the plan itself.
      const vs = [...earlier.filter((v) => v.version !== current.version),
        { version: current.version, plan_title: current.plan_title, sop: current.sop, status: current.status, note: "current", created_at: current.updated_at }];
      if (vs.length < 2) return A.empty(versionsEl, "Only one version so far: edit the checklist and save to make another, then compare them here.");
      const pick = (id, sel) => h("select", { id }, vs.map((v) => h("option", { value: v.version, selected: v.version === sel }, `v${v.version} — ${A.when(v.created_at)}`)));
      const a = pick("ver-a", vs[vs.length - 2].version), b = pick("ver-b", vs[vs.length - 1].version);
      const out = h("div", { id: "diff", "aria-live": "polite" });
      const compare = () => diff(vs.find((v) => v.version === +a.value), vs.find((v) => v.version === +b.value), out);
      A.fill(versionsEl, h("div", { class: "actions" },
        h("label", { for: "ver-a" }, "Compare"), a, h("label", { for: "ver-b" }, "with"), b,
        h("button", { type: "button", onclick: compare }, "Compare")), out);
      compare();
    } catch (err) { A.failed(versionsEl, err); }
  }

  function diff(va, vb, out) {
    const tasks = (v) => new Map((v.sop?.steps || []).flatMap((s) => s.tasks.map((t) => [t.id, t])));
    const ta = tasks(va), tb = tasks(vb);
    const side = (v, mine, other, label) => h("div", {}, h("h3", {}, `${label}: v${v.version} “${v.plan_title}”`),
      h("ul", {}, [...mine.values()].map((t) => {
        const o = other.get(t.id);
        const cls = !o ? (label === "A" ? "removed" : "added") : (o.title !== t.title || o.estimate_hours !== t.estimate_hours || o.deadline !== t.deadline ? "changed" : "");
        return h("li", { class: cls }, `${t.title} — ${t.estimate_hours} h${t.deadline ? ", due " + A.when(t.deadline) : ""}`, cls ? h("span", { class: "badge" }, cls) : null);
      })), v.note ? h("p", { class: "hint" }, `Note: ${v.note}`) : null);
    A.fill(out, h("div", { class: "diff" }, side(va, ta, tb, "A"), side(vb, tb, ta, "B")));
  }

  document.getElementById("intent-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    A.clearProblems(form);
    const d = A.formData(form);
    if (d.deadline) d.deadline = fromLocalInput(d.deadline);
    try {
      const p = await A.busy(form.querySelector("button"), () => api("POST", "/api/v1/planner/plan", d));
      A.flash(`Draft #${p.id} made (${p.total_hours} h). Review the checklist below, edit it, then approve.`);
      form.reset();
      await open(p.id);
      document.getElementById("plan-h").scrollIntoView();
    } catch (err) { A.showProblem(form, err); }
  });
  filter.addEventListener("change", () => { shown = PAGE; loadList(); });
  const initial = new URLSearchParams(location.search).get("plan");
  if (initial && /^[1-9]\d{0,17}$/.test(initial)) open(+initial);
  else {
    if (initial) A.failed(planEl, new Error(`“${initial}” is no plan number.`));
    loadList();
  }
};
