// The headline benchmark (issue 7): one workload, several servers, run in turn.
//
//   npm run bench:http                      3 repetitions of every phase, 10 s each (about 20 min)
//   node bench/http/run.js --reps 1 --duration 3     a quick sanity run
//   node bench/http/run.js --only plain-inline,greenhub-offload
//
// Servers: plain node:http with the CPU inline; plain node:http with raw piscina (2 threads);
// greenhub demo --mode offload and --mode hybrid (2 threads; and hybrid with --nice 0); gunicorn -k gevent with 1 and 2
// workers when Debian's python3-gevent and gunicorn are installed. /io waits 20 ms; /cpu runs the
// same pbkdf2 work everywhere, calibrated once at the start to about 20 ms here.
//
// Writes bench/results/http.json and bench/http-io-p99.svg; `node bench/run.js --render` puts the
// table in bench/RESULTS.md. Every server it starts is stopped (its whole process group) at the end.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fmt, freePort, geventPython, machine, median, writeResults } from '../lib.js';
import { calibrate } from './servers/work.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const here = fileURLToPath(new URL('.', import.meta.url));
const arg = (/** @type {string} */ name, /** @type {string} */ fallback) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : (process.argv[i + 1] ?? fallback);
};
const reps = Number(arg('--reps', '3'));
const durationS = Number(arg('--duration', '10'));
const only = arg('--only', '').split(',').filter(Boolean);

/** Phases: connection groups, duration, and what they measure. */
const phases = [
  { id: 'io', title: '/io alone', groups: [{ connections: 50, routes: { '/io': 1 } }], durationS },
  {
    id: 'io+cpu',
    title: '40 connections on /io + 10 on /cpu',
    groups: [
      { connections: 40, routes: { '/io': 1 } },
      { connections: 10, routes: { '/cpu': 1 } },
    ],
    durationS,
  },
  {
    id: 'mix',
    title: '80/20 mix of /io and /cpu',
    groups: [{ connections: 50, routes: { '/io': 80, '/cpu': 20 } }],
    durationS,
  },
  {
    id: 'fairness',
    title: '2 keep-alive clients on /cpu',
    groups: [{ connections: 2, routes: { '/cpu': 1 } }],
    durationS: Math.max(1, durationS / 2),
  },
];

const cli = `${root}dist/cli/main.js`;
const gevent = geventPython();
const gunicorn = ['/usr/bin/gunicorn', '/usr/local/bin/gunicorn'].find((p) => existsSync(p));
const geventReason = !gevent.python
  ? gevent.label
  : !gunicorn
    ? 'gunicorn not installed (apt-get install gunicorn)'
    : null;

/**
 * @typedef {{ id: string, label: string, reason: string | null, command: (port: number, iterations: number) => { file: string, args: string[], env?: Record<string, string> } }} ServerSpec
 * @type {ServerSpec[]}
 */
const servers = [
  {
    id: 'plain-inline',
    label: 'plain node:http, CPU inline',
    reason: null,
    command: (port, iterations) => ({
      file: process.execPath,
      args: [`${here}servers/plain-inline.js`],
      env: { PORT: String(port), ITERATIONS: String(iterations) },
    }),
  },
  {
    id: 'plain-piscina',
    label: 'plain node:http + raw piscina, 2 threads',
    reason: null,
    command: (port, iterations) => ({
      file: process.execPath,
      args: [`${here}servers/plain-piscina.js`],
      env: { PORT: String(port), ITERATIONS: String(iterations) },
    }),
  },
  // The demo as shipped (pool threads at nice 10), and hybrid at the hub's priority (--nice 0) to
  // show what the lower thread priority buys.
  ...[
    { mode: 'offload', nice: 10 },
    { mode: 'hybrid', nice: 10 },
    { mode: 'hybrid', nice: 0 },
  ].map(({ mode, nice }) => ({
    id: `greenhub-${mode}${nice === 10 ? '' : `-nice${nice}`}`,
    label: `greenhub demo --mode ${mode}${nice === 10 ? '' : ` --nice ${nice}`}, 2 threads`,
    reason: existsSync(cli) ? null : 'the greenhub CLI is not built (npm run build)',
    command: (/** @type {number} */ port, /** @type {number} */ iterations) => ({
      file: process.execPath,
      args: [
        cli,
        'demo',
        '--mode',
        mode,
        '--nice',
        String(nice),
        '--threads',
        '2',
        '--port',
        String(port),
        '--io',
        'timer',
        '--cpu-iterations',
        String(iterations),
        '--quiet',
      ],
    }),
  })),
  ...[1, 2].map((workers) => ({
    id: `gevent-${workers}`,
    label: `gunicorn -k gevent, ${workers} worker${workers > 1 ? 's' : ''}`,
    reason: geventReason,
    command: (/** @type {number} */ port, /** @type {number} */ iterations) => ({
      file: /** @type {string} */ (gunicorn),
      args: [
        '-k',
        'gevent',
        '-w',
        String(workers),
        '-b',
        `127.0.0.1:${port}`,
        '--chdir',
        `${here}servers`,
        '--log-level',
        'warning',
        'gevent_app:app',
      ],
      env: { ITERATIONS: String(iterations) },
    }),
  })),
];

