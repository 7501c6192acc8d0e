/* Today: the day's blocks and meetings, open tasks, mark done, log time. */
"use strict";
window.AlmanacPages.today = function () {
  const A = window.Almanac, { h, api } = A;
  const blocksEl = document.getElementById("blocks");
  const tasksEl = document.getElementById("tasks");
  const day = A.today();

  async function loadBlocks() {
    A.loading(blocksEl, "Loading today's calendar…");
    try {
      const out = await api("GET", `/api/v1/scheduler/calendar?start_date=${day}&end_date=${day}`);
      if (!out.events.length) return A.empty(blocksEl, "Nothing on the calendar today. Schedule an approved plan from the Week page.");
      A.fill(blocksEl, h("ul", { class: "timeline", "aria-label": "Today's events" }, out.events.map((e) => h("li", {},
        h("strong", {}, e.all_day ? "all day" : `${A.clock(e.start)}–${A.clock(e.end)}`), " ", e.title, " ",
        // Free time (a declined invitation, an event marked free) is no meeting to work around.
        h("span", { class: "badge" + (e.almanac ? " internal" : "") }, e.almanac ? "Almanac block" : e.busy ? "meeting" : "free")))));
    } catch (err) { A.failed(blocksEl, err); }
  }

  function timeForm(label, submit) {
    const id = "t" + Math.random().toString(36).slice(2, 8);
    const form = h("form", { class: "actions", novalidate: true },
      h("label", { for: id }, "Hours"), h("input", { id, name: "hours", type: "number", step: "0.25", min: "0.25", max: "24", class: "est", "aria-label": `Hours worked on ${label}` }),
      h("button", { type: "submit", class: "secondary" }, "Log time"), h("p", { class: "err", "data-for": "hours" }));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      A.clearProblems(form);
      const hours = Number(form.elements.hours.value);
      if (!(hours > 0)) return A.showProblem(form, new A.ApiError(422, { errors: [{ field: "hours", message: "Give the hours worked (more than 0)." }] }));
      try { await A.busy(form.querySelector("button"), () => submit(hours)); A.flash(`Logged ${hours} h on “${label}”.`); form.reset(); }
      catch (err) { A.showProblem(form, err, { actual_hours: "hours" }); }
    });
    return form;
  }

  async function loadTaskEndpoints() {
    const out = await api("GET", "/api/v1/planner/tasks?limit=200");
    const items = (Array.isArray(out) ? out : out.items).filter((t) => !["done", "completed", "cancelled"].includes(t.status));
    if (!items.length) return A.empty(tasksEl, "No open tasks. Approve a plan on the Plans page to create some.");
    A.fill(tasksEl, h("table", {}, h("thead", {}, h("tr", {}, ["Task", "Estimate", "Due", "", ""].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, items.map((t) => h("tr", { dataset: { task: t.id } },
        h("td", {}, t.title, " ", h("span", { class: "badge " + (t.billable ? "billable" : "internal") }, t.billable ? "billable" : "internal")),
        h("td", { class: "num" }, t.estimate_hours !== null && t.estimate_hours !== undefined ? `${t.estimate_hours} h` : "—"),
        h("td", {}, A.when(t.deadline)),
        h("td", {}, A.canWrite() ? timeForm(t.title, (hours) => api("POST", `/api/v1/planner/tasks/${t.id}/time`, { hours })) : null),
        h("td", {}, A.canWrite() ? doneForm(t) : null))))));
  }

  /* Mark done, now or at a time earlier today: reflections count the task where it was finished. */
  function doneForm(t) {
    const id = "f" + Math.random().toString(36).slice(2, 8);
    const form = h("form", { class: "actions", novalidate: true },
      h("label", { for: id }, "Finished at"), h("input", { id, name: "finished_at", type: "time", "aria-label": `Finished time of ${t.title} (empty: now)` }),
      h("button", { type: "submit", "aria-label": `Mark “${t.title}” done` }, "Mark done"), h("p", { class: "err", "data-for": "finished_at" }));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      A.clearProblems(form);
      const body = { status: "done" };
      const value = form.elements.finished_at.value;
      if (value) {
        const [hh, mm] = value.split(":").map(Number);
        // Today as the time is entered: a page left open overnight still shows the day before.
        const at = A.zoned(A.today(), hh * 60 + mm);
        if (at.getTime() > Date.now()) return A.showProblem(form, new A.ApiError(422, { errors: [{ field: "finished_at", message: "That time is still to come today: leave it empty for now." }] }));
        body.finished_at = A.isoZoned(at);
      }
      try { await A.busy(form.querySelector("button"), () => api("PATCH", `/api/v1/planner/tasks/${t.id}`, body)); A.flash(`“${t.title}” done.`); loadTasks(); }
      catch (err) { A.showProblem(form, err); }
    });
    return form;
  }

  /* Without the task endpoints: the open plans' tasks, with time logged as execution runs. */
  async function loadFromPlans() {
    const lists = await Promise.all(["approved", "scheduled", "active"].map((s) => api("GET", `/api/v1/planner/plans?status=${s}&limit=50`)));
    const plans = lists.flatMap((l) => l.items);
    const note = h("p", { class: "hint" }, "This server has no task endpoints yet, so tasks cannot be marked done here; time is logged as an execution run of the plan.");
    if (!plans.length) return A.fill(tasksEl, h("p", { class: "empty" }, "No open tasks. Approve a plan on the Plans page to create some."), note);
    A.fill(tasksEl, note, ...plans.map((p) => h("div", {}, h("h3", {}, `#${p.id} ${p.plan_title} `, h("span", { class: "badge" }, p.status)),
      h("table", {}, h("tbody", {}, (p.sop?.steps || []).flatMap((s) => s.tasks).map((t) => h("tr", {},
        h("td", {}, t.title), h("td", { class: "num" }, `${t.estimate_hours} h`),
        h("td", {}, A.canWrite() && p.process_template_id ? timeForm(t.title, async (hours) => {
          // Logged as worked today: the run starts no earlier than local midnight.
          const now = new Date();
          const start = new Date(Math.max(now.getTime() - hours * 3600000, A.zoned(A.today(), 0).getTime()));
          const run = await api("POST", "/api/v1/planner/execution-runs", { process_template_id: p.process_template_id, estimated_hours: t.estimate_hours,
            started_at: A.isoZoned(start), metadata: { task_key: t.id, source: "dashboard" } });
          await api("POST", `/api/v1/planner/execution-runs/${run.id}/stop`, { actual_hours: hours, ended_at: A.isoZoned(now) });
        }) : null))))))));
  }

  async function loadTasks() {
    A.loading(tasksEl, "Loading tasks…");
    try { await (A.features.tasks ? loadTaskEndpoints() : loadFromPlans()); }
    catch (err) { A.failed(tasksEl, err); }
  }
  loadBlocks();
  loadTasks();
};
