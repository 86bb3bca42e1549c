// Metrics and monitoring costs (issue 5): `node bench/metrics.js [--reps N]`.
//
// - scrape time of /metrics with every collector at 10k live greenlets (in one process);
// - metrics on vs off on the spawn/join and queue shapes, and the blocking monitor's heartbeat on
//   vs off on spawn/join: each measurement a fresh process (`node bench/metrics.js child <case>
//   <on|off>`), on and off interleaved, medians kept.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { fmt, median, writeResults } from './lib.js';

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

async function scrapeCase(/** @type {boolean} */ defaults) {
  const gh = await import('greenhub');
  const { collectMetrics, DurationRecorder, registerMetricsSource } = await import('greenhub/metrics');
  const client = (await import('prom-client')).default;
  const register = new client.Registry();
  const collection = collectMetrics({ register, defaultMetrics: defaults });
  // Durations for 50 names, a pool source and 10k live greenlets.
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
  for (let i = 0; i < 5; i++) await register.metrics();
  const times = [];
  for (let i = 0; i < 30; i++) {
    const t0 = performance.now();
    await register.metrics();
    times.push(performance.now() - t0);
  }
  ev.set();
  await gh.joinAll(gs);
  unregister();
  collection.close();
  return median(times);
}

if (mode === 'child') {
  await child();
} else {
  const reps = Number(process.argv[process.argv.indexOf('--reps') + 1]) || 5;
  const self = fileURLToPath(import.meta.url);
  const run = (/** @type {string} */ c, /** @type {string} */ v) =>
    JSON.parse(
      execFileSync(process.execPath, [self, 'child', c, v], { encoding: 'utf8', timeout: 120_000 })
        .trim()
        .split('\n')
        .at(-1) ?? '',
    ).value;
  const cases = [];
  const scrapeAll = await scrapeCase(true);
  const scrapeOwn = await scrapeCase(false);
  cases.push({
    name: '/metrics scrape, all collectors (prom-client defaults included), 10k live greenlets',
    unit: 'ms',
    greenhub: scrapeAll,
    baseline: scrapeOwn,
    baselineName: 'greenhub collectors only',
    ratio: scrapeAll / scrapeOwn,
    target: '≤ 5 ms',
    met: scrapeAll <= 5,
  });
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
      'On/off rows: each sample a fresh process, on and off interleaved, medians of the repetitions; a shared 2-core machine adds a few % of noise either way.',
    ],
  });
}
