/**
 * Priority lanes (`pool.lane()`): admission to the threads by priority on p-queue, each lane bounded
 * by its concurrency; a queued lane task that is killed or timed out leaves the queue. The tasks
 * synchronise with the test through shared memory (a gate the test opens, an order log the tasks
 * append to), never through sleeps.
 */
import {
  Event,
  GreenletExit,
  InvalidArgumentTypeError,
  InvalidStateError,
  Timeout,
  withTimeout,
} from 'greenhub';
import { collectMetrics } from 'greenhub/metrics';
import { ThreadPool } from 'greenhub/threadpool';
import client from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { parsePrometheusText, sampleValue } from '../metrics/prom-text.js';
import { flags, ref, until } from './helpers.js';

const pools: ThreadPool[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) await p.close({ timeout: 2_000 });
});

function pool(maxThreads: number, name: string): ThreadPool {
  const p = new ThreadPool({ maxThreads, minThreads: maxThreads, name, cancelGrace: 200 });
  pools.push(p);
  return p;
}

/** A gate: [0] set by the task once it holds its thread, [1] set by the test to let it go. */
function gate(): { buffer: SharedArrayBuffer; view: Int32Array; open(): void } {
  const buffer = new SharedArrayBuffer(8);
  const view = new Int32Array(buffer);
  return {
    buffer,
    view,
    open() {
      Atomics.store(view, 1, 1);
      Atomics.notify(view, 1);
    },
  };
}

/** Holds its thread until the gate opens (never checks for cancellation). */
function hold(buffer: SharedArrayBuffer): number {
  const v = new Int32Array(buffer);
  Atomics.store(v, 0, 1);
  Atomics.notify(v, 0);
  Atomics.wait(v, 1, 0);
  return 1;
}

/** Appends `id` to the order log: [0] is the count, then the ids in the order the tasks ran. */
function log(buffer: SharedArrayBuffer, id: number): number {
  const v = new Int32Array(buffer);
  const n = Atomics.add(v, 0, 1);
  Atomics.store(v, 1 + n, id);
  return id;
}

function order(buffer: SharedArrayBuffer): number[] {
  const v = new Int32Array(buffer);
  return Array.from(v.subarray(1, 1 + Atomics.load(v, 0)));
}

