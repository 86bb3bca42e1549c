/**
 * Each rule on crafted scrapes: two metric texts in, advice out. The "before" scrape is a service
 * that has not done anything yet; "after" is the same service `SECONDS` later.
 */
import { describe, expect, it } from 'vitest';
import { parsePrometheusText } from '../../../src/metrics/advice/parse.js';
import {
  type AdviceInput,
  advise,
  blockedBy,
  loopSaturated,
  poolWait,
  routeHoldsLoop,
} from '../../../src/metrics/advice/rules.js';
import { LOOP_DELAY_BUCKETS_SECONDS } from '../../../src/metrics/loop.js';
import { DEFAULT_DURATION_BUCKETS_SECONDS } from '../../../src/metrics/recorder.js';

const SECONDS = 10;

const labelText = (labels: Record<string, string>): string => {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
};

/** A Prometheus histogram's lines for these observations (seconds). */
function histogram(
  name: string,
  labels: Record<string, string>,
  observations: number[],
  bounds: readonly number[],
): string[] {
  const lines = [...bounds, Number.POSITIVE_INFINITY].map((le) => {
    const n = observations.filter((o) => o <= le).length;
    return `${name}_bucket${labelText({ ...labels, le: le === Number.POSITIVE_INFINITY ? '+Inf' : String(le) })} ${n}`;
  });
  const sum = observations.reduce((a, b) => a + b, 0);
  lines.push(
    `${name}_sum${labelText(labels)} ${sum}`,
    `${name}_count${labelText(labels)} ${observations.length}`,
  );
  return lines;
}

const repeat = (value: number, times: number): number[] => new Array(times).fill(value);

/** The loop of a service over the window: busy seconds and ~100 delay samples per second. */
function loop(busySeconds: number, delaySeconds: number[] = repeat(0.001, 100 * SECONDS)): string[] {
  return [
    `greenhub_loop_busy_seconds_total ${busySeconds}`,
    ...histogram('greenhub_loop_delay_seconds', {}, delaySeconds, LOOP_DELAY_BUCKETS_SECONDS),
  ];
}

const START = parsePrometheusText(
  ['greenhub_loop_busy_seconds_total 0', 'greenhub_hub_blocked_seconds_total{api="none"} 0'].join('\n'),
);

function input(after: string[], cores: number | null = 2): AdviceInput {
  return { before: START, after: parsePrometheusText(after.join('\n')), seconds: SECONDS, cores };
}

/** Greenlets by name: loop seconds (when given) and calls. */
function greenlets(byName: Record<string, { loop?: number; calls: number; seconds?: number }>): string[] {
  return Object.entries(byName).flatMap(([name, g]) => [
    ...(g.loop === undefined ? [] : [`greenhub_greenlet_loop_seconds_total{name="${name}"} ${g.loop}`]),
    ...histogram(
      'greenhub_greenlet_duration_seconds',
      { name },
      repeat(g.seconds ?? 0.02, g.calls),
      DEFAULT_DURATION_BUCKETS_SECONDS,
    ),
  ]);
}

function pool(waits: number[], maxThreads = 2, busySeconds = maxThreads * SECONDS * 0.9): string[] {
  return [
    `greenhub_threadpool_busy_seconds_total{pool="default"} ${busySeconds}`,
    ...histogram(
      'greenhub_threadpool_wait_seconds',
      { pool: 'default', task: 'work' },
      waits,
      DEFAULT_DURATION_BUCKETS_SECONDS,
    ),
    `greenhub_threadpool_max_threads{pool="default"} ${maxThreads}`,
    `greenhub_threadpool_threads{pool="default",state="busy"} 1`,
    `greenhub_threadpool_threads{pool="default",state="idle"} 1`,
  ];
}

const texts = (advice: { text: string }[]) => advice.map((a) => a.text);

describe('routeHoldsLoop', () => {
  it('names the route holding most of a busy loop, with its share, seconds and cost per call → offload it', () => {
    const after = [
      ...loop(6),
      ...greenlets({ 'GET /cpu': { loop: 4.8, calls: 240 }, 'GET /io': { loop: 0.6, calls: 2000 } }),
    ];
    expect(texts(routeHoldsLoop(input(after)))).toEqual([
      'route GET /cpu holds the loop 80 % of busy time (4.80 of 6.00 busy s over 10.0 s, 20 ms per call) → offload it (pool.run / hybrid)',
    ]);
  });

  it('a route whose calls are too short for a thread gets "add processes" instead', () => {
    const after = [...loop(6), ...greenlets({ 'GET /tiny': { loop: 4.8, calls: 48_000 } })];
    expect(texts(routeHoldsLoop(input(after)))).toEqual([
      'route GET /tiny holds the loop 80 % of busy time (4.80 of 6.00 busy s over 10.0 s, 0.1 ms per call), but each call is too short for a thread → add processes',
    ]);
  });

  it('says nothing when the loop has room, whoever uses it', () => {
    const after = [...loop(1), ...greenlets({ 'GET /cpu': { loop: 1, calls: 50 } })];
    expect(routeHoldsLoop(input(after))).toEqual([]);
  });

  it('says nothing when no name holds half the busy time', () => {
    const after = [
      ...loop(6),
      ...greenlets({ 'GET /a': { loop: 2.5, calls: 100 }, 'GET /b': { loop: 2.5, calls: 100 } }),
    ];
    expect(routeHoldsLoop(input(after))).toEqual([]);
  });

  it('without the opt-in loop-time metric: says it is absent, how to turn it on, and falls back to durations with a caveat', () => {
    const after = [
      ...loop(6),
      ...greenlets({ 'GET /cpu': { calls: 300, seconds: 0.03 }, 'GET /io': { calls: 100, seconds: 0.01 } }),
    ];
    expect(texts(routeHoldsLoop(input(after)))).toEqual([
      'loop utilization 60 % and greenhub_greenlet_loop_seconds_total is absent → turn it on (collectMetrics({ loopTime: true })) to see which route holds the loop; meanwhile, by greenlet duration (which counts waiting too), route GET /cpu takes 90 % of greenlet time',
    ]);
  });
});

