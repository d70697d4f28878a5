/* The portfolio pages' charts and the what-if form. Chart.js is vendored (see vendor/chartjs). */
(function () {
  "use strict";

  const usd = (v, digits = 0) => v == null ? "—" : (v < 0 ? "-" : "") + "$" +
    Math.abs(v).toLocaleString("en-US", {minimumFractionDigits: digits, maximumFractionDigits: digits});
  const usdPerQuery = (v) => v == null ? "—" : "$" + Number(v).toPrecision(4);
  const months = (v) => v == null ? "—" : v.toLocaleString("en-US", {minimumFractionDigits: 1, maximumFractionDigits: 1}) + " months";
  const day = (ms) => new Date(ms).toISOString().slice(0, 10);
  const data = (id) => { const el = document.getElementById(id); return el ? JSON.parse(el.textContent) : null; };
  const palette = ["#1f5fbf", "#1b7f3b", "#b3261e", "#a76b00", "#6a3d9a", "#0f7c8c", "#c2185b", "#5d4037", "#455a64", "#7cb342", "#9e9e9e"];

  function dateAxis(title, datasets) {
    const xs = datasets.flatMap((d) => d.data).filter((p) => p && p.y != null).map((p) => p.x);
    return {type: "linear", title: {display: true, text: title},
      min: xs.length ? Math.min(...xs) : undefined, max: xs.length ? Math.max(...xs) : undefined,
      ticks: {callback: (v) => day(v), maxTicksLimit: 10}};
  }

  function monthlyChart() {
    const chart = data("monthly-data");
    if (!chart) return;
    new Chart(document.getElementById("monthly-chart"), {
      type: "bar",
      data: {labels: chart.labels, datasets: chart.series.map((s, i) => ({
        label: s.label, data: s.data, backgroundColor: palette[i % palette.length], stack: "saving"}))},
      options: {
        maintainAspectRatio: false, animation: false,
        interaction: {mode: "index", intersect: false},
        scales: {x: {stacked: true, title: {display: true, text: "Month"}},
                 y: {stacked: true, title: {display: true, text: "Net saving (USD)"}, ticks: {callback: (v) => usd(v)}}},
        plugins: {legend: {position: "right"},
                  tooltip: {callbacks: {label: (c) => c.dataset.label + ": " + usd(c.parsed.y)}}},
      },
    });
  }

  function breakEvenChart() {
    const d = data("break-even-data");
    if (!d) return;
    new Chart(document.getElementById("break-even-chart"), {
      type: "line",
      data: {datasets: [
        {label: "Cumulative net saving", data: d.history, borderColor: "#1f5fbf", backgroundColor: "#1f5fbf", pointRadius: 0, borderWidth: 2, spanGaps: false},
        {label: "Projection to end of stable lifetime", data: d.projection, borderColor: "#1f5fbf", borderDash: [6, 6], pointRadius: 0, borderWidth: 2},
        {label: "Training cost to recover", data: d.cost, borderColor: "#b3261e", backgroundColor: "#b3261e", pointRadius: 0, borderWidth: 1.5, spanGaps: false},
        {label: "Break-even", data: d.break_even, type: "scatter", pointStyle: "triangle", pointRadius: 9, borderColor: "#1b7f3b", backgroundColor: "#1b7f3b"},
        {label: "Retraining (clock restarts)", data: d.restarts, type: "scatter", pointStyle: "rectRot", pointRadius: 7, borderColor: "#a76b00", backgroundColor: "#a76b00"},
      ]},
      options: {
        maintainAspectRatio: false, animation: false, parsing: true,
        interaction: {mode: "nearest", intersect: false},
        scales: {x: dateAxis("Day", [{data: d.history}, {data: d.projection}, {data: d.break_even}]), y: {title: {display: true, text: "USD"}, ticks: {callback: (v) => usd(v)}}},
        plugins: {tooltip: {callbacks: {title: (items) => items.length ? day(items[0].parsed.x) : "",
                                        label: (c) => c.dataset.label + ": " + usd(c.parsed.y)}}},
      },
    });
  }

  function usageChart() {
    const d = data("usage-data");
    if (!d) return;
    new Chart(document.getElementById("usage-chart"), {
      type: "bar",
      data: {datasets: [
        {label: "Queries a week", data: d.volume, backgroundColor: "rgba(69,90,100,.35)", yAxisID: "volume", barPercentage: 1, categoryPercentage: 1},
        {label: "Tune cost / query", data: d.tune, type: "line", borderColor: "#1b7f3b", backgroundColor: "#1b7f3b", pointRadius: 0, yAxisID: "cost"},
        {label: "Prompting cost / query", data: d.alternative, type: "line", borderColor: "#b3261e", backgroundColor: "#b3261e", pointRadius: 0, yAxisID: "cost"},
      ]},
      options: {
        maintainAspectRatio: false, animation: false,
        interaction: {mode: "index", intersect: false},
        scales: {x: dateAxis("Week", [{data: d.volume}]),
                 volume: {position: "left", title: {display: true, text: "Queries a week"}, ticks: {callback: (v) => v.toLocaleString("en-US")}},
                 cost: {position: "right", title: {display: true, text: "USD per query"}, grid: {drawOnChartArea: false}, ticks: {callback: (v) => usdPerQuery(v)}}},
        plugins: {tooltip: {callbacks: {title: (items) => items.length ? "Week of " + day(items[0].parsed.x) : "",
          label: (c) => c.dataset.yAxisID === "cost" ? c.dataset.label + ": " + usdPerQuery(c.parsed.y)
                                                     : c.dataset.label + ": " + c.parsed.y.toLocaleString("en-US")}}},
      },
    });
  }

  function showOutcome(row, o, reference) {
    const badge = document.createElement("span");
    badge.className = "badge badge-" + o.verdict.toLowerCase().replace("_", "-");
    badge.textContent = o.verdict_label;
    badge.dataset.verdict = o.verdict;
    const cell = row.querySelector(".verdict");
    cell.replaceChildren(badge);
    row.querySelector(".saving").textContent = usd(o.monthly_net_saving);
    row.querySelector(".payback").textContent = o.never_pays_back ? "never" : months(o.payback_months);
    row.querySelector(".lifetime").textContent = months(o.expected_stable_lifetime_months);
    row.querySelector(".break-even").textContent = o.break_even_on || "—";
    row.querySelector(".reason").textContent = o.reason;
    row.dataset.verdict = o.verdict;
    row.classList.toggle("changed", reference != null && reference.verdict !== o.verdict);
  }

  function whatIf() {
    const form = document.getElementById("what-if-form");
    if (!form) return;
    const error = document.getElementById("what-if-error");
    let timer = null, sequence = 0;
    async function run() {
      const changed = {};
      for (const input of form.querySelectorAll("input[type=number]")) {
        if (input.value !== input.defaultValue && input.value !== "") changed[input.name] = Number(input.value);
      }
      const mine = ++sequence;
      const response = await fetch(form.dataset.url, {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRFToken": form.querySelector("[name=csrfmiddlewaretoken]").value},
        body: JSON.stringify(changed),
      });
      if (mine !== sequence) return;  // a newer run is on its way
      const body = await response.json();
      if (!response.ok) {
        error.hidden = false;
        error.textContent = Object.entries(body.errors || {}).map(([f, es]) => f + ": " + es.map((e) => e.message || e).join(" ")).join("; ");
        return;
      }
      error.hidden = true;
      showOutcome(document.getElementById("what-if-now"), body.now, null);
      showOutcome(document.getElementById("what-if-then"), body.what_if, body.now);
      form.dataset.runs = String(Number(form.dataset.runs || 0) + 1);
    }
    form.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(run, 200); });
    form.addEventListener("submit", (e) => { e.preventDefault(); run(); });
    run();
  }

  document.addEventListener("DOMContentLoaded", () => { monthlyChart(); breakEvenChart(); usageChart(); whatIf(); });
})();
