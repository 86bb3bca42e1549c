/**
 * The status page: one HTML document with its script inline, charting the JSON that
 * `mountStatusPage()` serves with uPlot (served beside it), and the advice that comes with it. `%TITLE%`, `%JSON%`, `%BASE%` and
 * `%CHARTS%` are filled in when mounted. `window.greenhubStatus` exposes the update count and the charts, for
 * tests and for curious operators.
 */
import { OPERATION_KINDS } from '../metrics/collect.js';

/** The page's icon (served as `favicon.ico`, in SVG: browsers read the content type): a green hub. */
export const FAVICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><circle cx="16" cy="16" r="14" fill="#1e8e3e"/>' +
  '<circle cx="16" cy="16" r="5" fill="#fff"/><g stroke="#fff" stroke-width="2.5"><path d="M16 2v9M16 21v9M2 16h9M21 16h9"/></g></svg>';

/**
 * The page's fixed charts, one unit each (counts and percentages never share an axis); the two
 * per-route charts (requests per second, p99 latency) are added from the routes the JSON lists.
 */
export const STATUS_CHARTS: readonly {
  id: string;
  title: string;
  unit: 'count' | 'ms' | '%' | '/s';
  series: string[];
}[] = [
  {
    id: 'greenlets',
    title: 'Greenlets by state',
    unit: 'count',
    series: ['running', 'waiting', 'scheduled'],
  },
  { id: 'spawned', title: 'Greenlets spawned', unit: '/s', series: ['spawned'] },
  {
    id: 'operations',
    title: 'Pending patched operations by kind',
    unit: 'count',
    // Every kind greenhub_patched_operations always exports, then any other kind summed.
    series: [...OPERATION_KINDS, 'other'],
  },
  { id: 'loop', title: 'Event loop delay', unit: 'ms', series: ['delay p99', 'delay max'] },
  {
    id: 'utilization',
    title: 'Utilization: event loop and pool threads',
    unit: '%',
    series: ['loop', 'pool threads'],
  },
  {
    id: 'pool',
    title: 'Thread pools',
    unit: 'count',
    series: ['busy threads', 'idle threads', 'queued tasks'],
  },
];

