/**
 * A ThreadPool as a metrics source: once its threads start, `greenhub_threadpool_*{pool}` and
 * `greenhub_hybrid_placements_total` report its tasks; once it is closed, its series are gone.
 */

import { collectMetrics, type MetricsCollection } from 'greenhub/metrics';
import { hybrid, ThreadPool, task } from 'greenhub/threadpool';
import client from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { parsePrometheusText, sampleTotal, sampleValue } from '../metrics/prom-text.js';

const tasks = new URL('./fixtures/tasks.mjs', import.meta.url);
const spin = task<(ms: number) => number>(tasks, 'spin');
const add = task<(a: number, b: number) => number>(tasks, 'add');

let collection: MetricsCollection | undefined;
afterEach(() => collection?.close());

async function scrape(register: client.Registry) {
  return parsePrometheusText(await register.metrics());
}

describe('ThreadPool metrics', () => {
  it('counts its tasks by outcome, with run and wait time histograms, and forgets the pool when closed', async () => {
    const register = new client.Registry();
    collection = collectMetrics({ register, defaultMetrics: false });
    const pool = new ThreadPool({ name: 'metrics-test', maxThreads: 1 });
    // One thread: the second spin waits for the first, so its wait is at least the first's 40 ms.
    await Promise.all([pool.apply(spin, 40), pool.apply(spin, 40)]);
    await expect(pool.run(() => JSON.parse('{'))).rejects.toThrow(SyntaxError);
    const pooled = { pool: 'metrics-test' };
    let families = await scrape(register);
    expect(sampleValue(families, 'greenhub_threadpool_tasks_total', { ...pooled, outcome: 'ok' })).toBe(2);
    expect(sampleValue(families, 'greenhub_threadpool_tasks_total', { ...pooled, outcome: 'error' })).toBe(1);
    expect(sampleTotal(families, 'greenhub_threadpool_run_seconds_count', pooled)).toBe(3);
    expect(sampleTotal(families, 'greenhub_threadpool_run_seconds_sum', pooled)).toBeGreaterThanOrEqual(0.08);
    expect(sampleTotal(families, 'greenhub_threadpool_wait_seconds_count', pooled)).toBe(3);
    expect(sampleTotal(families, 'greenhub_threadpool_wait_seconds_sum', pooled)).toBeGreaterThanOrEqual(
      0.04,
    );
    expect(
      sampleValue(families, 'greenhub_threadpool_run_seconds_count', { ...pooled, task: 'spin (tasks.mjs)' }),
    ).toBe(2);
    expect(sampleValue(families, 'greenhub_threadpool_busy_seconds_total', pooled)).toBeGreaterThanOrEqual(
      0.08,
    );
    expect(sampleValue(families, 'greenhub_threadpool_max_threads', pooled)).toBe(1);
    expect(sampleValue(families, 'greenhub_threadpool_threads', { ...pooled, state: 'idle' })).toBe(1);
    expect(sampleValue(families, 'greenhub_threadpool_queue_size', pooled)).toBe(0);
    await pool.close();
    families = await scrape(register);
    expect(
      sampleValue(families, 'greenhub_threadpool_tasks_total', { ...pooled, outcome: 'ok' }),
    ).toBeUndefined();
  });

  it('reports the placements of the hybrid() functions that use the pool, by name', async () => {
    const register = new client.Registry();
    collection = collectMetrics({ register, defaultMetrics: false });
    const pool = new ThreadPool({ name: 'hybrid-metrics', maxThreads: 1 });
    const sum = hybrid(add, { pool, name: 'sum' });
    // The first call goes to a thread (no measurement yet); once add's module is loaded here and
    // its cost measured as tiny, later calls run inline.
    let calls = 0;
    while (sum.stats().inline === 0 && calls < 1000) {
      await sum(calls, 1);
      calls++;
    }
    const { inline, thread } = sum.stats();
    expect(inline).toBeGreaterThan(0);
    expect(thread).toBeGreaterThan(0);
    const families = await scrape(register);
    const labels = { task: 'sum' };
    expect(
      sampleValue(families, 'greenhub_hybrid_placements_total', { ...labels, placement: 'inline' }),
    ).toBe(inline);
    expect(
      sampleValue(families, 'greenhub_hybrid_placements_total', { ...labels, placement: 'thread' }),
    ).toBe(thread);
    // Every inline call was placed on an estimate at or below the 0.5 ms threshold.
    expect(
      sampleValue(families, 'greenhub_hybrid_estimate_seconds_count', { ...labels, placement: 'inline' }),
    ).toBe(inline);
    expect(
      sampleValue(families, 'greenhub_hybrid_estimate_seconds_bucket', {
        ...labels,
        placement: 'inline',
        le: '0.0005',
      }),
    ).toBe(inline);
    await pool.close();
  });
});
