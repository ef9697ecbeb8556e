// costlab weekly report: the page's own behaviour (no network). Charts (vega-embed), table filters
// (sorting is tablesort, vendored), copy buttons, and the what-if control, which answers a
// proportional split from costlab.whatif's precomputed arrays (docs/report.md, "The page").
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("costlab-data").textContent);
  const dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;

  // -- charts --------------------------------------------------------------------------------
  const ink = dark ? "#e4e8ef" : "#1d2430", grid = dark ? "#2e3440" : "#e3e7ee";
  const theme = {background: null, view: {stroke: null},
                 axis: {labelColor: ink, titleColor: ink, gridColor: grid, domainColor: grid, tickColor: grid},
                 legend: {labelColor: ink, titleColor: ink}, title: {color: ink, anchor: "start", fontSize: 14},
                 text: {color: ink}};
  window.costlabCharts = {};
  for (const [name, spec] of Object.entries(data.charts || {})) {
    spec.config = Object.assign({}, theme, spec.config || {});
    vegaEmbed("#chart-" + name, spec, {renderer: "svg", actions: {export: true, source: false, compiled: false, editor: false},
                                       downloadFileName: "costlab-" + name})
      .then((r) => { window.costlabCharts[name] = r.view; })
      .catch((err) => { console.error("chart " + name + ": " + err); });
  }

  // -- tables: sort (tablesort) and filter ----------------------------------------------------
  for (const table of document.querySelectorAll("table.data")) {
    if (window.Tablesort) new Tablesort(table);
    const box = table.closest(".tbl").querySelector("input.filter");
    if (box) box.addEventListener("input", () => {
      const words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
      for (const row of table.tBodies[0].rows) {
        const text = row.textContent.toLowerCase();
        row.hidden = !words.every((w) => text.includes(w));
      }
    });
  }

  // -- copy buttons ---------------------------------------------------------------------------
  for (const button of document.querySelectorAll("button.copy")) {
    button.addEventListener("click", () => {
      const text = document.getElementById(button.dataset.target).textContent;
      const done = () => { button.textContent = "copied"; setTimeout(() => { button.textContent = "copy"; }, 1500); };
      const fallback = () => {
        const area = document.createElement("textarea");
        area.value = text; document.body.appendChild(area); area.select();
        try { document.execCommand("copy"); done(); } catch (e) { /* the text stays selectable */ }
        area.remove();
      };
      if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, fallback);
      else fallback();
    });
  }

  // -- what-if --------------------------------------------------------------------------------
  const m = data.whatif;
  if (!m) return;
  const T = m.tiers.length, D = m.days.length, B = m.resample_counts.length;
  const tierNusd = m.tier_nusd.map((x) => BigInt(x));
  const actual = BigInt(m.actual_nusd);
  // per resample and tier: the resampled week's cost at 100% on the tier (float nano-dollars)
  const M = m.resample_counts.map((counts) => m.tier_day_nusd.map((days) => {
    let s = 0; for (let d = 0; d < D; d++) s += counts[d] * days[d]; return s; }));
  const Z95 = 1.959963984540054;

  function percentile(sorted, q) {  // numpy's default (linear) percentile
    if (!sorted.length) return NaN;
    const h = (sorted.length - 1) * q / 100, i = Math.floor(h);
    return i + 1 < sorted.length ? sorted[i] + (h - i) * (sorted[i + 1] - sorted[i]) : sorted[i];
  }
  function money(cents) {  // BigInt cents -> "$1,234.56"
    const neg = cents < 0n; if (neg) cents = -cents;
    const whole = (cents / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return (neg ? "-$" : "$") + whole + "." + (cents % 100n).toString().padStart(2, "0");
  }
  function centsOf(nusd) { return BigInt(Math.round(nusd / 1e7)); }  // for the interval's ends (floats)
  function pct(x, places) { return (x * 100).toFixed(places === undefined ? 1 : places) + "%"; }

  // The answer for integer percents p[t] (adding up to 100), as costlab.whatif computes it.
  function answer(p) {
    let S = 0n;  // nano-dollars x 100: exact
    for (let t = 0; t < T; t++) S += BigInt(p[t]) * tierNusd[t];
    const cents = (S + 500000000n) / 1000000000n;  // half up, to the cent
    const w = p.map((x) => x / 100);
    const point = Number(S) / 100;
    const costs = M.map((row) => row.reduce((s, x, t) => s + w[t] * x, 0)).sort((a, b) => a - b);
    const level = (1 - m.level) / 2 * 100;
    let lo = percentile(costs, level), hi = percentile(costs, 100 - level);
    if (m.rse) {  // the sampling error, as costlab.report.sections.cube.widen
      const extra = Z95 * point * m.rse;
      lo = point - Math.hypot(point - lo, extra); hi = point + Math.hypot(hi - point, extra);
    }
    const out = {cents, lo, hi, change: actual ? Number(S) / 100 / Number(actual) - 1 : null, quality: null};
    let mask = 0; for (let t = 0; t < T; t++) if (p[t] > 0) mask |= 1 << t;
    const q = m.quality[String(mask)];
    if (q) {
      const used = [...Array(T).keys()].filter((t) => p[t] > 0);
      const wsum = used.reduce((s, t) => s + w[t], 0);
      const combine = (qs, qn) => used.some((t) => !(qn[t] > 0)) ? NaN
        : used.reduce((s, t) => s + w[t] * qs[t] / qn[t], 0) / wsum;
      const sum = (rows, t, counts) => rows.reduce((s, row, d) => s + (counts ? counts[d] : 1) * row[t], 0);
      const point = combine([...Array(T).keys()].map((t) => sum(q.qsum, t)), [...Array(T).keys()].map((t) => sum(q.qn, t)));
      if (!Number.isNaN(point)) {
        const qs = m.resample_counts.map((c) => combine([...Array(T).keys()].map((t) => sum(q.qsum, t, c)),
                                                         [...Array(T).keys()].map((t) => sum(q.qn, t, c))))
          .filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
        out.quality = {point, lo: percentile(qs, level), hi: percentile(qs, 100 - level), n: q.n};
      }
    }
    return out;
  }
  window.costlabWhatif = answer;

  const ranges = [...document.querySelectorAll("#whatif-live input[type=range]")];
  const numbers = [...document.querySelectorAll("#whatif-live input[type=number]")];
  let split = (data.whatif_start || []).slice();

  function rebalance(i, v) {  // tier i set to v: the others share what is left, in their proportions
    v = Math.max(0, Math.min(100, Math.round(v)));
    const others = [...Array(T).keys()].filter((t) => t !== i);
    const rest = 100 - v, base = others.reduce((s, t) => s + split[t], 0);
    const raw = others.map((t) => base > 0 ? rest * split[t] / base : rest / others.length);
    const next = split.slice(); next[i] = v;
    others.forEach((t, k) => { next[t] = Math.floor(raw[k]); });
    let left = 100 - next.reduce((s, x) => s + x, 0);
    const order = others.map((t, k) => [raw[k] - Math.floor(raw[k]), -k, t]).sort((a, b) => b[0] - a[0] || b[1] - a[1]);
    for (let k = 0; left > 0 && order.length; k = (k + 1) % order.length, left--) next[order[k][2]] += 1;
    return next;
  }

  function show() {
    ranges.forEach((r, t) => { r.value = split[t]; }); numbers.forEach((n, t) => { n.value = split[t]; });
    const a = answer(split);
    const el = (id) => document.getElementById(id);
    el("wi-split").textContent = m.tiers.map((t, k) => t + "=" + split[k]).join(",");
    el("wi-cost").textContent = money(a.cents); el("wi-cost").dataset.cents = a.cents.toString();
    el("wi-interval").textContent = money(centsOf(a.lo)) + " to " + money(centsOf(a.hi));
    const ch = el("wi-change");
    ch.textContent = a.change === null ? "—" : (a.change >= 0 ? "+" : "−") + pct(Math.abs(a.change)) + " against the actual " + money((actual + 5000000n) / 10000000n);
    ch.className = a.change === null ? "" : (a.change > 0 ? "up bad" : a.change < 0 ? "down good" : "");
    el("wi-quality").textContent = a.quality
      ? pct(a.quality.point) + " (95%: " + pct(a.quality.lo) + " to " + pct(a.quality.hi) + "; n = " + a.quality.n.toLocaleString("en-US") + " judged)"
      : "no judgements or feedback for these tiers: cost only";
  }
  ranges.forEach((r, t) => r.addEventListener("input", () => { split = rebalance(t, Number(r.value)); show(); }));
  numbers.forEach((n, t) => n.addEventListener("input", () => {
    if (n.value === "") return; split = rebalance(t, Number(n.value)); show(); }));
  for (const b of document.querySelectorAll("#whatif-live .presets button")) {
    b.addEventListener("click", () => { split = JSON.parse(b.dataset.split); show(); });
  }
  window.costlabSetSplit = (p) => { split = p.slice(); show(); return document.getElementById("wi-cost").dataset.cents; };
  show();
})();