export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>%TITLE%</title>
<link rel="icon" type="image/svg+xml" href="%BASE%/favicon.ico">
<link rel="stylesheet" href="%BASE%/uplot.min.css">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 16px 24px; color: #1d2330; background: #fafbfc; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  #summary { color: #555; margin-bottom: 12px; min-height: 1.4em; }
  .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 12px; }
  .card { background: #fff; border: 1px solid #e2e5ea; border-radius: 6px; padding: 8px; }
  table { border-collapse: collapse; margin: 0 0 12px; background: #fff; }
  th, td { border: 1px solid #e2e5ea; padding: 4px 10px; text-align: right; }
  th:first-child, td:first-child { text-align: left; }
  .error { color: #b00020; }
  #advice { margin: 0 0 12px; max-width: 1100px; }
  #advice h2 { font-size: 15px; margin: 0 0 4px; }
  #advice ul { margin: 0; padding-left: 20px; }
  #advice .note { color: #555; }
</style>
</head>
<body>
<h1>%TITLE%</h1>
<div id="summary">connecting…</div>
<table id="routes"><thead><tr><th>route</th><th>req/s</th><th>errors/s</th><th>p50 ms</th><th>p99 ms</th><th>total</th></tr></thead><tbody></tbody></table>
<div id="advice" class="card"><h2>What to change</h2><div class="note">advice after the first window</div></div>
<div class="grid">
  <div class="card" id="rate"></div>
  <div class="card" id="latency"></div>
  <div class="card" id="greenlets"></div>
  <div class="card" id="spawned"></div>
  <div class="card" id="operations"></div>
  <div class="card" id="loop"></div>
  <div class="card" id="utilization"></div>
  <div class="card" id="pool"></div>
</div>
<script src="%BASE%/uplot.min.js"></script>
<script>
(() => {
  const POINTS = 120;
  const CHARTS = %CHARTS%;
  const COLORS = ['#2f6fdf', '#e8710a', '#1e8e3e', '#d01884', '#9334e6', '#12b5cb', '#f9ab00', '#5f6368'];
  const state = { updates: 0, errors: 0, charts: {} };
  window.greenhubStatus = state;
  const times = [];
  const series = {};
  const push = (key, value) => {
    const s = (series[key] ??= new Array(times.length - 1).fill(null));
    s.push(value);
  };
  const width = (el) => Math.max(300, el.clientWidth - 16);

  // One unit per chart (CHARTS below): a count and a percentage never share an axis.
  const show = (v, unit) => v == null ? '–' : (+v.toFixed(v < 10 ? 2 : 0)) + (unit === 'count' ? '' : unit === '%' || unit === '/s' ? unit : ' ' + unit);

  // The legend shows the latest values unless the cursor is over the chart (then: the hovered ones).
  const latest = (u) => {
    const n = u.data[0].length;
    if (n > 0 && u.cursor.idx == null) u.setLegend({ idx: n - 1 }, false);
  };

  function chart(id, title, labels, keyOf, unit) {
    const el = document.getElementById(id);
    const old = state.charts[id];
    if (old && old.keys.join('|') === labels.join('|')) return old;
    if (old) old.plot.destroy();
    const opts = {
      title: title + ' (' + unit + ')', width: width(el), height: 200,
      // Counts and rates start at 0 and end just above the largest value: 2 busy threads fill the
      // chart rather than hug the floor of uPlot's default 0–100 for flat data.
      scales: { x: { time: true }, y: unit === 'count' || unit === '/s' || unit === 'req/s' ? { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } : {} },
      axes: [{}, { values: (u, vals) => vals.map((v) => v == null ? '' : show(v, unit)), size: 70 }],
      series: [{}, ...labels.map((label, i) => ({
        label, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true, value: (u, v) => show(v, unit),
      }))],
      hooks: { setCursor: [latest] },
    };
    const plot = new uPlot(opts, [[], ...labels.map(() => [])], el);
    const c = { plot, keys: labels, keyOf, unit };
    state.charts[id] = c;
    return c;
  }

  function draw(c) {
    const start = Math.max(0, times.length - POINTS);
    const data = [times.slice(start), ...c.keys.map((k) => (series[c.keyOf(k)] ?? []).slice(start))];
    c.plot.setData(data);
    latest(c.plot);
  }

  const fmt = (v) => v == null ? '–' : v < 10 ? v.toFixed(2) : v.toFixed(0);

  async function tick() {
    let s;
    try {
      const res = await fetch('%JSON%', { cache: 'no-store' });
      s = await res.json();
    } catch (e) {
      state.errors++;
      document.getElementById('summary').innerHTML = '<span class="error">cannot reach the service: ' + e + '</span>';
      return;
    }
    times.push(s.time / 1000);
    push('running', s.greenlets.running);
    push('waiting', s.greenlets.waiting);
    push('scheduled', s.greenlets.scheduled);
    push('spawned', s.spawnedPerSec);
    const kinds = CHARTS.find((c) => c.id === 'operations').series;
    let other = 0;
    for (const [kind, n] of Object.entries(s.operations)) if (!kinds.includes(kind)) other += n;
    for (const kind of kinds) push(kind, kind === 'other' ? other : (s.operations[kind] ?? 0));
    push('delay p99', s.loop.delayP99Ms);
    push('delay max', s.loop.delayMaxMs);
    push('loop', s.loop.utilization * 100);
    const busy = s.pools.reduce((a, p) => a + (p.threads.busy ?? 0), 0);
    const idle = s.pools.reduce((a, p) => a + (p.threads.idle ?? 0), 0);
    push('busy threads', busy);
    push('idle threads', idle);
    push('queued tasks', s.pools.reduce((a, p) => a + p.queueSize, 0));
    push('pool threads', s.pools.length ? (100 * s.pools.reduce((a, p) => a + p.utilization, 0)) / s.pools.length : null);
    const routeKeys = s.routes.map((r) => r.method + ' ' + r.route + (r.server === 'http' ? '' : ' @' + r.server));
    s.routes.forEach((r, i) => {
      push('rps:' + routeKeys[i], r.rps);
      push('p99:' + routeKeys[i], r.p99Ms);
    });
    for (const k of Object.keys(series)) if (series[k].length < times.length) series[k].push(null);

    for (const c of CHARTS) draw(chart(c.id, c.title, c.series, (k) => k, c.unit));
    const sorted = [...routeKeys].sort();
    draw(chart('rate', 'Requests by route', sorted, (k) => 'rps:' + k, 'req/s'));
    draw(chart('latency', 'p99 latency by route', sorted, (k) => 'p99:' + k, 'ms'));

    const rows = s.routes.map((r, i) => '<tr><td>' + routeKeys[i].replace(/</g, '&lt;') + '</td><td>' + fmt(r.rps) + '</td><td>' + fmt(r.errorsPerSec) +
      '</td><td>' + fmt(r.p50Ms) + '</td><td>' + fmt(r.p99Ms) + '</td><td>' + r.total + '</td></tr>');
    document.querySelector('#routes tbody').innerHTML = rows.join('');
    const g = s.greenlets;
    document.getElementById('summary').textContent =
      (g.running + g.waiting + g.scheduled) + ' live greenlets · loop delay p99 ' + fmt(s.loop.delayP99Ms) + ' ms · ' +
      'loop utilization ' + (s.loop.utilization * 100).toFixed(0) + '% · blocked ' + s.blocking.events + '× (' + fmt(s.blocking.blockedMs) + ' ms) · ' +
      (s.pools.length ? busy + ' busy threads, ' + s.pools.reduce((a, p) => a + p.queueSize, 0) + ' queued' : 'no thread pool');
    renderAdvice(s.advice);
    state.updates++;
  }

  // The same lines as \`greenhub advise\`, over the page's advice window.
  const escape = (t) => String(t).replace(/[&<>"']/g, (c) => '&#' + c.charCodeAt(0) + ';');
  function renderAdvice(a) {
    if (!a) return;
    const head = '<h2>What to change' + (a.windowSeconds == null ? '' : ' <span class="note">(last ' + a.windowSeconds.toFixed(0) + ' s)</span>') + '</h2>';
    const body = a.lines.length
      ? '<ul>' + a.lines.map((l) => '<li data-rule="' + escape(l.rule) + '">' + escape(l.text) + '</li>').join('') + '</ul>'
      : '<div class="note">' + escape(a.note ?? '') + '</div>';
    document.getElementById('advice').innerHTML = head + body;
  }

  const loop = async () => {
    await tick();
    setTimeout(loop, 1000);
  };
  loop();
  addEventListener('resize', () => { for (const c of Object.values(state.charts)) c.plot.setSize({ width: width(c.plot.root.parentElement), height: 200 }); });
})();
</script>
</body>
</html>
`;