const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU seconds (user + system) used so far by `pid` and all its descendants. */
function cpuSeconds(/** @type {number} */ pid) {
  /** @type {Map<number, number[]>} */
  const children = new Map();
  /** @type {Map<number, number>} */
  const cpu = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(fields[1]);
      cpu.set(Number(entry), (Number(fields[11]) + Number(fields[12])) / ticks);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // the process ended meanwhile
    }
  }
  let total = 0;
  const stack = [pid];
  while (stack.length) {
    const p = /** @type {number} */ (stack.pop());
    total += cpu.get(p) ?? 0;
    stack.push(...(children.get(p) ?? []));
  }
  return total;
}

async function waitUntilServing(
  /** @type {number} */ port,
  /** @type {import('node:child_process').ChildProcess} */ child,
) {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode} before serving`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/io`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('server did not answer /io within 20 s');
}

async function stop(/** @type {import('node:child_process').ChildProcess} */ child) {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(-child.pid, 'SIGTERM');
  const timer = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

function runLoad(/** @type {number} */ port, /** @type {typeof phases[number]} */ phase) {
  const spec = {
    url: `http://127.0.0.1:${port}`,
    durationMs: phase.durationS * 1000,
    warmupMs: 2000,
    groups: phase.groups,
  };
  const out = execFileSync(process.execPath, [`${here}load.js`, JSON.stringify(spec)], {
    encoding: 'utf8',
    timeout: (phase.durationS + 60) * 1000,
  });
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}');
}

/** Median with min–max of a figure over the repetitions. */
function spread(/** @type {(number | null)[]} */ values) {
  const v = /** @type {number[]} */ (values.filter((x) => x !== null && x !== undefined));
  return v.length ? { median: median(v), min: Math.min(...v), max: Math.max(...v) } : null;
}

const iterations = calibrate(20);
console.log(`pbkdf2 iterations for ~20 ms of CPU here: ${iterations}`);
/** @type {any[]} */
const results = [];
const live = new Set();
process.on('SIGINT', async () => {
  for (const child of live) await stop(child);
  process.exit(130);
});

for (const server of servers) {
  if (only.length && !only.includes(server.id)) continue;
  if (server.reason) {
    console.log(`\n== ${server.label}: skipped — ${server.reason}`);
    results.push({ id: server.id, label: server.label, skipped: server.reason });
    continue;
  }
  console.log(`\n== ${server.label}`);
  const port = /** @type {number} */ (await freePort());
  const { file, args, env } = server.command(port, iterations);
  const child = spawn(file, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
    detached: true,
  });
  live.add(child);
  /** @type {Record<string, any>} */
  const byPhase = {};
  try {
    await waitUntilServing(port, child);
    for (const phase of phases) {
      /** @type {any[]} */
      const runs = [];
      for (let rep = 0; rep < reps; rep++) {
        const cpu0 = cpuSeconds(/** @type {number} */ (child.pid));
        const run = runLoad(port, phase);
        run.serverCpuS = cpuSeconds(/** @type {number} */ (child.pid)) - cpu0;
        runs.push(run);
      }
      const route = (/** @type {string} */ r, /** @type {string} */ k) =>
        spread(runs.map((run) => run.routes[r]?.[k] ?? null));
      byPhase[phase.id] = {
        rps: spread(runs.map((r) => r.rps)),
        io: {
          rps: route('/io', 'rps'),
          p50Ms: route('/io', 'p50Ms'),
          p99Ms: route('/io', 'p99Ms'),
          p99SteadyMs: route('/io', 'p99SteadyMs'),
        },
        cpu: {
          rps: route('/cpu', 'rps'),
          p50Ms: route('/cpu', 'p50Ms'),
          p99Ms: route('/cpu', 'p99Ms'),
          p99SteadyMs: route('/cpu', 'p99SteadyMs'),
        },
        errors: runs.reduce(
          (n, r) => n + Object.values(r.routes).reduce((m, x) => m + /** @type {any} */ (x).errors, 0),
          0,
        ),
        serverCpuS: spread(runs.map((r) => r.serverCpuS)),
      };
      const p = byPhase[phase.id];
      console.log(
        `  ${phase.title.padEnd(38)} ${fmt(p.rps?.median).padStart(6)} req/s  /io p99 ${fmt(p.io.p99Ms?.median)} ms (steady ${fmt(p.io.p99SteadyMs?.median)})  /cpu p99 ${fmt(p.cpu.p99Ms?.median)} ms  cpu ${fmt(p.serverCpuS?.median)} s`,
      );
    }
  } catch (error) {
    console.log(`  failed: ${/** @type {Error} */ (error).message}`);
    byPhase.failed = /** @type {Error} */ (error).message;
  } finally {
    await stop(child);
    live.delete(child);
  }
  results.push({ id: server.id, label: server.label, phases: byPhase });
}

