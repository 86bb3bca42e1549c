// Metrics and monitoring costs (issue 5): `node bench/metrics.js [--reps N]`.
//
// - scrape time of /metrics with every collector at 10k live greenlets, wall and CPU, against
//   greenhub's collectors alone, each sample a fresh process (`node bench/metrics.js scrape
//   <on|own>`), interleaved; and what each of prom-client's default collectors adds;
// - metrics on vs off on the spawn/join and queue shapes, and the blocking monitor's heartbeat on
//   vs off on spawn/join: each measurement a fresh process (`node bench/metrics.js child <case>
//   <on|off>`), on and off interleaved, medians kept.
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { fmt, machine, median, writeResults } from './lib.js';

const [mode, caseName = '', variant = ''] = process.argv.slice(2);

/** Best-of-3 rate after a warm-up at a tenth of the size. */
async function rate(/** @type {(n: number) => Promise<void>} */ body, /** @type {number} */ n) {
  await body(Math.max(1, Math.floor(n / 10)));
  let best = 0;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await body(n);
    best = Math.max(best, n / ((performance.now() - t0) / 1000));
  }
  return best;
}

async function child() {
  const gh = await import('greenhub');
  const { collectMetrics } = await import('greenhub/metrics');
  const client = (await import('prom-client')).default;
  // 'on': collectMetrics() as shipped, prom-client's default metrics included; 'own': greenhub's
  // collectors alone (prom-client's defaults observe every GC, which allocation-heavy code feels).
  if (variant === 'on' && caseName !== 'heartbeat') collectMetrics({ register: new client.Registry() });
  if (variant === 'own') collectMetrics({ register: new client.Registry(), defaultMetrics: false });
  if (variant === 'on' && caseName === 'heartbeat') await gh.startBlockingMonitor({ print: false }).ready();
  const trivial = async () => {
    await null;
    return 1;
  };
  const spawnJoin = (/** @type {number} */ k) => {
    const gs = new Array(k);
    for (let i = 0; i < k; i++) gs[i] = gh.spawn(trivial);
    return gh.joinAll(gs).then(() => undefined);
  };
  const queue = async (/** @type {number} */ k) => {
    const q = new gh.Queue(100);
    const producer = gh.spawn(async () => {
      for (let i = 0; i < k; i++) await q.put(i);
    });
    const consumer = gh.spawn(async () => {
      for (let i = 0; i < k; i++) await q.get();
    });
    await gh.joinAll([producer, consumer]);
  };
  const value = caseName === 'queue' ? await rate(queue, 500_000) : await rate(spawnJoin, 100_000);
  console.log(JSON.stringify({ value }));
  await gh.getBlockingMonitor()?.stop();
  process.exit(0);
}

/**
 * One process's scrape cost: durations for 50 greenlet names, a pool source, 10k live greenlets;
 * 10 scrapes to warm up, then 40 timed, wall and CPU. `on`: prom-client's defaults too, and the CPU
 * each default collector adds to a scrape, rendered alone 50 times; `own`: greenhub's alone;
 * `flat`: as `on`, but greenhub's metrics rendered from `get()` (every label on every sample, as
 * before they kept a series' labels in prom-client 15's `sharedLabels`).
 */
