// `greenhub run --workers` (issue 13), on bench/http's workload, servers and load generator
// (bench/http/harness.js), on the 80/20 mix of /io (a 20 ms wait) and /cpu (about 20 ms of pbkdf2):
//
// - the honest row for users who will not move code to threads: the unmodified CPU-inline app
//   (bench/http/servers/plain-inline.js) under `greenhub run --workers 2`, against
//   `gunicorn -k gevent -w 2` (skipped with the reason when gunicorn or python3-gevent is absent)
//   and against the same app in one process under `greenhub run`;
// - the layouts of two cores: `--workers 1 --threads 2` and `--workers 2 --threads 1` running an
//   app that sends /cpu to the default pool (bench/http/servers/pool-offload.js), and
//   `--workers 2` with no thread doing CPU work (the CPU-inline app: the row above);
// - the time of one /metrics scrape with 2 workers (gathered over IPC and combined) against one
//   process under `greenhub run`.
//
//   node bench/workers.js                        3 rounds of 6 s per server
//   node bench/workers.js --rounds 5 --duration 10
//   node bench/workers.js --iterations 73000     the /cpu work given instead of calibrated
//
// Every server is started first and stays up; each round then loads them one after another, in an
// order rotated every round, so that a slow minute of this shared machine falls on all of them.
// Writes bench/results/workers.json (`node bench/run.js --render` puts it in RESULTS.md). Every
// server it starts is stopped (its whole process group) at the end.
import { loadavg } from 'node:os';
import { calibrate, cpuSeconds, phases, runLoad, server, start, stop, summarise } from './http/harness.js';
import { fmt, median, writeResults } from './lib.js';

const arg = (/** @type {string} */ name, /** @type {string} */ fallback) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : (process.argv[i + 1] ?? fallback);
};
const rounds = Number(arg('--rounds', '3'));
const durationS = Number(arg('--duration', '6'));
const SCRAPES = 100;
const mix = /** @type {NonNullable<ReturnType<typeof phases>[number]>} */ (
  phases(durationS).find((p) => p.id === 'mix')
);

/** The rows, and what each runs. */
const rows = [
  { id: 'run-inline', app: 'CPU inline', layout: '1 process, no thread' },
  { id: 'workers-2-inline', app: 'CPU inline', layout: '--workers 2, no thread doing CPU work' },
  { id: 'gevent-2', app: 'CPU inline (gevent_app.py)', layout: 'gunicorn -k gevent -w 2' },
  { id: 'workers-1-threads-2', app: '/cpu on the default pool', layout: '--workers 1 --threads 2' },
  { id: 'workers-2-threads-1', app: '/cpu on the default pool', layout: '--workers 2 --threads 1' },
].map((row) => ({ ...row, spec: server(row.id) }));

/** Sequential scrapes of `metricsPort`: the time of each, in ms. */
async function scrapeTimes(/** @type {number} */ metricsPort, /** @type {number} */ n) {
  const url = `http://127.0.0.1:${metricsPort}/metrics`;
  const times = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await (await fetch(url)).text();
    times.push(performance.now() - t0);
  }
  return times;
}

