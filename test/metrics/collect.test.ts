import client from 'prom-client';
import client14 from 'prom-client-14';
import { afterEach, describe, expect, it } from 'vitest';
import {
  beginOperation,
  DeadlockError,
  Event,
  GreenletExit,
  getHub,
  InvalidStateError,
  sleep,
  spawn,
  startBlockingMonitor,
} from '../../src/index.js';
import {
  collectMetrics,
  DurationRecorder,
  type MetricsCollection,
  metricNames,
  registerMetricsSource,
  startMetricsServer,
  type ThreadPoolMetricsSnapshot,
} from '../../src/metrics/index.js';
import { PlacementRecorder } from '../../src/metrics/placements.js';
import { TaskDurations } from '../../src/metrics/task-durations.js';
import { captureErrors } from '../helpers.js';
import { type PromFamily, parsePrometheusText, sampleTotal, sampleValue } from './prom-text.js';

let open: MetricsCollection[] = [];
const cleanups: (() => void)[] = [];

function collect(opts?: Parameters<typeof collectMetrics>[0]): {
  register: client.Registry;
  collection: MetricsCollection;
} {
  const register = (opts?.register as client.Registry | undefined) ?? new client.Registry();
  const collection = collectMetrics({ ...opts, register });
  open.push(collection);
  return { register, collection };
}

async function scrape(register: client.Registry): Promise<Map<string, PromFamily>> {
  return parsePrometheusText(await register.metrics());
}

afterEach(() => {
  for (const c of open) c.close();
  open = [];
  for (const f of cleanups.splice(0)) f();
  captureErrors.restore();
});

const EXPECTED: Record<string, [type: string, labels: string[]]> = {
  greenhub_greenlets: ['gauge', ['state']],
  greenhub_greenlets_spawned_total: ['counter', []],
  greenhub_greenlets_finished_total: ['counter', ['outcome']],
  greenhub_greenlet_duration_seconds: ['histogram', ['name']],
  greenhub_hub_blocked_seconds_total: ['counter', ['api', 'name']],
  greenhub_hub_blocking_events_total: ['counter', []],
  greenhub_loop_delay_seconds: ['histogram', []],
  greenhub_loop_busy_seconds_total: ['counter', []],
  greenhub_loop_utilization_ratio: ['gauge', []],
  greenhub_patched_operations: ['gauge', ['kind']],
  greenhub_loop_exits_total: ['counter', []],
  greenhub_deadlocks_total: ['counter', []],
  greenhub_threadpool_threads: ['gauge', ['pool', 'state']],
  greenhub_threadpool_queue_size: ['gauge', ['pool']],
  greenhub_threadpool_tasks_total: ['counter', ['pool', 'outcome']],
  greenhub_threadpool_wait_seconds: ['histogram', ['pool', 'task']],
  greenhub_threadpool_run_seconds: ['histogram', ['pool', 'task']],
  greenhub_threadpool_busy_seconds_total: ['counter', ['pool']],
  greenhub_threadpool_max_threads: ['gauge', ['pool']],
  greenhub_hybrid_placements_total: ['counter', ['task', 'placement']],
  greenhub_hybrid_estimate_seconds: ['histogram', ['task', 'placement']],
};

function fakePool(name: string, overrides: Partial<ThreadPoolMetricsSnapshot> = {}): () => void {
  const wait = new DurationRecorder();
  wait.observeMs(0.2);
  wait.observeMs(4);
  wait.observeMs(70_000);
  const run = new DurationRecorder([0.01, 0.1]);
  run.observeMs(50);
  const placements = new PlacementRecorder();
  for (let i = 0; i < 5; i++) placements.count('inline', 0.2);
  placements.count('thread', null);
  placements.count('thread', 3);
  const unregister = registerMetricsSource({
    kind: 'threadpool',
    name,
    metricsSnapshot: () => ({
      threads: { busy: 3, idle: 1 },
      queueSize: 7,
      tasks: { ok: 10, error: 2, cancelled: 1 },
      waitSeconds: wait.snapshot(),
      runSeconds: run.snapshot(),
      maxThreads: 4,
      hybrid: { resize: placements.snapshot() },
      ...overrides,
    }),
  });
  cleanups.push(unregister);
  return unregister;
}

