/* Models per operation: model, temperature and token limit, with the cost they would have. */
"use strict";
(function () {
  const page = window.AlmanacPages.prompts;
  window.AlmanacPages.prompts = function () {
    page();
    models();
  };

  function money(x) { return x === null ? "—" : `$${x.toFixed(x < 1 ? 4 : 2)}`; }

  function models() {
    const A = window.Almanac, { h, api } = A;
    const el = document.getElementById("models");
    const admin = () => document.body.dataset.scope === "admin";

    function row(o) {
      const id = (f) => `m-${o.operation}-${f}`;
      const input = (f, label, attrs) => [h("label", { for: id(f), class: "sr-only" }, `${label} for ${o.operation}`),
        h("input", { id: id(f), name: f, ...attrs, disabled: !admin() }), h("p", { class: "err", "data-for": f })];
      const form = h("form", { class: "actions", novalidate: true, dataset: { operation: o.operation } },
        ...input("model", "Model", { type: "text", value: o.model || "", placeholder: o.configured_model || "model name", size: 24 }),
        ...input("temperature", "Temperature", { type: "number", min: 0, max: 2, step: 0.1, value: o.temperature ?? "", placeholder: "default", size: 5 }),
        ...input("max_tokens", "Max tokens", { type: "number", min: 1, max: 32768, step: 1, value: o.max_tokens ?? "", size: 6 }),
        admin() ? h("button", { type: "submit", "aria-label": `Save ${o.operation}` }, "Save") : null,
        admin() && o.source === "dashboard" ? h("button", { type: "button", class: "secondary", "aria-label": `Use settings for ${o.operation}`, onclick: (e) => reset(e.currentTarget, o.operation) }, "Use settings") : null);
      form.addEventListener("submit", (ev) => save(ev, form, o));
      return h("tr", { dataset: { operation: o.operation } },
        h("th", { scope: "row" }, o.operation),
        h("td", {}, form),
        h("td", {}, o.source === "dashboard" ? h("span", { class: "badge billable" }, "chosen here") : "settings"),
        h("td", { class: "num", title: o.estimate.basis }, money(o.estimate.per_call)),
        h("td", { class: "num", title: o.estimate.basis }, money(o.estimate.per_30_days)));
    }

    async function load() {
      A.loading(el, "Loading models…");
      try {
        const out = await api("GET", "/api/v1/planner/llm/operations");
        A.fill(el, h("table", { id: "models-table" },
          h("thead", {}, h("tr", {}, ["Operation", "Model, temperature, max tokens", "Source", "Cost per call", "Cost per 30 days"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, out.operations.map(row))),
          h("p", { class: "hint" }, out.note),
          h("ul", { class: "hint" }, out.operations.map((o) => h("li", {}, `${o.operation}: ${o.estimate.basis}`))));
      } catch (err) { A.failed(el, err); }
    }

    async function save(ev, form, o) {
      ev.preventDefault();
      A.clearProblems(form);
      const f = form.elements, body = {};
      if (f.model.value.trim()) body.model = f.model.value.trim();
      if (f.temperature.value !== "") body.temperature = +f.temperature.value;
      if (f.max_tokens.value !== "") body.max_tokens = +f.max_tokens.value;
      try {
        const out = await A.busy(form.querySelector("button[type=submit]"), () => api("PUT", `/api/v1/planner/llm/operations/${o.operation}`, body));
        A.flash(`${out.operation} now uses ${out.model || "no model"}${out.temperature === null ? "" : ` at temperature ${out.temperature}`}, up to ${out.max_tokens} tokens.`);
        await load();
      } catch (err) { A.showProblem(form, err); }
    }

    async function reset(button, operation) {
      try {
        const out = await A.busy(button, () => api("DELETE", `/api/v1/planner/llm/operations/${operation}`));
        A.flash(`${operation} is back to the settings: ${out.model || "no model"}.`);
        await load();
      } catch (err) { A.flash(A.describe(err), "err"); }
    }

    load();
  }
})();