async function scrapeChild(/** @type {'on' | 'own' | 'flat'} */ variant) {
  const defaults = variant !== 'own';
  const gh = await import('greenhub');
  const { collectMetrics, DurationRecorder, registerMetricsSource } = await import('greenhub/metrics');
  const client = (await import('prom-client')).default;
  const register = new client.Registry();
  const collection = collectMetrics({ register, defaultMetrics: defaults });
  if (variant === 'flat')
    for (const name of collection.names) {
      const m = /** @type {any} */ (register.getSingleMetric(name));
      register.removeSingleMetric(name);
      const { help, type, aggregator } = m;
      register.registerMetric(
        /** @type {any} */ ({ name, help, type, aggregator, get: () => m.get(), reset() {} }),
      );
    }
  for (let i = 0; i < 50; i++) {
    const g = gh.spawn(() => undefined);
    g.name = `task-${i}`;
    await g.join();
  }
  const wait = new DurationRecorder();
  for (let i = 0; i < 1000; i++) wait.observeMs(i % 50);
  const unregister = registerMetricsSource({
    kind: 'threadpool',
    name: 'default',
    metricsSnapshot: () => ({
      threads: { busy: 2, idle: 2 },
      queueSize: 0,
      tasks: { ok: 1000 },
      waitSeconds: wait.snapshot(),
      runSeconds: wait.snapshot(),
      maxThreads: 4,
    }),
  });
  const ev = new gh.Event();
  const gs = Array.from({ length: 10_000 }, () => gh.spawn(() => ev.wait()));
  await gh.sleep(0);
  await gh.sleep(0);
  if (gh.getHub().stats().greenlets.waiting < 10_000) throw new Error('greenlets not parked');
  for (let i = 0; i < 10; i++) await register.metrics();
  const wall = [];
  const cpu = [];
  for (let i = 0; i < 40; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await register.metrics();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  /** @type {Record<string, number>} */
  const defaultsMs = {};
  if (variant === 'on') {
    const own = new Set(collection.names);
    for (const m of register.getMetricsAsArray()) {
      if (own.has(m.name)) continue;
      const c0 = process.cpuUsage();
      for (let i = 0; i < 50; i++) await register.getSingleMetricAsString(m.name);
      const c = process.cpuUsage(c0);
      defaultsMs[m.name] = (c.user + c.system) / 1000 / 50;
    }
  }
  ev.set();
  await gh.joinAll(gs);
  unregister();
  collection.close();
  console.log(JSON.stringify({ wall: median(wall), cpu: median(cpu), defaultsMs }));
  process.exit(0);
}

if (mode === 'child') {
  await child();
} else if (mode === 'scrape') {
  await scrapeChild(/** @type {'on' | 'own' | 'flat'} */ (caseName));
} else {
  const reps = Number(process.argv[process.argv.indexOf('--reps') + 1]) || 5;
  const self = fileURLToPath(import.meta.url);
  const json = (/** @type {string[]} */ args) =>
    JSON.parse(
      execFileSync(process.execPath, [self, ...args], { encoding: 'utf8', timeout: 120_000 })
        .trim()
        .split('\n')
        .at(-1) ?? '',
    );
  const run = (/** @type {string} */ c, /** @type {string} */ v) => json(['child', c, v]).value;
  const cases = [];
  const loadBefore = loadavg()[0];
  // Scrape cost: a fresh process per sample, all collectors and greenhub's alone interleaved.
  /** @type {{ on: { wall: number, cpu: number, defaultsMs: Record<string, number> }[], own: { wall: number, cpu: number }[], flat: { wall: number, cpu: number }[] }} */
  const scrapes = { on: [], own: [], flat: [] };
  for (let i = 0; i < reps; i++) {
    scrapes.on.push(json(['scrape', 'on']));
    scrapes.own.push(json(['scrape', 'own']));
    scrapes.flat.push(json(['scrape', 'flat']));
  }
  const spread = (/** @type {number[]} */ v) => `${fmt(Math.min(...v))}–${fmt(Math.max(...v))}`;
  for (const [what, key] of [
    ['wall', 'wall'],
    ['CPU', 'cpu'],
  ]) {
    const on = scrapes.on.map((s) => s[/** @type {'wall' | 'cpu'} */ (key)]);
    const own = scrapes.own.map((s) => s[/** @type {'wall' | 'cpu'} */ (key)]);
    cases.push({
      name: `/metrics scrape at 10k live greenlets, all collectors (prom-client defaults included): ${what} time (medians of processes ${spread(on)} ms)`,
      unit: 'ms',
      greenhub: median(on),
      baseline: median(own),
      baselineName: `greenhub collectors only, ${spread(own)} ms`,
      ratio: median(on) / median(own),
      target: '≤ 5 ms',
      met: median(on) <= 5,
    });
  }
  {
    const on = scrapes.on.map((s) => s.cpu);
    const flat = scrapes.flat.map((s) => s.cpu);
    cases.push({
      name: "/metrics scrape at 10k live greenlets, all collectors: CPU time with series' labels shared vs on every sample",
      unit: 'ms',
      greenhub: median(on),
      baseline: median(flat),
      baselineName: `greenhub's metrics rendered from get(), every label on every sample, ${spread(flat)} ms`,
      ratio: median(on) / median(flat),
      target: '< 1× (the shared labels pay)',
      met: median(on) < median(flat),
    });
  }
  const loadAfter = loadavg()[0];
  const defaultsMs = Object.keys(scrapes.on[0]?.defaultsMs ?? {})
    .map(
      (name) =>
        /** @type {[string, number]} */ ([name, median(scrapes.on.map((s) => s.defaultsMs[name] ?? 0))]),
    )
    .sort((a, b) => b[1] - a[1]);
  const defaultsTotal = defaultsMs.reduce((a, [, v]) => a + v, 0);
  for (const [id, name, target, label, variant] of [
    ['spawn-join', 'spawn + joinAll 100k, metrics on vs off', 0.97, 'metrics off', 'on'],
    ['queue', 'Queue(100) put/get 500k, metrics on vs off', 0.97, 'metrics off', 'on'],
    [
      'queue',
      "Queue(100) put/get 500k, greenhub's collectors only (defaultMetrics: false) vs off",
      0.97,
      'metrics off',
      'own',
    ],
    ['heartbeat', 'spawn + joinAll 100k, blocking monitor on vs off', 0.99, 'monitor off', 'on'],
  ]) {
    /** @type {{ on: number[], off: number[] }} */
    const samples = { on: [], off: [] };
    for (let i = 0; i < reps; i++) {
      samples.off.push(run(String(id), 'off'));
      samples.on.push(run(String(id), String(variant)));
    }
    const on = median(samples.on);
    const off = median(samples.off);
    cases.push({
      name: String(name),
      unit: id === 'queue' ? 'items/s' : 'greenlets/s',
      greenhub: on,
      baseline: off,
      baselineName: String(label),
      ratio: on / off,
      target: `≥ ${target} × off (≤ ${Math.round((1 - Number(target)) * 100)}% cost)`,
      met: on / off >= Number(target),
    });
  }
  for (const c of cases)
    console.log(
      `${c.name.padEnd(84)} ${fmt(c.greenhub).padStart(8)} vs ${fmt(c.baseline).padStart(8)} ${c.unit.padEnd(12)} ${c.ratio.toFixed(3)}×  ${c.met ? 'met' : 'MISSED'} ${c.target}`,
    );
  writeResults('metrics', {
    command: `node bench/metrics.js --reps ${reps}`,
    reps,
    cases,
    notes: [
      `Scrape rows: 50 greenlet names with durations (~950 histogram lines), one pool, 10k greenlets parked; each process times 40 scrapes after 10 warm-ups and keeps the median; the row is the median over the processes (all collectors, greenhub-only and the every-label rendering interleaved), their spread in the name. Wall time includes being preempted: the machine's 1-minute load average was ${loadBefore.toFixed(1)} before the scrape rows and ${loadAfter.toFixed(1)} after them, on ${machine().cpus} CPUs.`,
      `prom-client's default collectors add ${fmt(defaultsTotal)} ms of CPU to a scrape (each rendered alone, 50 times, medians over the processes): ${defaultsMs
        .slice(0, 4)
        .map(([name, v]) => `${name} ${fmt(v)} ms`)
        .join(
          ', ',
        )}; the other ${defaultsMs.length - 4} together ${fmt(defaultsMs.slice(4).reduce((a, [, v]) => a + v, 0))} ms.`,
      `On/off rows: each sample a fresh process, on and off interleaved, medians of the repetitions; a shared 2-core machine adds a few % of noise either way, more under load (1-minute load average ${loadAfter.toFixed(1)} before these rows, ${loadavg()[0].toFixed(1)} after).`,
    ],
  });
}
