/* Week view: meetings and blocks in the user's zone, conflicts, checked moves, schedule, sprint. */
"use strict";
window.AlmanacPages.week = function () {
  const A = window.Almanac, { h, api } = A;
  const cfg = document.getElementById("week-cfg").dataset;
  const slot = +cfg.slot || 15;
  const hm = (t) => { const [a, b] = t.split(":").map(Number); return a * 60 + b; };
  const PX = 0.8; // pixels per minute
  const [weekEl, conflictsEl, moveForm] = A.byIds("week", "conflicts", "move-form");
  const params = new URLSearchParams(location.search);
  // A week in the address that is no date (edited by hand: "?week=abc", "2027-02-30") threw
  // and left the page blank: this week instead.
  const asked = params.get("week") || "";
  const real = /^\d{4}-\d{2}-\d{2}$/.test(asked) && A.addDays(asked, 0) === asked;
  let monday = mondayOf(real ? asked : A.today());
  let previewed = null; // { plan_id, run_id } of the preview on screen
  let edits = 0; // form edits so far: a preview answered after one is not the form's
  let events = [], limits = new Map(), preview = [], billable = new Map(), range = [7 * 60, 21 * 60], selected = null;

  function mondayOf(date) { const wd = (new Date(date + "T12:00:00Z").getUTCDay() + 6) % 7; return A.addDays(date, -wd); }
  const days = () => [0, 1, 2, 3, 4, 5, 6].map((i) => A.addDays(monday, i));
  const minutesIn = (day, iso) => (new Date(iso) - A.zoned(day, 0)) / 60000;
  const overlaps = (a, b) => new Date(a.start) < new Date(b.end) && new Date(b.start) < new Date(a.end);

  async function load() {
    document.getElementById("week-label").textContent = `${A.dayLabel(A.zoned(monday, 720))} – ${A.dayLabel(A.zoned(A.addDays(monday, 6), 720))}`;
    history.replaceState(null, "", `?week=${monday}` + (params.get("plan") ? `&plan=${params.get("plan")}` : ""));
    if (!weekEl.querySelector(".week")) A.loading(weekEl, "Loading the calendar…");
    try {
      const out = await api("GET", `/api/v1/scheduler/calendar?start_date=${monday}&end_date=${A.addDays(monday, 6)}`);
      events = out.events;
      // The most hours of blocks each day holds, as the scheduler and reflections count them.
      limits = new Map((out.day_limits || []).map((l) => [l.day, l]));
      await loadBillable(events.filter((e) => e.almanac).map((e) => e.id));
      render();
    } catch (err) { A.failed(weekEl, err); }
    loadSprint();
  }

  async function loadBillable(ids) {
    const plans = new Set(ids.map((id) => (/^plan(\d+)-/.exec(id) || [])[1]).filter(Boolean));
    await Promise.all([...plans].filter((p) => !billable.has(`plan:${p}`)).map(async (p) => {
      try {
        const plan = await api("GET", `/api/v1/planner/plans/${p}`);
        billable.set(`plan:${p}`, true);
        for (const s of plan.sop?.steps || []) for (const t of s.tasks) billable.set(`plan${p}-${t.id}`, t.billable);
      } catch (err) { billable.set(`plan:${p}`, false); }
    }));
  }
  const kindOf = (e) => { const m = /^(plan\d+-.+)-\d+$/.exec(e.id); return m && billable.get(m[1]) ? "billable" : "internal"; };

  function render() {
    const all = [...events, ...preview];
    let lo = 7 * 60, hi = 21 * 60;
    for (const d of days()) for (const e of all) {
      if (e.all_day) continue;
      const s = minutesIn(d, e.start), en = minutesIn(d, e.end);
      if (en > 0 && s < 1440) { lo = Math.min(lo, Math.max(0, Math.floor(s / 60) * 60)); hi = Math.max(hi, Math.min(1440, Math.ceil(en / 60) * 60)); }
    }
    range = [lo, hi];
    const height = (hi - lo) * PX;
    const busy = events.filter((e) => e.busy && !e.all_day);
    const conflicts = [];
    for (const a of busy) for (const b of busy) if (a.almanac && a !== b && overlaps(a, b) && !(b.almanac && b.id < a.id)) conflicts.push([a, b]);
    // The API's own conflicts too: an all-day busy event over a block (drawn in the day's
    // head, not the grid) was a conflict there and none here.
    const said = events.filter((e) => e.almanac && (e.conflicts || []).length);
    const hot = new Set([...conflicts.flat(), ...said]);
    const grid = h("div", { class: "week", role: "grid", "aria-label": "Week calendar" });
    const hours = h("div", { class: "hours", style: `height:${height}px`, "aria-hidden": "true" });
    for (let m = lo; m <= hi; m += 60) hours.append(h("span", { style: `top:${(m - lo) * PX}px` }, `${String(m / 60).padStart(2, "0")}:00`));
    grid.append(h("div", { "aria-hidden": "true" }, h("div", { class: "dayhead" }, "\u00a0"), hours));
    for (const d of days()) {
      const mine = busy.filter((e) => minutesIn(d, e.end) > 0 && minutesIn(d, e.start) < 1440);
      const booked = mine.reduce((a, e) => a + (Math.min(1440, minutesIn(d, e.end)) - Math.max(0, minutesIn(d, e.start))) / 60, 0);
      const work = mine.filter((e) => e.almanac).reduce((a, e) => a + (Math.min(1440, minutesIn(d, e.end)) - Math.max(0, minutesIn(d, e.start))) / 60, 0);
      const limit = limits.get(d);
      const over = limit !== undefined && work > limit.hours + 1e-9;
      const col = h("div", { class: "day" + (over ? " over" : ""), style: `height:${height}px`, role: "gridcell", dataset: { day: d }, "aria-label": `${A.dayLabel(A.zoned(d, 720))}, ${booked.toFixed(1)} h booked${over ? ", overbooked" : ""}` });
      for (let m = lo; m < hi; m += 60) col.append(h("div", { class: "slot-line", style: `top:${(m - lo) * PX}px` }));
      for (const e of all.filter((x) => !x.all_day && minutesIn(d, x.end) > 0 && minutesIn(d, x.start) < 1440)) col.append(block(e, d, hot.has(e)));
      const allDay = all.filter((x) => x.all_day && x.start.slice(0, 10) <= d && d < x.end.slice(0, 10)).map((x) => x.title);
      grid.append(h("div", { class: "daycol" },
        h("div", { class: "dayhead" }, A.dayLabel(A.zoned(d, 720)), allDay.length ? h("small", { class: "hint" }, " · " + allDay.join(", ")) : null,
          over ? h("span", { class: "warn" }, `overbooked: ${work.toFixed(1)} h of blocks, ${limit.limit === "day off" ? "on a day off (no working hours)" : `above the ${limit.limit} of ${limit.hours} h`}`) : null), col));
    }
    A.fill(weekEl, events.length || preview.length ? grid : h("div", {}, h("p", { class: "empty" }, "Nothing this week. Schedule an approved plan below, or add meetings with almanac calendar add or an .ics import."), grid));
    // Warnings the calendar sync stored on blocks it could not resolve (reported once).
    const stored = events.filter((e) => e.warnings && e.warnings.length).flatMap((e) => e.warnings.map((w) => `“${e.title}” ${w}`));
    // What the API says beyond the pairs drawn here (an all-day event, for one).
    const drawn = (e, c) => conflicts.some(([a, b]) => (a === e || b === e) && c.includes(`'${a === e ? b.title : a.title}'`));
    const others = said.flatMap((e) => e.conflicts.filter((c) => !drawn(e, c)).map((c) => `“${e.title}” ${c} (${A.when(e.start)})`));
    A.fill(conflictsEl, conflicts.length || stored.length || others.length ? h("div", { role: "alert" }, h("h3", {}, "Conflicts"),
      h("ul", {}, conflicts.map(([a, b]) => h("li", { class: "warn" }, `“${a.title}” overlaps “${b.title}” (${A.when(a.start)})`)),
        others.map((w) => h("li", { class: "warn" }, w)),
        stored.map((w) => h("li", { class: "warn sync-warning" }, w)))) : "");
  }

  function block(e, d, conflict) {
    const s = Math.max(range[0], minutesIn(d, e.start)), en = Math.min(range[1], minutesIn(d, e.end));
    const kind = e.preview ? "preview " + kindOf(e) : e.almanac ? kindOf(e) : "meeting";
    const label = `${e.title}, ${A.clock(e.start)}–${A.clock(e.end)}${e.almanac ? ` (${kindOf(e)} block)` : " (meeting)"}${conflict ? ", conflict" : ""}`;
    const movable = e.almanac && !e.preview && A.canWrite(); // a read key is offered no move
    const el = h(movable ? "button" : "div", {
      class: `ev ${kind}${conflict ? " conflict" : ""}`, style: `top:${(s - range[0]) * PX}px;height:${Math.max(14, (en - s) * PX)}px`,
      type: movable ? "button" : null, "aria-label": label, title: label, dataset: { id: e.id },
    }, `${A.clock(e.start)} ${e.title}`);
    if (movable) drag(el, e, d);
    return el;
  }

  function drag(el, e, day) {
    // The element stays in its column while dragged (moving it in the DOM would drop the
    // pointer capture); it is shifted with a transform and the target column read on release.
    let startY = 0, startX = 0, moved = false, active = false, target = day, delta = 0;
    const dur = (new Date(e.end) - new Date(e.start)) / 60000;
    const startMin = minutesIn(day, e.start);
    const columnAt = (x) => [...weekEl.querySelectorAll(".day")].find((c) => { const r = c.getBoundingClientRect(); return x >= r.left && x <= r.right; });
    el.addEventListener("pointerdown", (ev) => { startY = ev.clientY; startX = ev.clientX; moved = false; active = true; el.setPointerCapture(ev.pointerId); el.classList.add("dragging"); });
    el.addEventListener("pointermove", (ev) => {
      if (!active) return;
      if (Math.abs(ev.clientY - startY) + Math.abs(ev.clientX - startX) > 4) moved = true;
      delta = Math.round((ev.clientY - startY) / PX / slot) * slot;
      const col = columnAt(ev.clientX);
      if (col) target = col.dataset.day;
      el.style.transform = `translate(${ev.clientX - startX}px, ${(delta) * PX}px)`;
    });
    const finish = async (ev, cancelled) => {
      if (!active) return;
      active = false;
      if (el.hasPointerCapture(ev.pointerId)) el.releasePointerCapture(ev.pointerId);
      el.classList.remove("dragging");
      el.style.transform = "";
      if (cancelled) return;
      if (!moved) return openMove(e);
      const start = A.zoned(target, startMin + delta);
      await doMove(e, start, new Date(start.getTime() + dur * 60000));
    };
    el.addEventListener("pointerup", (ev) => finish(ev, false));
    el.addEventListener("pointercancel", (ev) => finish(ev, true));
    el.addEventListener("click", (ev) => { if (ev.detail === 0) openMove(e); }); // keyboard activation
  }

  async function doMove(e, start, end, form) {
    try {
      const out = await api("PUT", `/api/v1/scheduler/calendar/${encodeURIComponent(e.id)}`, { start: A.isoZoned(start), end: A.isoZoned(end) });
      moveForm.hidden = true;
      await load();
      A.flash(`Moved “${e.title}” to ${A.when(out.block.start)}–${A.clock(out.block.end)}; it is pinned there.`);
    } catch (err) {
      A.flash(err.status === 409 ? `Not moved — conflict: ${err.message}` : `Not moved: ${err.message}`, "err");
      if (form) A.showProblem(form, err);
      render();
    }
  }

  const localInput = (iso) => `${A.localDate(iso)}T${A.clock(iso)}`;
  const fromInput = (v) => { const [d, t] = v.split("T"); return A.zoned(d, hm(t)); };
  function openMove(e) {
    selected = e;
    document.getElementById("move-h").textContent = A.safeText(`Move “${e.title}”`);
    moveForm.elements.start.value = localInput(e.start);
    moveForm.elements.end.value = localInput(e.end);
    A.clearProblems(moveForm);
    moveForm.hidden = false;
    moveForm.elements.start.focus();
  }
  moveForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = moveForm.elements;
    if (!f.start.value || !f.end.value) return A.showProblem(moveForm, new A.ApiError(422, { errors: [{ field: "start", message: "Give a start and an end." }] }));
    A.busy(moveForm.querySelector("button[type=submit]"), () => doMove(selected, fromInput(f.start.value), fromInput(f.end.value), moveForm));
  });
  document.getElementById("mv-cancel").addEventListener("click", () => (moveForm.hidden = true));

  // -- schedule a plan ---------------------------------------------------------------------
  const [schedForm, previewOut, applyBtn] = A.byIds("sched-form", "preview-out", "apply");
  async function loadPlans() {
    const sel = schedForm.elements.plan_id;
    try {
      const [a, s] = await Promise.all(["approved", "scheduled"].map((st) => api("GET", `/api/v1/planner/plans?status=${st}&limit=50`)));
      const items = [...a.items, ...s.items];
      A.fill(sel, ...(items.length ? items.map((p) => h("option", { value: p.id, selected: String(p.id) === params.get("plan") }, `#${p.id} ${p.plan_title} (${p.status}, ${p.total_hours} h)`))
        : [h("option", { value: "" }, "no approved plans — approve one on the Plans page")]));
    } catch (err) { A.failed(previewOut, err); }
    schedForm.elements.start_date.value = A.today() > monday ? A.today() : monday;
  }
  async function schedule(dryRun, button) {
    A.clearProblems(schedForm);
    const d = A.formData(schedForm);
    if (!d.plan_id) return A.showProblem(schedForm, new A.ApiError(422, { errors: [{ field: "plan_id", message: "Approve a plan on the Plans page first." }] }));
    d.plan_id = +d.plan_id;
    const asked = edits;
    try {
      // Apply writes exactly the preview on screen (its run_id), or the API answers 409 with
      // what changed in the calendar since; solving again here could write something else.
      const body = !dryRun && previewed ? { plan_id: previewed.plan_id, dry_run: false, run_id: previewed.run_id } : { ...d, dry_run: dryRun };
      const out = await A.busy(button, () => api("POST", "/api/v1/scheduler/schedule", body));
      // The form changed while the preview was solved: it shows, but Apply waits for a new one.
      previewed = dryRun && asked === edits ? { plan_id: d.plan_id, run_id: out.run_id } : null;
      // Other plans' blocks the write moves or adds are written with it: shown with it.
      const others = [
        ...out.moves.filter((m) => m.plan_id !== out.plan_id).map((m) => `moves plan #${m.plan_id} ${m.title}: ${A.when(m.from_start)} → ${[m.to_start ? A.when(m.to_start) : "off the calendar", ...(m.also_to || []).map((a) => A.when(a.start))].join(", ")} (${m.why})`),
        ...out.placed.map((b) => `adds plan #${b.plan_id} ${b.title}: ${A.when(b.start)}–${A.clock(b.end)}`),
      ];
      preview = dryRun ? out.blocks.map((b) => ({ id: b.almanac_id, title: b.title, start: b.start, end: b.end, almanac: true, busy: true, preview: true })) : [];
      A.fill(previewOut, 
        h("p", { class: dryRun ? "hint" : "ok" }, dryRun ? `Preview: ${out.blocks.length} block(s), shown dashed in the week. Nothing is written yet.` : `Applied: ${out.blocks.length} block(s) written to the ${out.calendar ? out.calendar.provider : ""} calendar.`),
        h("ul", {}, out.blocks.map((b) => h("li", {}, `${A.when(b.start)}–${A.clock(b.end)} ${b.title} — ${b.reason}`))),
        others.length ? h("div", { class: "others" }, h("h3", {}, "Other plans"), h("ul", {}, others.map((t) => h("li", {}, t)))) : null,
        out.unplaced.length ? h("div", { role: "alert" }, h("h3", {}, "Not placed"), h("ul", {}, out.unplaced.map((u) => h("li", { class: "warn" }, `${u.title}: ${u.cause} ${u.detail}`)))) : null,
        out.warnings.length ? h("ul", { class: "warn" }, out.warnings.map((w) => h("li", {}, w))) : null);
      applyBtn.disabled = !previewed;
      if (out.blocks.length) monday = mondayOf(A.localDate(out.blocks[0].start));
      if (!dryRun) await loadPlans();
      await load();
      if (!dryRun) A.flash(`Plan #${d.plan_id} scheduled.`);
    } catch (err) {
      // A 409: the calendar changed since this preview, which can no longer be applied.
      if (!dryRun && err.status === 409) { previewed = null; applyBtn.disabled = true; }
      A.showProblem(schedForm, err); A.failed(previewOut, err);
    }
  }
  schedForm.addEventListener("submit", (ev) => { ev.preventDefault(); schedule(true, document.getElementById("preview")); });
  applyBtn.addEventListener("click", () => schedule(false, applyBtn));
  // Another plan or window than the one previewed: preview it before anything is applied.
  schedForm.addEventListener("input", () => { edits += 1; previewed = null; applyBtn.disabled = true; });

  // -- sprint capacity ---------------------------------------------------------------------
  const sprintEl = document.getElementById("sprint");
  async function loadSprint() {
    try {
      const list = await api("GET", "/api/v1/scheduler/sprints?limit=500");
      const sp = list.find((x) => x.week_start === monday);
      if (!sp) return sprintForm();
      const r = await api("GET", `/api/v1/scheduler/sprints/${sp.id}`);
      const pct = (x) => Math.min(100, (x / r.capacity_hrs) * 100);
      const internal = Math.max(0, r.used_hours - r.billable_hours);
      A.fill(sprintEl, 
        h("p", {}, `${r.used_hours.toFixed(1)} h of ${r.capacity_hrs} h used; billable ${r.billable_hours.toFixed(1)} h = ${r.billable_share_pct === null ? "—" : `${r.billable_share_pct.toFixed(0)}%`} of the hours scheduled (target ${r.billable_target_pct}%${r.runway_weeks !== null ? `, runway ${r.runway_weeks} weeks` : ""}).`),
        h("div", { class: "bar", role: "meter", "aria-label": "Capacity used", "aria-valuemin": "0", "aria-valuemax": String(r.capacity_hrs), "aria-valuenow": String(r.used_hours) },
          h("span", { class: "b", style: `width:${pct(r.billable_hours)}%` }), h("span", { class: "i", style: `width:${pct(internal)}%` })),
        r.warnings.length ? h("ul", { role: "alert" }, r.warnings.map((w) => h("li", { class: "warn" }, w))) : h("p", { class: "hint" }, "No warnings."));
    } catch (err) { A.failed(sprintEl, err); }
  }
  function sprintForm() {
    if (!A.canWrite()) return A.empty(sprintEl, "No sprint for this week.");
    const form = h("form", { class: "grid", novalidate: true },
      h("div", { class: "field" }, h("label", { for: "sp-cap" }, "Capacity (h)"), h("input", { id: "sp-cap", name: "capacity_hrs", type: "number", value: "32", min: "1" }), h("p", { class: "err", "data-for": "capacity_hrs" })),
      h("div", { class: "field" }, h("label", { for: "sp-bill" }, "Billable target %"), h("input", { id: "sp-bill", name: "billable_target_pct", type: "number", value: "60" }), h("p", { class: "err", "data-for": "billable_target_pct" })),
      h("div", { class: "field" }, h("label", { for: "sp-run" }, "Runway (weeks)"), h("input", { id: "sp-run", name: "runway_weeks", type: "number", min: "0" }), h("p", { class: "err", "data-for": "runway_weeks" })),
      h("div", { class: "actions wide" }, h("button", { type: "submit" }, "Create the sprint")));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try { await api("POST", "/api/v1/scheduler/sprints", { ...A.formData(form), week_start: monday }); loadSprint(); }
      catch (err) { A.showProblem(form, err); }
    });
    A.fill(sprintEl, h("p", { class: "empty" }, "No sprint for this week: set its capacity to see hours used and the billable share."), form);
  }

  document.getElementById("prev").addEventListener("click", () => { monday = A.addDays(monday, -7); load(); });
  document.getElementById("next").addEventListener("click", () => { monday = A.addDays(monday, 7); load(); });
  document.getElementById("this").addEventListener("click", () => { monday = mondayOf(A.today()); load(); });
  loadPlans().then(() => { if (params.get("plan")) previewOut.prepend(h("p", { class: "hint" }, "Press Preview to see where this plan would go.")); });
  load();
};