writeResults('http', {
  command: `node bench/http/run.js --reps ${reps} --duration ${durationS}`,
  gevent: gevent.label,
  iterations,
  phases: phases.map(({ id, title, durationS: d, groups }) => ({
    id,
    title,
    durationS: d,
    connections: groups.reduce((n, g) => n + g.connections, 0),
  })),
  servers: results,
  machineInfo: machine(),
});
writeFileSync(`${here}../http-io-p99.svg`, chart(results));
console.log('\nwrote bench/results/http.json and bench/http-io-p99.svg');

/**
 * A horizontal bar chart (log scale) of /io p99 (steady) under CPU load, per server: one bar for
 * "40 on /io + 10 on /cpu", one for the 80/20 mix. Plain SVG, no charting dependency.
 * @param {any[]} rows
 */
function chart(rows) {
  const measured = rows.filter((r) => r.phases && !r.phases.failed);
  const bars = measured.flatMap((r) => [
    { server: r.label, phase: '40 /io + 10 /cpu', ms: r.phases['io+cpu']?.io.p99SteadyMs?.median },
    { server: r.label, phase: '80/20 mix', ms: r.phases.mix?.io.p99SteadyMs?.median },
  ]);
  const width = 760;
  const left = 260;
  const barH = 14;
  const rowH = 2 * barH + 14;
  const top = 50;
  const height = top + measured.length * rowH + 40;
  const minMs = 10;
  const maxMs = 10_000;
  const x = (/** @type {number} */ ms) =>
    left + ((Math.log10(Math.max(minMs, ms)) - 1) / (Math.log10(maxMs) - 1)) * (width - left - 30);
  const esc = (/** @type {string} */ s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<title>/io p99 latency (steady) per server while /cpu is loaded</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="20" font-size="14" font-weight="bold">/io p99 latency (steady) while /cpu is loaded — lower is better</text>`,
    `<rect x="${left}" y="30" width="10" height="10" fill="#4c78a8"/><text x="${left + 14}" y="39">40 connections on /io + 10 on /cpu</text>`,
    `<rect x="${left + 250}" y="30" width="10" height="10" fill="#f58518"/><text x="${left + 264}" y="39">80/20 mix</text>`,
  ];
  for (const tick of [10, 30, 100, 300, 1000, 3000, 10000]) {
    const tx = x(tick);
    parts.push(`<line x1="${tx}" y1="${top - 4}" x2="${tx}" y2="${height - 36}" stroke="#ddd"/>`);
    parts.push(
      `<text x="${tx}" y="${height - 20}" text-anchor="middle">${tick >= 1000 ? `${tick / 1000} s` : `${tick} ms`}</text>`,
    );
  }
  measured.forEach((row, i) => {
    const y = top + i * rowH;
    parts.push(`<text x="${left - 8}" y="${y + barH + 4}" text-anchor="end">${esc(row.label)}</text>`);
    bars
      .filter((b) => b.server === row.label)
      .forEach((b, j) => {
        if (b.ms === undefined || b.ms === null) return;
        const by = y + j * barH;
        parts.push(
          `<rect x="${left}" y="${by}" width="${Math.max(1, x(b.ms) - left)}" height="${barH - 2}" fill="${j === 0 ? '#4c78a8' : '#f58518'}"/>`,
        );
        parts.push(
          `<text x="${x(b.ms) + 4}" y="${by + barH - 4}">${b.ms >= 1000 ? `${(b.ms / 1000).toFixed(2)} s` : `${b.ms.toFixed(1)} ms`}</text>`,
        );
      });
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