describe('collectMetrics(): the exposition', () => {
  it('registers every metric greenhub documents with its type, labels and base unit, plus prom-client defaults; it parses as Prometheus text', async () => {
    fakePool('default');
    const { register, collection } = collect();
    await spawn(() => 1).join();
    const families = await scrape(register);
    for (const [name, [type, labels]] of Object.entries(EXPECTED)) {
      const family = families.get(name);
      expect(family?.type, name).toBe(type);
      expect(family?.help.length, name).toBeGreaterThan(10);
      const sample = family?.samples.find((s) => s.name === name || s.name === `${name}_bucket`);
      expect(sample, name).toBeDefined();
      const own = Object.keys(sample!.labels).filter((l) => l !== 'le');
      expect(own.sort(), name).toEqual([...labels].sort());
    }
    for (const name of Object.values(metricNames)) expect(collection.names).toContain(name);
    for (const name of collection.names) expect(families.has(name), name).toBe(true);
    expect(families.get('process_cpu_user_seconds_total')?.type).toBe('counter');
    expect(families.get('nodejs_heap_size_used_bytes')?.type).toBe('gauge');
    // Base units and conventions.
    for (const [name, f] of families) {
      if (!name.startsWith('greenhub_')) continue;
      if (f.type === 'counter') expect(name).toMatch(/_total$/);
      if (f.type === 'histogram' || f.type === 'summary') expect(name).toMatch(/_seconds$/);
    }
    expect([...families.get('greenhub_patched_operations')!.samples.map((s) => s.labels.kind)]).toEqual(
      expect.arrayContaining(['timer', 'fetch', 'net', 'fs', 'dns', 'child']),
    );
  });

  it('greenlet gauges and counters move as greenlets spawn, wait, finish, fail and are killed', async () => {
    const reported = captureErrors.install();
    const { register } = collect();
    const before = await scrape(register);
    const ev = new Event();
    const waiting = Array.from({ length: 5 }, () => spawn(() => ev.wait()));
    const scheduled = spawn(() => 1);
    let f = await scrape(register);
    expect(sampleValue(f, 'greenhub_greenlets', { state: 'scheduled' })).toBe(6);
    await sleep(0);
    f = await scrape(register);
    expect(sampleValue(f, 'greenhub_greenlets', { state: 'waiting' })).toBe(5);
    expect(sampleValue(f, 'greenhub_greenlets', { state: 'scheduled' })).toBe(0);
    expect(scheduled.dead).toBe(true);
    await waiting[0]!.kill();
    const failing = spawn(() => {
      throw new Error('boom');
    });
    await failing.join();
    ev.set();
    for (const g of waiting) await g.join();
    await sleep(0);
    f = await scrape(register);
    const delta = (name: string, labels?: Record<string, string>) =>
      sampleValue(f, name, labels)! - (sampleValue(before, name, labels) ?? 0);
    expect(delta('greenhub_greenlets_spawned_total')).toBe(7);
    expect(delta('greenhub_greenlets_finished_total', { outcome: 'ok' })).toBe(5);
    expect(delta('greenhub_greenlets_finished_total', { outcome: 'killed' })).toBe(1);
    expect(delta('greenhub_greenlets_finished_total', { outcome: 'error' })).toBe(1);
    expect(delta('greenhub_greenlet_switches_total')).toBeGreaterThanOrEqual(7 + 5);
    expect(sampleValue(f, 'greenhub_greenlets', { state: 'waiting' })).toBe(0);
    expect(reported).toEqual([]); // joined, so observed: not reported
    expect(waiting[0]!.value).toBeInstanceOf(GreenletExit);
  });

  it('greenlet durations: one series per name (function name when unnamed), the first greenletNames names, the rest as other', async () => {
    const { register } = collect({ greenletNames: 2 });
    const named = (name: string, ms: number) => {
      const g = spawn(() => sleep(ms));
      g.name = name;
      return g;
    };
    await Promise.all(
      [named('fetch-user', 30), named('fetch-user', 1), named('render', 1)].map((g) => g.join()),
    );
    await spawn(async function unnamedWorker() {}).join(); // third name: counted as other
    await named('late', 1).join();
    const f = await scrape(register);
    const count = (name: string) => sampleValue(f, 'greenhub_greenlet_duration_seconds_count', { name });
    expect(count('fetch-user')).toBe(2);
    expect(count('render')).toBe(1);
    expect(count('other')).toBe(2);
    expect(count('unnamedWorker')).toBeUndefined();
    // The 30 ms greenlet lies above the 25 ms bound and within the 50 ms one.
    expect(
      sampleValue(f, 'greenhub_greenlet_duration_seconds_bucket', { name: 'fetch-user', le: '0.025' }),
    ).toBe(1);
    expect(
      sampleValue(f, 'greenhub_greenlet_duration_seconds_bucket', { name: 'fetch-user', le: '+Inf' }),
    ).toBe(2);
    expect(
      sampleValue(f, 'greenhub_greenlet_duration_seconds_sum', { name: 'fetch-user' }),
    ).toBeGreaterThanOrEqual(0.025); // timers may fire a fraction of a ms early by performance.now()
  });

  it('unnamed greenlets are grouped under their function name', async () => {
    const { register } = collect();
    await spawn(async function indexDocuments() {}).join();
    await spawn(async () => {}).join();
    const f = await scrape(register);
    expect(sampleValue(f, 'greenhub_greenlet_duration_seconds_count', { name: 'indexDocuments' })).toBe(1);
    expect(
      sampleValue(f, 'greenhub_greenlet_duration_seconds_count', { name: '(anonymous)' }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('thread pool sources: threads by state, queue, tasks, wait/run histograms, busy seconds, max threads and hybrid placements; unregistering removes them', async () => {
    const unregister = fakePool('images');
    const { register } = collect();
    let f = await scrape(register);
    expect(sampleValue(f, 'greenhub_threadpool_threads', { pool: 'images', state: 'busy' })).toBe(3);
    expect(sampleValue(f, 'greenhub_threadpool_threads', { pool: 'images', state: 'idle' })).toBe(1);
    expect(sampleValue(f, 'greenhub_threadpool_queue_size', { pool: 'images' })).toBe(7);
    expect(sampleValue(f, 'greenhub_threadpool_tasks_total', { pool: 'images', outcome: 'error' })).toBe(2);
    expect(sampleValue(f, 'greenhub_threadpool_wait_seconds_bucket', { pool: 'images', le: '0.0005' })).toBe(
      1,
    );
    expect(sampleValue(f, 'greenhub_threadpool_wait_seconds_bucket', { pool: 'images', le: '0.005' })).toBe(
      2,
    );
    expect(sampleValue(f, 'greenhub_threadpool_wait_seconds_bucket', { pool: 'images', le: '60' })).toBe(2);
    expect(sampleValue(f, 'greenhub_threadpool_wait_seconds_bucket', { pool: 'images', le: '+Inf' })).toBe(3);
    expect(sampleValue(f, 'greenhub_threadpool_wait_seconds_sum', { pool: 'images' })).toBeCloseTo(
      70.0042,
      6,
    );
    expect(sampleValue(f, 'greenhub_threadpool_run_seconds_bucket', { pool: 'images', le: '0.1' })).toBe(1);
    expect(sampleValue(f, 'greenhub_threadpool_busy_seconds_total', { pool: 'images' })).toBeCloseTo(0.05, 9);
    expect(sampleValue(f, 'greenhub_threadpool_max_threads', { pool: 'images' })).toBe(4);
    expect(sampleValue(f, 'greenhub_hybrid_placements_total', { task: 'resize', placement: 'inline' })).toBe(
      5,
    );
    expect(sampleValue(f, 'greenhub_hybrid_placements_total', { task: 'resize', placement: 'thread' })).toBe(
      2,
    );
    const estimate = (placement: string, le: string) =>
      sampleValue(f, 'greenhub_hybrid_estimate_seconds_bucket', { task: 'resize', placement, le });
    expect([estimate('inline', '0.00025'), estimate('inline', '0.0001')]).toEqual([5, 0]);
    expect([estimate('thread', '0.0025'), estimate('thread', '0.005')]).toEqual([0, 1]);
    expect(
      sampleValue(f, 'greenhub_hybrid_estimate_seconds_count', { task: 'resize', placement: 'thread' }),
    ).toBe(1);
    unregister();
    f = await scrape(register);
    expect(sampleValue(f, 'greenhub_threadpool_queue_size', { pool: 'images' })).toBeUndefined();
  });

  it('pool histograms by task: buckets from 50 us to 60 s, the first 20 task names, the rest as other', async () => {
    const times = new TaskDurations();
    for (let i = 0; i < 60; i++) times.observe(`task-${i}`, 0.04, 0.3);
    times.observe('task-0', 0.2, 70_000);
    cleanups.push(
      registerMetricsSource({
        kind: 'threadpool',
        name: 'tasks',
        metricsSnapshot: () => ({
          threads: {},
          queueSize: 0,
          tasks: {},
          waitSeconds: new DurationRecorder().snapshot(),
          runSeconds: new DurationRecorder().snapshot(),
          byTask: times.snapshot(),
          maxThreads: 1,
        }),
      }),
    );
    const { register } = collect({ defaultMetrics: false });
    const f = await scrape(register);
    const run = (task: string, le: string) =>
      sampleValue(f, 'greenhub_threadpool_run_seconds_bucket', { pool: 'tasks', task, le });
    const tasks = new Set(f.get('greenhub_threadpool_run_seconds')!.samples.map((s) => s.labels.task));
    expect(tasks.size).toBe(21);
    expect(tasks.has('other')).toBe(true);
    expect(sampleValue(f, 'greenhub_threadpool_run_seconds_count', { pool: 'tasks', task: 'other' })).toBe(
      40,
    );
    expect(
      sampleValue(f, 'greenhub_threadpool_wait_seconds_bucket', {
        pool: 'tasks',
        task: 'task-1',
        le: '0.00005',
      }),
    ).toBe(1);
    expect([run('task-1', '0.00025'), run('task-1', '0.0005')]).toEqual([0, 1]);
    expect([run('task-0', '60'), run('task-0', '+Inf')]).toEqual([1, 2]);
    expect(sampleTotal(f, 'greenhub_threadpool_run_seconds_count', { pool: 'tasks' })).toBe(61);
  });

  it('two pools with one name add up into valid series (busy seconds and max threads too)', async () => {
    fakePool('shared');
    fakePool('shared', { maxThreads: 2, queueSize: 1 });
    const { register } = collect();
    const f = await scrape(register);
    expect(sampleValue(f, 'greenhub_threadpool_queue_size', { pool: 'shared' })).toBe(8);
    expect(sampleValue(f, 'greenhub_threadpool_wait_seconds_count', { pool: 'shared' })).toBe(6);
    expect(sampleValue(f, 'greenhub_threadpool_max_threads', { pool: 'shared' })).toBe(6);
    expect(sampleValue(f, 'greenhub_threadpool_busy_seconds_total', { pool: 'shared' })).toBeCloseTo(0.1, 9);
    expect(f.get('greenhub_threadpool_queue_size')!.samples).toHaveLength(1);
  });

  it('a source that throws is left out of the scrape and reported, not fatal', async () => {
    const reported = captureErrors.install();
    cleanups.push(
      registerMetricsSource({
        kind: 'threadpool',
        name: 'broken',
        metricsSnapshot: () => {
          throw new Error('stats unavailable');
        },
      }),
    );
    const { register } = collect();
    const f = await scrape(register);
    expect(sampleValue(f, 'greenhub_threadpool_queue_size', { pool: 'broken' })).toBeUndefined();
    expect(reported.map((r) => (r.error as Error).message)).toEqual(['stats unavailable']);
  });

  it('patched operations in flight by kind; LoopExit-free counters for deadlocks', async () => {
    const { register } = collect();
    const before = await scrape(register);
    const op = beginOperation('fs', () => {});
    const other = beginOperation('fetch', () => {});
    let f = await scrape(register);
    expect(sampleValue(f, 'greenhub_patched_operations', { kind: 'fs' })).toBe(1);
    expect(sampleValue(f, 'greenhub_patched_operations', { kind: 'fetch' })).toBe(1);
    op.end();
    other.end();
    // A joins B while B joins A: the second join is refused with DeadlockError.
    let b: ReturnType<typeof spawn> | undefined;
    const a = spawn(async () => {
      await sleep(0);
      await b!.join();
    });
    b = spawn(() => a.join());
    await expect(a.get()).rejects.toBeInstanceOf(DeadlockError);
    await b.join();
    f = await scrape(register);
    expect(sampleValue(f, 'greenhub_patched_operations', { kind: 'fs' })).toBe(0);
    expect(
      sampleValue(f, 'greenhub_deadlocks_total')! - sampleValue(before, 'greenhub_deadlocks_total')!,
    ).toBe(1);
  });

  it('loop delay is a cumulative histogram: a 120 ms block shows in its buckets at every later scrape, whoever scrapes', async () => {
    const a = collect();
    const b = collect();
    const bucket = (f: Map<string, PromFamily>, le: string) =>
      sampleValue(f, 'greenhub_loop_delay_seconds_bucket', { le })!;
    let f = await scrape(a.register);
    const over0 = bucket(f, '+Inf') - bucket(f, '0.1');
    const busy0 = sampleValue(f, 'greenhub_loop_busy_seconds_total')!;
    await new Promise((r) => setTimeout(r, 30));
    const end = performance.now() + 120;
    while (performance.now() < end);
    await new Promise((r) => setTimeout(r, 30));
    // A second scraper reads first, twice: with per-scrape windows it would have taken the block.
    await scrape(b.register);
    const fromB = await scrape(b.register);
    f = await scrape(a.register);
    // (At least: a loaded machine may stall the loop past 100 ms once more on its own.)
    const over = bucket(f, '+Inf') - bucket(f, '0.1');
    expect(over).toBeGreaterThanOrEqual(over0 + 1);
    expect(bucket(fromB, '+Inf') - bucket(fromB, '0.1')).toBeGreaterThanOrEqual(over0 + 1);
    expect(sampleValue(f, 'greenhub_loop_busy_seconds_total')! - busy0).toBeGreaterThanOrEqual(0.11);
    expect(sampleValue(f, 'greenhub_loop_delay_seconds_sum')).toBeGreaterThanOrEqual(0.1);
    expect(sampleValue(f, 'greenhub_loop_utilization_ratio')).toBeGreaterThan(0);
    const again = await scrape(a.register);
    expect(bucket(again, '+Inf') - bucket(again, '0.1')).toBeGreaterThanOrEqual(over);
    expect(sampleValue(again, 'greenhub_loop_delay_seconds_count')).toBeGreaterThanOrEqual(
      sampleValue(f, 'greenhub_loop_delay_seconds_count')!,
    );
  });

  it('two registries scraped interleaved read the same cumulative values (no scraper resets another)', async () => {
    fakePool('steady');
    const a = collect({ defaultMetrics: false });
    const b = collect({ defaultMetrics: false });
    const names = [
      'greenhub_threadpool_busy_seconds_total',
      'greenhub_threadpool_wait_seconds_count',
      'greenhub_greenlets_spawned_total',
    ];
    const read = (f: Map<string, PromFamily>) =>
      names.map((n) => sampleValue(f, n, n.startsWith('greenhub_threadpool') ? { pool: 'steady' } : {}));
    const a1 = read(await scrape(a.register));
    const b1 = read(await scrape(b.register));
    const b2 = read(await scrape(b.register));
    const a2 = read(await scrape(a.register));
    expect([b1, b2, a2]).toEqual([a1, a1, a1]);
    const utilA = sampleValue(await scrape(a.register), 'greenhub_loop_utilization_ratio')!;
    expect(utilA).toBeGreaterThanOrEqual(0);
    expect(utilA).toBeLessThanOrEqual(1);
  });

  it('blocked time by API from the blocking monitor', async () => {
    const { register } = collect();
    const monitor = startBlockingMonitor({ maxBlockingTime: 40, print: false });
    cleanups.push(() => void monitor.stop());
    await monitor.ready();
    const reported = new Promise((resolve) => monitor.once('blocked', resolve));
    await sleep(1);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    await reported;
    const f = await scrape(register);
    expect(sampleValue(f, 'greenhub_hub_blocking_events_total')).toBe(getHub().stats().blockingEvents);
    expect(sampleValue(f, 'greenhub_hub_blocked_seconds_total', { api: 'none' })).toBeGreaterThanOrEqual(
      0.08,
    );
    await monitor.stop();
  });
});

describe('collectMetrics(): options and life cycle', () => {
  it('prefix applies to greenhub and default metrics', async () => {
    const { register, collection } = collect({ prefix: 'app_' });
    const f = await scrape(register);
    expect(f.has('app_greenhub_greenlets')).toBe(true);
    expect(f.has('app_process_cpu_user_seconds_total')).toBe(true);
    expect(f.has('greenhub_greenlets')).toBe(false);
    expect(collection.names).toContain('app_greenhub_greenlets_spawned_total');
  });

  it('is idempotent per registry; other options on the same registry are refused; defaultMetrics: false leaves them out', async () => {
    const { register, collection } = collect({ defaultMetrics: false });
    expect(collectMetrics({ register, defaultMetrics: false })).toBe(collection);
    expect(() => collectMetrics({ register, prefix: 'x_' })).toThrow(InvalidStateError);
    expect((await scrape(register)).has('process_cpu_user_seconds_total')).toBe(false);
  });

  it('close() removes the metrics and stops measuring greenlet durations', async () => {
    const register = new client.Registry();
    const collection = collectMetrics({ register });
    expect(getHub()._onGreenletEnd).not.toBeNull();
    collection.close();
    collection.close();
    expect(getHub()._onGreenletEnd).toBeNull();
    expect(register.getSingleMetric('greenhub_greenlets')).toBeUndefined();
    expect(collectMetrics({ register })).not.toBe(collection);
    collectMetrics({ register }).close();
  });

  it('accepts a registry of another prom-client copy (prom-client 14) by its shape, and fills it', async () => {
    const register = new client14.Registry();
    expect(register instanceof client.Registry).toBe(false);
    const own = new client14.Counter({ name: 'app_jobs_total', help: 'Jobs.', registers: [register] });
    own.inc(2);
    const collection = collectMetrics({ register: register as never });
    open.push(collection);
    expect(collection.register).toBe(register);
    const f = parsePrometheusText(await register.metrics());
    expect(sampleValue(f, 'app_jobs_total')).toBe(2);
    expect(f.get('greenhub_greenlets_spawned_total')?.type).toBe('counter');
    expect(f.get('greenhub_loop_delay_seconds')?.type).toBe('histogram');
    expect(f.has('process_cpu_user_seconds_total')).toBe(true);
    const server = await startMetricsServer({ port: 0, register: register as never });
    try {
      const res = await fetch(`${server.url}/metrics`);
      expect(res.headers.get('content-type')).toBe(register.contentType);
      expect(await res.text()).toContain('greenhub_loop_busy_seconds_total');
    } finally {
      await server.close();
    }
  });

  it("renders the same samples through prom-client 15's shared labels as through get() (prom-client 14, JSON), default labels included", async () => {
    fakePool('images');
    const { register } = collect();
    const named = spawn(async () => {});
    named.name = 'render "x"';
    await named.join();
    const older = new client14.Registry();
    for (const reg of [register, older]) reg.setDefaultLabels({ service: 'api' });
    const stable = [
      metricNames.greenletDuration,
      metricNames.threadpoolWait,
      metricNames.threadpoolRun,
      metricNames.threadpoolThreads,
      metricNames.threadpoolQueueSize,
      metricNames.hybridEstimate,
    ];
    for (const name of stable) older.registerMetric(register.getSingleMetric(name) as never);
    for (const name of stable) {
      // Label order within a line may differ (a bucket's `le` first); the samples may not.
      const text = await register.getSingleMetricAsString(name);
      const samples = parsePrometheusText(text).get(name)!.samples;
      expect(samples.length).toBeGreaterThan(0);
      expect(samples).toEqual(
        parsePrometheusText(await older.getSingleMetricAsString(name)).get(name)!.samples,
      );
      expect(samples.every((s) => s.labels.service === 'api')).toBe(true);
    }
    const json = await register.getMetricsAsJSON();
    const wait = json.find((m) => m.name === metricNames.threadpoolWait)!;
    expect(wait.values.every((v) => !('sharedLabels' in v))).toBe(true);
    expect(wait.values).toContainEqual(
      expect.objectContaining({
        metricName: `${metricNames.threadpoolWait}_bucket`,
        labels: { pool: 'images', task: 'other', le: 0.005, service: 'api' },
        value: 2,
      }),
    );
  });

  it('refuses bad options with messages naming them', () => {
    expect(() => collectMetrics({ register: {} as never })).toThrow(
      /collectMetrics\(\): expected `opts.register` to be a prom-client Registry \(any version: .*\), got an object without registerMetric\(\)/,
    );
    expect(() => collectMetrics({ register: 'default' as never })).toThrow(
      /expected `opts.register` to be a prom-client Registry .*, got `"default"` \(string\)/,
    );
    const noType = { registerMetric() {}, getSingleMetric() {}, removeSingleMetric() {}, metrics() {} };
    expect(() => collectMetrics({ register: noType as never })).toThrow(/without a string contentType/);
    expect(() => collectMetrics({ prefix: '1bad' })).toThrow(RangeError);
    expect(() => collectMetrics({ greenletNames: -1 })).toThrow(
      /`opts.greenletNames` to be a non-negative integer/,
    );
    expect(() => collectMetrics({ regsiter: 1 } as never)).toThrow(/unknown option `opts.regsiter`/);
    expect(() =>
      registerMetricsSource({ kind: 'gpu', name: 'x', metricsSnapshot: () => ({}) } as never),
    ).toThrow(
      /registerMetricsSource\(\): expected `source.kind` to be 'threadpool' or 'server', got `"gpu"` \(string\)/,
    );
  });
});
