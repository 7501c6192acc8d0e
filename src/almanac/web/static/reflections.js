/* Reflections: daily timeline, weekly estimated-vs-actual chart (inline SVG), patterns, advice. */
"use strict";
window.AlmanacPages.reflections = function () {
  const A = window.Almanac, { h, s, api } = A;
  const els = Object.fromEntries(["chart", "recs", "patterns", "timeline"].map((k) => [k, document.getElementById(k)]));

  function mondayOf(date) { const wd = (new Date(date + "T12:00:00Z").getUTCDay() + 6) % 7; return A.addDays(date, -wd); }

  async function load() {
    Object.values(els).forEach((e) => A.loading(e));
    try {
      const [daily, weekly, patterns] = await Promise.all([
        api("GET", "/api/v1/observer/reflections?mode=daily&limit=60"),
        api("GET", "/api/v1/observer/reflections?mode=weekly&limit=12"),
        api("GET", "/api/v1/observer/patterns"),
      ]);
      timeline(daily); chart(weekly, daily); patternTable(patterns); recommendations([...weekly.slice(0, 1), ...daily.slice(0, 3)]);
    } catch (err) { Object.values(els).forEach((e) => A.failed(e, err)); }
  }

  function timeline(daily) {
    if (!daily.length) return A.empty(els.timeline, "No daily reflections yet. Press “Reflect on today”; the clock also runs one every evening.");
    A.fill(els.timeline, h("ol", { class: "timeline", "aria-label": "Daily reflections, latest first" }, daily.map((r) => {
      const n = r.report.numbers || {};
      return h("li", { dataset: { day: r.period_start } }, h("strong", {}, A.dayLabel(r.period_start + "T12:00:00Z")),
        h("p", {}, `${n.tasks_planned ?? 0} task${(n.tasks_planned ?? 0) === 1 ? "" : "s"} planned, ${n.tasks_done ?? 0} done; ${n.hours_estimated ?? 0} h estimated for the tasks planned, ${n.hours_actual ?? 0} h worked.` +
          (n.done_tasks_measured ? ` The ${n.done_tasks_measured} task(s) done with hours recorded: estimated ${n.done_hours_estimated} h, took ${n.done_hours_worked} h.` : "")),
        r.narrative ? h("p", {}, r.narrative) : null,
        (r.report.slipped || []).length ? h("p", { class: "warn" }, `Slipped: ${r.report.slipped.map((x) => x.title).join(", ")}`) : null);
    })));
  }

  function chart(weekly, daily) {
    const weeks = new Map(), dayLatest = new Map();
    for (const r of daily) {
      const w = mondayOf(r.period_start), n = r.report.numbers || {};
      const cur = weeks.get(w) || { est: 0, act: 0, from: "days" };
      cur.est += n.hours_estimated || 0; cur.act += n.hours_actual || 0; weeks.set(w, cur);
      dayLatest.set(w, Math.max(dayLatest.get(w) || 0, Date.parse(r.updated_at)));
    }
    // A week's own reflection gives its figures; one older than a day's reflection of that
    // week may miss what the day's counted, which is said beside it (not summed in: the
    // days may repeat hours the week holds).
    for (const r of weekly) {
      const n = r.report.numbers || {};
      const stale = (dayLatest.get(r.period_start) || 0) > Date.parse(r.updated_at);
      weeks.set(r.period_start, { est: n.hours_estimated || 0, act: n.hours_actual || 0, from: "week", stale });
    }
    const rows = [...weeks.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).slice(-12);
    if (!rows.length) return A.empty(els.chart, "No reflections yet: the chart fills in as days and weeks are reflected on.");
    const W = 640, H = 240, pad = 36, max = Math.max(1, ...rows.flatMap(([, v]) => [v.est, v.act]));
    const bw = (W - pad * 2) / rows.length;
    const y = (v) => H - pad - (v / max) * (H - pad * 2);
    const svg = s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": "chart-title chart-desc" },
      s("title", { id: "chart-title" }, "Estimated and actual hours per week"),
      s("desc", { id: "chart-desc" }, rows.map(([w, v]) => `week of ${w}: ${v.est.toFixed(1)} h estimated, ${v.act.toFixed(1)} h actual`).join("; ")),
      s("line", { x1: pad, x2: W - pad, y1: H - pad, y2: H - pad, stroke: "#8d96a8" }),
      s("text", { x: 4, y: pad - 6 }, `${max.toFixed(1)} h`));
    rows.forEach(([w, v], i) => {
      const x = pad + i * bw + bw * 0.15, b = bw * 0.35;
      svg.append(s("rect", { x, y: y(v.est), width: b, height: H - pad - y(v.est), fill: "#5b5fc7", "data-week": w, "data-kind": "estimated" }, s("title", {}, `${v.est.toFixed(1)} h estimated`)),
        s("rect", { x: x + b, y: y(v.act), width: b, height: H - pad - y(v.act), fill: "#2e7d4f", "data-week": w, "data-kind": "actual" }, s("title", {}, `${v.act.toFixed(1)} h actual`)),
        s("text", { x: x, y: H - pad + 14 }, w.slice(5)));
    });
    A.fill(els.chart, svg, h("p", { class: "legend" }, h("span", {}, h("i", { class: "lg-internal" }), "estimated"), h("span", {}, h("i", { class: "lg-billable" }), "actual")),
      h("table", { class: "hint", "aria-label": "Hours per week" }, h("thead", {}, h("tr", {}, ["Week of", "Estimated h", "Actual h"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, rows.map(([w, v]) => h("tr", { dataset: { week: w } }, h("td", {}, w, v.stale ? h("small", { class: "stale" }, " (a day of this week was reflected on since: reflect on this week to bring it up to date)") : null), h("td", { class: "num" }, v.est.toFixed(2)), h("td", { class: "num" }, v.act.toFixed(2)))))));
  }

  function patternTable(patterns) {
    if (!patterns.length) return A.empty(els.patterns, "No patterns yet: they appear once runs of a workflow are logged (Today page, or almanac).");
    const pct = (v) => (v === null || v === undefined ? "—" : `${v > 0 ? "+" : ""}${v.toFixed(0)}%`);
    A.fill(els.patterns, h("table", {}, h("thead", {}, h("tr", {}, ["Workflow", "Engagements", "Measured (est → actual)", "Mean variance", "Trend", "Workflow estimate", "Suggested"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, patterns.map((p) => {
        const hot = p.mean_variance_pct !== null && Math.abs(p.mean_variance_pct) > 30;
        return h("tr", { class: hot ? "hot" : "" }, h("td", {}, p.workflow, hot ? h("span", { class: "badge bad" }, "over 30%") : null), h("td", { class: "num" }, p.runs),
          // A run measures the tasks it ran (an engagement under way, only those): its
          // estimate beside its hours, apart from the whole workflow's estimate.
          h("td", { class: "num" }, p.mean_actual_hours === null ? "—" : `${p.mean_estimated_hours ?? "—"} → ${p.mean_actual_hours} h`),
          h("td", { class: "num" }, pct(p.mean_variance_pct)), h("td", {}, p.trend), h("td", { class: "num" }, p.current_estimate_hours ?? "—"),
          h("td", { class: "num" }, p.suggested_estimate_hours ?? "—"));
      }))));
  }

  function recommendations(reflections) {
    const recs = [...new Set(reflections.flatMap((r) => r.report.recommendations || []).map((x) => (typeof x === "string" ? x : x.text || JSON.stringify(x))))];
    if (!recs.length) return A.empty(els.recs, "No recommendations: estimates and reality agree so far.");
    A.fill(els.recs, h("ul", {}, recs.map((r) => h("li", {}, r))));
  }

  for (const mode of ["daily", "weekly"]) {
    document.getElementById(`reflect-${mode}`).addEventListener("click", async (ev) => {
      try { const r = await A.busy(ev.currentTarget, () => api("POST", `/api/v1/observer/reflect?mode=${mode}`)); A.flash(`Reflected on ${r.period_start}${r.period_end !== r.period_start ? " – " + r.period_end : ""}.`); load(); }
      catch (err) { A.flash(A.describe(err), "err"); }
    });
  }
  load();
};