describe('loopSaturated', () => {
  it('fires on a busy loop with a late timer: utilization and delay p99 named', () => {
    const delays = [...repeat(0.001, 900), ...repeat(0.04, 100)];
    const [advice] = loopSaturated(input(loop(9.7, delays)));
    expect(advice!.text).toMatch(
      /^loop utilization 97 %, loop delay p99 \d\d ms → the hub is saturated: move CPU work to the pool, or add processes$/,
    );
  });

  it('a busy loop whose timer runs on time is not saturated (many short turns), nor a late timer on an idle loop', () => {
    expect(loopSaturated(input(loop(9.7)))).toEqual([]);
    expect(loopSaturated(input(loop(1, [...repeat(0.001, 900), ...repeat(0.5, 100)])))).toEqual([]);
  });
});

describe('poolWait', () => {
  const waits = [...repeat(0.001, 180), ...repeat(0.2, 20)];

  it('with threads = cores: add processes or machines, not threads', () => {
    expect(texts(poolWait(input([...loop(1), ...pool(waits, 2)], 2)))).toEqual([
      'pool default: queue wait p99 235 ms over 200 tasks (20 waited over 50 ms) with threads 2 = cores 2 → add processes or machines, not threads',
    ]);
  });

  it('with fewer threads than cores: raise maxThreads; cores unknown: says so', () => {
    expect(texts(poolWait(input([...loop(1), ...pool(waits, 2)], 8)))[0]).toMatch(
      /with 2 threads on 8 cores → raise maxThreads toward 8$/,
    );
    expect(texts(poolWait(input([...loop(1), ...pool(waits, 2)], null)))[0]).toMatch(
      /with 2 threads \(cores unknown: pass --cores\) → add threads up to the core count/,
    );
  });

  it('tasks that waited while threads were idle: not a shortage of threads, the CPUs are contended', () => {
    expect(texts(poolWait(input([...loop(1), ...pool(waits, 2, 4)], 2)))).toEqual([
      "pool default: queue wait p99 235 ms over 200 tasks (20 waited over 50 ms) while its 2 threads were busy 20 % of the time → not a shortage of threads: tasks wait for a CPU (other processes on the machine, or the pool's niceIncrement)",
    ]);
  });

  it('one task that waited for a thread to start is not a queue', () => {
    expect(poolWait(input([...loop(1), ...pool([...repeat(0.001, 38), 0.19])]))).toEqual([]);
  });
});

describe('blockedBy', () => {
  it('names each API that blocked the loop past the threshold, in seconds per minute', () => {
    const after = [
      ...loop(2),
      `greenhub_hub_blocked_seconds_total{api="fs.readFileSync"} ${(3.1 * SECONDS) / 60}`,
      `greenhub_hub_blocked_seconds_total{api="zlib.gzipSync"} ${(0.1 * SECONDS) / 60}`,
    ];
    expect(texts(blockedBy(input(after)))).toEqual([
      'loop blocked 3.1 s/min by fs.readFileSync → use its asynchronous form, or run it in the pool',
    ]);
  });

  it('says in which greenlet (route) an API blocked, with its share when others blocked in it too', () => {
    const after = [
      ...loop(2),
      `greenhub_hub_blocked_seconds_total{api="fs.readFileSync",name="GET /report"} ${(2.4 * SECONDS) / 60}`,
      `greenhub_hub_blocked_seconds_total{api="fs.readFileSync",name="GET /export"} ${(0.6 * SECONDS) / 60}`,
      `greenhub_hub_blocked_seconds_total{api="zlib.gzipSync",name="GET /archive"} ${(1.5 * SECONDS) / 60}`,
      `greenhub_hub_blocked_seconds_total{api="none",name="none"} ${(0.9 * SECONDS) / 60}`,
    ];
    expect(texts(blockedBy(input(after)))).toEqual([
      'loop blocked 3.0 s/min by fs.readFileSync in GET /report (80 %) → use its asynchronous form, or run it in the pool',
      'loop blocked 1.5 s/min by zlib.gzipSync in GET /archive → use its asynchronous form, or run it in the pool',
      'loop blocked 0.9 s/min by code outside any patched API → find it with startBlockingMonitor() and move it to the pool',
    ]);
  });
});

describe('advise()', () => {
  it('an idle or balanced service gets a single "nothing to change" line with the numbers behind it', () => {
    const after = [
      ...loop(1.5),
      ...greenlets({ 'GET /cpu': { loop: 1.2, calls: 60 } }),
      ...pool(repeat(0.001, 100)),
      'greenhub_hub_blocked_seconds_total{api="none"} 0',
    ];
    expect(advise(input(after))).toEqual([
      {
        rule: 'nothing',
        text: 'nothing to change: loop utilization 15 %, loop delay p99 1.0 ms, pool wait p99 1.0 ms over 100 tasks',
      },
    ]);
  });

  it('prints every rule that fires, the saturated hub first', () => {
    const after = [
      ...loop(9.7, [...repeat(0.001, 900), ...repeat(0.04, 100)]),
      ...greenlets({ 'GET /cpu': { loop: 9, calls: 450 } }),
    ];
    expect(advise(input(after)).map((a) => a.rule)).toEqual(['loop-saturated', 'route-holds-loop']);
  });
});
