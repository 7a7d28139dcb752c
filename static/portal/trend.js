// The overview's trend (portal/home.html): calls per period and p95 answer latency over 24 h,
// 7 or 30 days, from /api/v1/metrics/ (hourly rollups; the member's session authenticates),
// drawn with uPlot (static/vendor/). Without JavaScript the card still says the totals.

const card = document.getElementById("trend");
const chartBox = document.getElementById("trend-chart");
const summary = document.getElementById("trend-summary");
const buttons = card.querySelectorAll("[data-window]");
const LABELS = { "24h": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days" };
let plot = null;

function describe(period, totals) {
  const parts = [`${LABELS[period]}: ${totals.calls} call${totals.calls === 1 ? "" : "s"}`];
  if (totals.latency_p95_ms !== null) parts.push(`answers within ${totals.latency_p95_ms} ms for 95 %`);
  if (totals.error_rate_pct !== null) parts.push(`${totals.error_rate_pct} % ending in an error`);
  parts.push(`$${totals.cost_usd.toFixed(2)}`);
  return `${parts.join(", ")}.`;
}

function draw(series) {
  const xs = series.points.map((point) => Date.parse(point.start) / 1000);
  const calls = series.points.map((point) => point.calls);
  const p95 = series.points.map((point) => point.latency_p95_ms);
  const style = getComputedStyle(document.documentElement);
  const brand = style.getPropertyValue("--brand").trim() || "#4338ca";
  const amber = style.getPropertyValue("--tts").trim() || "#f59e0b";
  const options = {
    width: chartBox.clientWidth,
    height: 220,
    scales: {
      x: { time: true },
      y: { range: (u, min, max) => [0, Math.max(max || 0, 1)] },
      ms: { range: (u, min, max) => [0, Math.max(max || 0, 500)] },
    },
    axes: [
      {},
      { label: "calls", size: 50, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000] },
      { scale: "ms", side: 1, label: "p95 ms", size: 60, grid: { show: false } },
    ],
    series: [
      {},
      { label: "Calls", stroke: brand, fill: `${brand}33`, points: { show: false },
        paths: uPlot.paths.bars({ size: [0.6, 32] }) },
      { label: "p95 answer latency (ms)", scale: "ms", stroke: amber, width: 2, spanGaps: true },
    ],
  };
  if (plot) plot.destroy();
  plot = new uPlot(options, [xs, calls, p95], chartBox);
  chartBox.setAttribute("aria-label", `Calls and p95 answer latency, ${LABELS[series.window].toLowerCase()}`);
  summary.textContent = describe(series.window, series.totals);
}

async function show(period) {
  buttons.forEach((button) => button.setAttribute("aria-pressed", String(button.dataset.window === period)));
  try {
    const response = await fetch(`${card.dataset.seriesUrl}?window=${period}`, {
      credentials: "same-origin", headers: { Accept: "application/json" },
    });
    if (response.ok) draw(await response.json());
  } catch {
    // offline: the totals written by the server stay
  }
}

if (window.uPlot) {
  card.querySelector(".segmented").hidden = false;
  buttons.forEach((button) => button.addEventListener("click", () => show(button.dataset.window)));
  window.addEventListener("resize", () => {
    if (plot) plot.setSize({ width: chartBox.clientWidth, height: 220 });
  });
  show("24h");
}