const loadBefore = loadavg();
const iterations = Number(arg('--iterations', '0')) || calibrate(20);
console.log(
  `pbkdf2 iterations for ~20 ms of CPU here: ${iterations}; load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`,
);
/** @type {Map<string, import('./http/harness.js').Running>} */
const running = new Map();
process.on('SIGINT', async () => {
  for (const r of running.values()) await stop(r.child);
  process.exit(130);
});
/** @type {Map<string, any[]>} */
const runs = new Map();
/** @type {Map<string, number[]>} */
const scrapes = new Map([
  ['run-inline', []],
  ['workers-2-inline', []],
]);
/** CPU seconds the scrapes cost each server's process tree (the primary and its workers). */
const scrapeCpuS = new Map([...scrapes.keys()].map((id) => [id, 0]));
try {
  for (const row of rows) {
    if (row.spec.reason) {
      console.log(`${row.spec.label}: skipped — ${row.spec.reason}`);
      continue;
    }
    running.set(row.id, await start(row.spec, iterations));
    runs.set(row.id, []);
  }
  // Scrapes, interleaved in batches of 10 after 20 to warm up, on idle servers.
  for (const id of scrapes.keys()) {
    const r = running.get(id);
    if (r) await scrapeTimes(r.metricsPort, 20);
  }
  for (let batch = 0; batch < SCRAPES / 10; batch++)
    for (const [id, times] of scrapes) {
      const r = running.get(id);
      if (!r) continue;
      const cpu0 = cpuSeconds(/** @type {number} */ (r.child.pid));
      times.push(...(await scrapeTimes(r.metricsPort, 10)));
      scrapeCpuS.set(id, (scrapeCpuS.get(id) ?? 0) + cpuSeconds(/** @type {number} */ (r.child.pid)) - cpu0);
    }
  const order = [...running.keys()];
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < order.length; k++) {
      const id = /** @type {string} */ (order[(k + round) % order.length]);
      const r = /** @type {import('./http/harness.js').Running} */ (running.get(id));
      const pid = /** @type {number} */ (r.child.pid);
      const cpu0 = cpuSeconds(pid);
      const run = runLoad(r.port, mix, Math.min(2000, (durationS * 1000) / 3));
      run.serverCpuS = cpuSeconds(pid) - cpu0;
      runs.get(id)?.push(run);
      console.log(
        `round ${round + 1} ${id.padEnd(20)} ${fmt(run.rps).padStart(6)} req/s  /io p99 steady ${fmt(run.routes['/io']?.p99SteadyMs)} ms  /cpu p99 ${fmt(run.routes['/cpu']?.p99Ms)} ms`,
      );
    }
  }
} finally {
  for (const r of running.values()) await stop(r.child);
}

const results = rows.map((row) => {
  const measured = runs.get(row.id);
  return measured
    ? { id: row.id, label: row.spec.label, app: row.app, layout: row.layout, mix: summarise(measured) }
    : { id: row.id, label: row.spec.label, app: row.app, layout: row.layout, skipped: row.spec.reason };
});
const byId = (/** @type {string} */ id) => results.find((r) => r.id === id)?.mix;
const med = (/** @type {{ median: number } | null | undefined} */ s) => s?.median ?? Number.NaN;
const range = (/** @type {{ median: number, min: number, max: number } | null | undefined} */ s) =>
  s ? `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})` : '—';

const single = byId('run-inline');
const two = byId('workers-2-inline');
const gunicorn = byId('gevent-2');
const scrapeOne = median(/** @type {number[]} */ (scrapes.get('run-inline')));
const scrapeTwo = median(/** @type {number[]} */ (scrapes.get('workers-2-inline')));
const layouts = ['workers-1-threads-2', 'workers-2-threads-1', 'workers-2-inline'];
const loadAfter = loadavg();

/** @type {any[]} */
const cases = [
  {
    name: '80/20 mix req/s: CPU-inline app, --workers 2 against one process',
    unit: 'req/s',
    greenhub: med(two?.rps),
    baseline: med(single?.rps),
    baselineName: 'the same app, one process under greenhub run',
    ratio: med(two?.rps) / med(single?.rps),
    target: '> 1× with 2 cores',
    met: med(two?.rps) > med(single?.rps),
  },
];
if (gunicorn)
  cases.push(
    {
      name: '80/20 mix req/s: CPU-inline app, --workers 2 against gunicorn -k gevent -w 2',
      unit: 'req/s',
      greenhub: med(two?.rps),
      baseline: med(gunicorn.rps),
      baselineName: 'gunicorn -k gevent -w 2',
      ratio: med(two?.rps) / med(gunicorn.rps),
      target: '≥ 1×',
      met: med(two?.rps) >= med(gunicorn.rps),
    },
    {
      name: '80/20 mix /io p99 steady: same rows',
      unit: 'ms',
      greenhub: med(two?.io.p99SteadyMs),
      baseline: med(gunicorn.io.p99SteadyMs),
      baselineName: 'gunicorn -k gevent -w 2',
      ratio: med(gunicorn.io.p99SteadyMs) / med(two?.io.p99SteadyMs),
      target: '≤ gunicorn’s',
      met: med(two?.io.p99SteadyMs) <= med(gunicorn.io.p99SteadyMs),
    },
  );
