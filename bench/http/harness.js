// The servers the HTTP benchmarks run and how they run them: one table of server commands, one way
// of starting a server and waiting until it serves, one load generator (load.js, in a process of
// its own), one way of stopping (the server's whole process group). bench/http/run.js (the
// headline) and bench/workers.js (greenhub run --workers) both use it.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort, geventPython, median } from '../lib.js';
import { cpuWork } from './servers/work.js';

export const root = fileURLToPath(new URL('../..', import.meta.url));
const here = fileURLToPath(new URL('.', import.meta.url));
const cli = `${root}dist/cli/main.js`;
const cliReason = existsSync(cli) ? null : 'the greenhub CLI is not built (npm run build)';
export const gevent = geventPython();
const gunicorn = ['/usr/bin/gunicorn', '/usr/local/bin/gunicorn'].find((p) => existsSync(p));
const geventReason = !gevent.python
  ? gevent.label
  : !gunicorn
    ? 'gunicorn not installed (apt-get install gunicorn)'
    : null;

/** The headline's phases: connection groups, and what they measure. */
export const phases = (/** @type {number} */ durationS) => [
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

/**
 * @typedef {{ port: number, metricsPort: number, iterations: number }} Ports
 * @typedef {{ file: string, args: string[], env?: Record<string, string> }} Command
 * @typedef {{ id: string, label: string, reason: string | null, workers?: number, headline?: false, command: (p: Ports) => Command }} ServerSpec
 *
 * `workers`: how many workers must listen before the server counts as up; `headline: false`: a row
 * of bench/workers.js only.
 */

/** A node:http app of servers/ run by plain Node. */
function plainNode(/** @type {string} */ app) {
  return (/** @type {Ports} */ { port, iterations }) => ({
    file: process.execPath,
    args: [`${here}servers/${app}`],
    env: { PORT: String(port), ITERATIONS: String(iterations) },
  });
}

/** A node:http app under `greenhub run [flags]`, its /metrics on `metricsPort`. */
function greenhubRun(/** @type {string} */ app, /** @type {string[]} */ flags) {
  return (/** @type {Ports} */ { port, metricsPort, iterations }) => ({
    file: process.execPath,
    args: [cli, 'run', '--metrics-port', String(metricsPort), ...flags, `${here}servers/${app}`],
    env: { PORT: String(port), ITERATIONS: String(iterations) },
  });
}

/** @type {ServerSpec[]} */
export const servers = [
  {
    id: 'plain-inline',
    label: 'plain node:http, CPU inline',
    reason: null,
    command: plainNode('plain-inline.js'),
  },
  {
    id: 'plain-piscina',
    label: 'plain node:http + raw piscina, 2 threads',
    reason: null,
    command: plainNode('plain-piscina.js'),
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
    reason: cliReason,
    command: (/** @type {Ports} */ { port, iterations }) => ({
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
  // The unmodified CPU-inline app under `greenhub run`: one process, then one per core.
  {
    id: 'run-inline',
    label: 'plain node:http, CPU inline, under greenhub run',
    reason: cliReason,
    headline: false,
    command: greenhubRun('plain-inline.js', []),
  },
  {
    id: 'workers-2-inline',
    label: 'plain node:http, CPU inline, greenhub run --workers 2',
    reason: cliReason,
    workers: 2,
    command: greenhubRun('plain-inline.js', ['--workers', '2']),
  },
  // The app that sends /cpu to the default pool, in the two layouts of two cores that use it.
  ...[
    { workers: 1, threads: 2 },
    { workers: 2, threads: 1 },
  ].map(({ workers, threads }) => ({
    id: `workers-${workers}-threads-${threads}`,
    label: `node:http + default pool, greenhub run --workers ${workers} --threads ${threads}`,
    reason: cliReason,
    workers,
    headline: /** @type {false} */ (false),
    command: greenhubRun('pool-offload.js', ['--workers', String(workers), '--threads', String(threads)]),
  })),
  ...[1, 2].map((workers) => ({
    id: `gevent-${workers}`,
    label: `gunicorn -k gevent, ${workers} worker${workers > 1 ? 's' : ''}`,
    reason: geventReason,
    command: (/** @type {Ports} */ { port, iterations }) => ({
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

/**
 * The pbkdf2 iteration count for `targetMs` of CPU time per /cpu request, measured in CPU time
 * (process.cpuUsage), not wall time: on a machine whose cores other work shares, wall time counts
 * the waits for a core too and would make /cpu lighter the busier the machine is.
 */
export function calibrate(targetMs = 20) {
  const probe = 20_000;
  cpuWork(probe);
  let fastest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 7; i++) {
    const before = process.cpuUsage();
    cpuWork(probe);
    const used = process.cpuUsage(before);
    fastest = Math.min(fastest, (used.user + used.system) / 1000);
  }
  return Math.max(1, Math.round(targetMs / (fastest / probe)));
}

/** The spec of server `id`. */
export function server(/** @type {string} */ id) {
  const spec = servers.find((s) => s.id === id);
  if (!spec) throw new Error(`no server ${JSON.stringify(id)} in bench/http/harness.js`);
  return spec;
}

const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU seconds (user + system) used so far by `pid` and all its descendants. */
export function cpuSeconds(/** @type {number} */ pid) {
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

/**
 * @typedef {{ spec: ServerSpec, child: import('node:child_process').ChildProcess, port: number, metricsPort: number }} Running
 */

/**
 * Start `spec` in a process group of its own on free ports; resolves once /io answers and, under
 * `--workers N`, once all N workers listen (the primary's `worker i (pid …) listening` lines).
 * @returns {Promise<Running>}
 */
export async function start(/** @type {ServerSpec} */ spec, /** @type {number} */ iterations) {
  const [port, metricsPort] = [await freePort(), await freePort()];
  const { file, args, env } = spec.command({ port, metricsPort, iterations });
  const child = spawn(file, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  // The server's stderr (greenhub's lines: workers listening, blocking calls, shutdown) is kept,
  // and shown only if it fails to start.
  let log = '';
  child.stderr?.on('data', (/** @type {Buffer} */ chunk) => {
    log += chunk;
  });
  const listening = () => log.match(/worker \d+ \(pid \d+\) listening/g)?.length ?? 0;
  const fail = (/** @type {string} */ why) =>
    new Error(`${spec.id} ${why}${log ? `; it said:\n${log.slice(-2000)}` : ''}`);
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw fail(`exited with ${child.exitCode} before serving`);
    if (Date.now() > deadline) {
      await stop(child);
      throw fail('did not serve /io within 30 s');
    }
    try {
      if ((await fetch(`http://127.0.0.1:${port}/io`)).ok && listening() >= (spec.workers ?? 0))
        return { spec, child, port, metricsPort };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Stop a server: SIGTERM to its process group, SIGKILL after 15 s. */
export async function stop(/** @type {import('node:child_process').ChildProcess} */ child) {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(-child.pid, 'SIGTERM');
  const timer = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** One load phase from load.js in a process of its own; its JSON line. */
export function runLoad(
  /** @type {number} */ port,
  /** @type {{ durationS: number, groups: object[] }} */ phase,
  warmupMs = 2000,
) {
  const spec = {
    url: `http://127.0.0.1:${port}`,
    durationMs: phase.durationS * 1000,
    warmupMs,
    groups: phase.groups,
  };
  const out = execFileSync(process.execPath, [`${here}load.js`, JSON.stringify(spec)], {
    encoding: 'utf8',
    timeout: (phase.durationS + 60) * 1000,
  });
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}');
}

/** Median with min–max of a figure over the repetitions. */
export function spread(/** @type {(number | null | undefined)[]} */ values) {
  const v = /** @type {number[]} */ (values.filter((x) => x !== null && x !== undefined));
  return v.length ? { median: median(v), min: Math.min(...v), max: Math.max(...v) } : null;
}

/** One phase's figures over its repetitions' load.js results (and the server's CPU seconds). */
export function summarise(/** @type {any[]} */ runs) {
  const route = (/** @type {string} */ r, /** @type {string} */ k) =>
    spread(runs.map((run) => run.routes[r]?.[k] ?? null));
  const figures = (/** @type {string} */ r) => ({
    rps: route(r, 'rps'),
    p50Ms: route(r, 'p50Ms'),
    p99Ms: route(r, 'p99Ms'),
    p99SteadyMs: route(r, 'p99SteadyMs'),
  });
  return {
    rps: spread(runs.map((r) => r.rps)),
    io: figures('/io'),
    cpu: figures('/cpu'),
    errors: runs.reduce(
      (n, r) => n + Object.values(r.routes).reduce((m, x) => m + /** @type {any} */ (x).errors, 0),
      0,
    ),
    serverCpuS: spread(runs.map((r) => r.serverCpuS)),
  };
}