describe('pool.lane()', () => {
  it('admits a higher-priority lane first: an interactive task submitted after three batch tasks runs before them', async () => {
    const p = pool(1, 'lanes-priority');
    const batch = p.lane('batch', { priority: 0 });
    const interactive = p.lane('interactive', { priority: 10 });
    const g = gate();
    const ran = new SharedArrayBuffer(4 * 8);
    const blocker = batch.run(hold, g.buffer);
    await until(g.view, 0);
    const calls = [batch.run(log, ran, 1), batch.run(log, ran, 2), batch.run(log, ran, 3)];
    calls.push(interactive.run(log, ran, 99));
    const stats = p.stats();
    expect(stats.lanes.map((l) => [l.name, l.queued, l.running])).toEqual([
      ['batch', 3, 1],
      ['interactive', 1, 0],
    ]);
    expect(stats.queued).toBe(4);
    g.open();
    expect(await Promise.all([blocker, ...calls])).toEqual([1, 1, 2, 3, 99]);
    expect(order(ran)).toEqual([99, 1, 2, 3]);
    const after = p.stats().lanes;
    expect(after.map((l) => [l.name, l.queued, l.running, l.admitted])).toEqual([
      ['batch', 0, 0, 4],
      ['interactive', 0, 0, 1],
    ]);
    expect(after[1]!.waitP99Ms).toBeGreaterThan(0);
  });

  it('bounds each lane by its concurrency: a lane of 1 runs one task at a time on a pool of 2, another lane takes the free thread', async () => {
    const p = pool(2, 'lanes-concurrency');
    const single = p.lane('single', { concurrency: 1 });
    const other = p.lane('other');
    const first = gate();
    const second = gate();
    const a = single.run(hold, first.buffer);
    const b = single.run(hold, second.buffer);
    await until(first.view, 0);
    expect(p.stats().lanes[0]).toMatchObject({ name: 'single', queued: 1, running: 1 });
    // The second thread is free, but `single` may not use it; `other` may.
    expect(await other.run((x: number) => x * 2, 21)).toBe(42);
    expect(Atomics.load(second.view, 0), 'the second task of the lane has not started').toBe(0);
    first.open();
    await until(second.view, 0);
    second.open();
    expect(await Promise.all([a, b])).toEqual([1, 1]);
  });

  it("limits a lane's rate with intervalCap per interval: the second task of the window waits for the next one", async () => {
    const p = pool(2, 'lanes-rate');
    await Promise.all([p.run((x: number) => x, 0), p.run((x: number) => x, 0)]); // threads up
    const limited = p.lane('limited', { intervalCap: 1, interval: 1_000 });
    const start = performance.now();
    expect(await limited.run((x: number) => x, 1)).toBe(1);
    const second = limited.run((x: number) => x, 2);
    // A thread is free, but the window's one admission is used.
    expect(p.stats().lanes[0]).toMatchObject({ admitted: 1, queued: 1 });
    expect(await second).toBe(2);
    expect(performance.now() - start).toBeGreaterThanOrEqual(900);
  });

  it('a queued lane task that is killed or timed out leaves the queue: its caller sees the kill, the task never runs, its slot is free', async () => {
    const p = pool(1, 'lanes-kill');
    const lane = p.lane('work');
    const g = gate();
    const ran = new SharedArrayBuffer(4 * 8);
    const blocker = lane.run(hold, g.buffer);
    await until(g.view, 0);
    const mark = flags();
    const killed = lane.spawn(ref('markStarted'), mark.buffer, 0);
    const submitted = new Event();
    const timedOut = withTimeout(200, () => {
      const call = lane.run(log, ran, 8);
      submitted.set();
      return call;
    });
    await submitted.wait();
    const kept = lane.run(log, ran, 9);
    expect(p.stats().lanes[0]!.queued).toBe(3);
    await killed.kill();
    expect(killed.value).toBeInstanceOf(GreenletExit);
    await expect(timedOut).rejects.toBeInstanceOf(Timeout);
    expect(p.stats().lanes[0]).toMatchObject({ queued: 1, dropped: 2 });
    expect(p.stats().inFlight).toBe(2);
    g.open();
    expect(await Promise.all([blocker, kept])).toEqual([1, 9]);
    expect(order(ran)).toEqual([9]);
    expect(Atomics.load(mark.view, 1), 'the killed task never ran').toBe(0);
    expect(p.stats()).toMatchObject({ inFlight: 0, queued: 0 });
  });

  it('close({ timeout }) fails the lane tasks still waiting with PoolClosedError; close() lets them run', async () => {
    const p = new ThreadPool({ maxThreads: 1, name: 'lanes-close', cancelGrace: 50 });
    const lane = p.lane('work');
    const g = gate();
    const blocker = lane.run(hold, g.buffer);
    await until(g.view, 0);
    const waiting = lane.run((x: number) => x, 5);
    const closing = p.close({ timeout: 10 });
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_GREENHUB_POOL_CLOSED' });
    g.open();
    await blocker.catch(() => {});
    await closing;
    expect(() => p.lane('late')).toThrow(/is closed/);

    const q = pool(1, 'lanes-drain');
    const l2 = q.lane('work');
    const g2 = gate();
    const b2 = l2.run(hold, g2.buffer);
    await until(g2.view, 0);
    const w2 = l2.run((x: number) => x, 6);
    const drained = q.close();
    g2.open();
    expect(await Promise.all([b2, w2])).toEqual([1, 6]);
    await drained;
  });

  it('lanes appear in metrics: tasks waiting for admission by lane, and the wait from call to admission', async () => {
    const register = new client.Registry();
    const collection = collectMetrics({ register, defaultMetrics: false });
    try {
      const p = pool(1, 'lanes-metrics');
      const lane = p.lane('batch');
      const g = gate();
      const blocker = lane.run(hold, g.buffer);
      await until(g.view, 0);
      const queued = lane.run((x: number) => x, 1);
      let f = parsePrometheusText(await register.metrics());
      const labels = { pool: 'lanes-metrics', lane: 'batch' };
      expect(sampleValue(f, 'greenhub_threadpool_lane_queued', labels)).toBe(1);
      expect(sampleValue(f, 'greenhub_threadpool_queue_size', { pool: 'lanes-metrics' })).toBe(1);
      g.open();
      await Promise.all([blocker, queued]);
      f = parsePrometheusText(await register.metrics());
      expect(sampleValue(f, 'greenhub_threadpool_lane_queued', labels)).toBe(0);
      expect(sampleValue(f, 'greenhub_threadpool_lane_wait_seconds_count', labels)).toBe(2);
      expect(sampleValue(f, 'greenhub_threadpool_lane_wait_seconds_sum', labels)).toBeGreaterThan(0);
    } finally {
      collection.close();
    }
  });

  it('one lane per name; bad options are refused with messages naming them', () => {
    const p = pool(1, 'lanes-options');
    const a = p.lane('a', { priority: 5, concurrency: 2 });
    expect(p.lane('a')).toBeDefined();
    expect(p.stats().lanes).toHaveLength(1);
    expect(() => p.lane('a', { priority: 6 })).toThrow(InvalidStateError);
    expect(() => p.lane('a', { priority: 6 })).toThrow(/already has a lane "a" with other options/);
    expect(a).toBeDefined();
    expect(() => p.lane('')).toThrow(/expected `name` to be a non-empty string/);
    expect(() => p.lane(3 as never)).toThrow(InvalidArgumentTypeError);
    expect(() => p.lane('b', { priority: Number.NaN })).toThrow(
      /ThreadPool.lane\(\): expected `opts.priority` to be a finite number \(higher is admitted first\), got `NaN`/,
    );
    expect(() => p.lane('b', { concurrency: 0 })).toThrow(
      /`opts.concurrency` to be a positive integer, or Infinity, got `0`/,
    );
    expect(() => p.lane('b', { interval: -1 })).toThrow(/`opts.interval`/);
    expect(() => p.lane('b', { prio: 1 } as never)).toThrow(/unknown option `opts.prio`/);
  });
});