cases.push({
  name: 'one /metrics scrape, 2 workers combined over IPC: median',
  unit: 'ms',
  greenhub: scrapeTwo,
  baseline: scrapeOne,
  baselineName: 'one process under greenhub run',
  ratio: scrapeOne / scrapeTwo,
  target: '≤ 2× a single process’s',
  met: scrapeTwo <= 2 * scrapeOne,
});

const label = (/** @type {string | undefined} */ id) => rows.find((r) => r.id === id)?.layout ?? id;
const ratio = (/** @type {number} */ a, /** @type {number} */ b) => `${(a / b).toFixed(2)}×`;
writeResults('workers', {
  command: `node bench/workers.js --rounds ${rounds} --duration ${durationS}${process.argv.includes('--iterations') ? ` --iterations ${iterations}` : ''}`,
  iterations,
  loadAverage: { before: loadBefore, after: loadAfter },
  servers: results,
  scrapes: Object.fromEntries(
    [...scrapes].map(([id, times]) => [id, { ms: times, cpuS: scrapeCpuS.get(id) }]),
  ),
  cases,
  notes: [
    `80/20 mix of /io (20 ms wait) and /cpu (pbkdf2 × ${iterations}, about 20 ms), 50 keep-alive connections from bench/http/load.js in a process of its own; ${rounds} rounds of ${durationS} s per server, interleaved (every server up throughout, the order rotated each round); median (min–max) over the rounds; p99 steady leaves out each run's first ${fmt(Math.min(2, durationS / 3))} s. Load average (1, 5, 15 min) before: ${loadBefore.map((l) => l.toFixed(2)).join(', ')}; after: ${loadAfter.map((l) => l.toFixed(2)).join(', ')} (other engineers' work shares these 2 cores).`,
    '',
    '| server | app | req/s | /io p99 steady ms | /cpu p99 ms | errors | server CPU s |',
    '|---|---|---|---|---|---|---|',
    ...results.map((r) =>
      r.mix
        ? `| ${r.layout} | ${r.app} | ${range(r.mix.rps)} | ${range(r.mix.io.p99SteadyMs)} | ${range(r.mix.cpu.p99Ms)} | ${r.mix.errors} | ${range(r.mix.serverCpuS)} |`
        : `| ${r.layout} | ${r.app} | skipped: ${r.skipped} | | | | |`,
    ),
    '',
    `Layouts of 2 cores, against ${label(layouts[0])}: ${layouts
      .slice(1)
      .map(
        (id) =>
          `${label(id)} ${ratio(med(byId(id)?.rps), med(byId(layouts[0])?.rps))} the req/s and ${ratio(med(byId(id)?.io.p99SteadyMs), med(byId(layouts[0])?.io.p99SteadyMs))} the /io p99 steady`,
      )
      .join(
        '; ',
      )}. --threads sizes each worker's default pool; the CPU-inline rows never use theirs. Scrapes: ${SCRAPES} of each server, interleaved in batches of 10, on idle servers; CPU time per scrape, all of the server's processes (does not count waiting for a core): ${fmt(((scrapeCpuS.get('workers-2-inline') ?? 0) * 1000) / SCRAPES)} ms with 2 workers, ${fmt(((scrapeCpuS.get('run-inline') ?? 0) * 1000) / SCRAPES)} ms for one process (/proc's 10 ms ticks, summed over ${SCRAPES} scrapes).`,
  ],
});
console.log('wrote bench/results/workers.json');
