// `greenhub run --workers` (issue 13): an unmodified plain node:http app with the CPU inline
// (bench/http/servers/plain-inline.js) under `--workers 2` against `--workers 1`, with
// bench/http's load generator in a process of its own; and the time of one /metrics scrape with 2
// workers (gathered over IPC and combined) against a single process without --workers.
//
//   node bench/workers.js                       5 s per phase, 1 repetition
//   node bench/workers.js --duration 10 --reps 3
//
// Writes bench/results/workers.json (`node bench/run.js --render` puts it in RESULTS.md). Every
// server it starts is stopped (its whole process group) at the end.
import { execFileSync, spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { calibrate } from './http/servers/work.js';
import { fmt, freePort, median, writeResults } from './lib.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const arg = (/** @type {string} */ name, /** @type {string} */ fallback) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : (process.argv[i + 1] ?? fallback);
};
const reps = Number(arg('--reps', '1'));
const durationS = Number(arg('--duration', '5'));
const SCRAPES = 100;

/** Start `greenhub run [flags] plain-inline.js`; resolves once /io and /metrics answer. */
async function start(/** @type {string[]} */ flags, /** @type {number} */ iterations) {
  const [port, metricsPort] = [await freePort(), await freePort()];
  const child = spawn(
    process.execPath,
    [
      `${root}dist/cli/main.js`,
      'run',
      '--metrics-port',
      String(metricsPort),
      ...flags,
      `${root}bench/http/servers/plain-inline.js`,
    ],
    {
      cwd: root,
      env: { ...process.env, PORT: String(port), ITERATIONS: String(iterations) },
      stdio: 'ignore',
      detached: true,
    },
  );
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`greenhub run ${flags.join(' ')} exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error(`greenhub run ${flags.join(' ')} did not serve within 20 s`);
    try {
      if (
        (await fetch(`http://127.0.0.1:${port}/io`)).ok &&
        (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).ok
      )
        return { child, port, metricsPort };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stop(/** @type {import('node:child_process').ChildProcess} */ child) {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(-child.pid, 'SIGTERM');
  const timer = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** One load phase (bench/http/load.js): 40 connections on /io and 10 on /cpu. */
function load(/** @type {number} */ port) {
  const spec = {
    url: `http://127.0.0.1:${port}`,
    durationMs: durationS * 1000,
    warmupMs: Math.min(2000, (durationS * 1000) / 3),
    groups: [
      { connections: 40, routes: { '/io': 1 } },
      { connections: 10, routes: { '/cpu': 1 } },
    ],
  };
  const out = execFileSync(process.execPath, [`${root}bench/http/load.js`, JSON.stringify(spec)], {
    encoding: 'utf8',
    timeout: (durationS + 60) * 1000,
  });
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}');
}

/** Median ms of `SCRAPES` sequential scrapes, after 20 to warm up. */
async function scrapeMs(/** @type {number} */ metricsPort) {
  const url = `http://127.0.0.1:${metricsPort}/metrics`;
  for (let i = 0; i < 20; i++) await (await fetch(url)).text();
  const times = [];
  for (let i = 0; i < SCRAPES; i++) {
    const t0 = performance.now();
    await (await fetch(url)).text();
    times.push(performance.now() - t0);
  }
  return median(times);
}

const loadBefore = loadavg()[0];
const iterations = calibrate(20);
console.log(`pbkdf2 iterations for ~20 ms of CPU here: ${iterations}`);
/** @type {Record<string, { rps: number, ioP99Ms: number, cpuRps: number, errors: number, scrapeMs: number }>} */
const rows = {};
for (const [id, flags] of /** @type {[string, string[]][]} */ ([
  ['single', []],
  ['workers-1', ['--workers', '1']],
  ['workers-2', ['--workers', '2']],
])) {
  const server = await start(flags, iterations);
  try {
    const scrape = await scrapeMs(server.metricsPort);
    const runs = id === 'single' ? [] : Array.from({ length: reps }, () => load(server.port));
    const m = (/** @type {(r: any) => number} */ f) => (runs.length ? median(runs.map(f)) : Number.NaN);
    rows[id] = {
      rps: m((r) => r.rps),
      ioP99Ms: m((r) => r.routes['/io']?.p99SteadyMs),
      cpuRps: m((r) => r.routes['/cpu']?.rps),
      errors: runs.reduce(
        (n, r) => n + Object.values(r.routes).reduce((k, x) => k + /** @type {any} */ (x).errors, 0),
        0,
      ),
      scrapeMs: scrape,
    };
    const r = rows[id];
    console.log(
      `${id.padEnd(10)} req/s ${fmt(r.rps)}  /cpu req/s ${fmt(r.cpuRps)}  /io p99 steady ${fmt(r.ioP99Ms)} ms  errors ${r.errors}  scrape ${fmt(scrape)} ms`,
    );
  } finally {
    await stop(server.child);
  }
}

const one = /** @type {NonNullable<typeof rows[string]>} */ (rows['workers-1']);
const two = /** @type {NonNullable<typeof rows[string]>} */ (rows['workers-2']);
const single = /** @type {NonNullable<typeof rows[string]>} */ (rows.single);
writeResults('workers', {
  command: `node bench/workers.js --reps ${reps} --duration ${durationS}`,
  iterations,
  cases: [
    {
      name: 'req/s, 40 connections on /io + 10 on /cpu (CPU inline)',
      unit: 'req/s',
      greenhub: two.rps,
      baseline: one.rps,
      baselineName: '--workers 1',
      ratio: two.rps / one.rps,
      target: '> 1× with 2 cores',
      met: two.rps > one.rps,
    },
    {
      name: '/io p99 (steady), same phase',
      unit: 'ms',
      greenhub: two.ioP99Ms,
      baseline: one.ioP99Ms,
      baselineName: '--workers 1',
      ratio: one.ioP99Ms / two.ioP99Ms,
      target: 'below --workers 1',
      met: two.ioP99Ms < one.ioP99Ms,
    },
    {
      name: 'one /metrics scrape, 2 workers combined over IPC: median',
      unit: 'ms',
      greenhub: two.scrapeMs,
      baseline: single.scrapeMs,
      baselineName: 'one process without --workers',
      ratio: single.scrapeMs / two.scrapeMs,
      target: '≤ 2× a single process’s',
      met: two.scrapeMs <= 2 * single.scrapeMs,
    },
  ],
  notes: [
    `Machine load average before the run: ${loadBefore.toFixed(2)} (1 min); with other work on the cores, what a second worker can win shrinks to nothing.`,
    `Load: bench/http/load.js in its own process; /cpu is pbkdf2 × ${iterations} inline on the event loop; errors: ${one.errors} (1 worker), ${two.errors} (2 workers). --workers 1 serves its /metrics through the primary too (${fmt(one.scrapeMs)} ms).`,
  ],
});
console.log('wrote bench/results/workers.json');
