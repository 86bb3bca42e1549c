/**
 * `collectMetrics()`: registers every greenhub metric in a prom-client registry. Nothing
 * is recorded on the hot paths except what the hub, pools and servers keep anyway (counters, and
 * bucket counts for durations); every value is read from `stats()`-style snapshots when Prometheus
 * scrapes. One scrape takes one snapshot of each source, shared by all metrics of that scrape.
 */
import client from 'prom-client';
import { InvalidStateError } from '../errors.js';
import { getHub, type HubStats } from '../greenlet/hub.js';
import { report } from '../greenlet/internal.js';
import { nativeQueueMicrotask } from '../internal/natives.js';
import { checkBoolean, checkInteger, checkOptions, checkString, rangeError } from '../internal/validate.js';
import {
  addHistograms,
  CollectedMetric,
  type Labels,
  type MetricType,
  pushHistogram,
  type Sample,
  SampleSums,
} from './collected-metric.js';
import { greenletDurations } from './greenlet-durations.js';
import { type LoopTotals, loopTotals, retainLoopSampler } from './loop.js';
import { loopTime } from './loop-time.js';
import { BoundedLabel, metricNames, OTHER } from './names.js';
import type { HistogramSnapshot } from './recorder.js';
import { checkRegistry, type RegistryLike } from './registry.js';
import {
  metricsSources,
  type ServerMetricsSnapshot,
  type ServerMetricsSource,
  type ThreadPoolMetricsSnapshot,
  type ThreadPoolMetricsSource,
} from './sources.js';
import type { TaskDurationsSnapshot } from './task-durations.js';

/** Options of {@link collectMetrics}. */
export interface CollectMetricsOptions {
  /** The prom-client registry to register in (default: prom-client's global `register`). */
  register?: RegistryLike;
  /** Prepended to every metric name, greenhub's and prom-client's defaults (default `''`). */
  prefix?: string;
  /** Also register prom-client's default process and Node metrics (default `true`; skipped if already there). */
  defaultMetrics?: boolean;
  /** Distinct greenlet names with their own duration series; later names count as `other` (default 50). */
  greenletNames?: number;
  /**
   * Also time the event loop by greenlet name: `greenhub_greenlet_loop_seconds_total{name}` (for
   * an HTTP server, seconds of hub time per route). Default `false`: it times every async callback
   * through async_hooks, which costs await-heavy code (see the README).
   */
  loopTime?: boolean;
}

/** What {@link collectMetrics} registered. */
export interface MetricsCollection {
  readonly register: RegistryLike;
  readonly prefix: string;
  /** The greenhub metric names registered, with the prefix. */
  readonly names: readonly string[];
  /**
   * Remove greenhub's metrics from the registry and stop measuring greenlet durations and the loop.
   * (prom-client's default metrics cannot be unregistered one by one and stay.) Idempotent.
   */
  close(): void;
}

/** The label values of `greenhub_patched_operations{kind}` that are always exported, 0 when idle. */
export const OPERATION_KINDS: readonly string[] = Object.freeze([
  'timer',
  'fetch',
  'net',
  'fs',
  'dns',
  'child',
]);

const collections = new WeakMap<RegistryLike, { collection: MetricsCollection; key: string }>();

/**
 * Register greenhub's metrics (hub, blocking monitor, event loop, patched I/O, thread pools, hybrid
 * placements, servers) and, by default, prom-client's default metrics, in `register`. Values are
 * read from snapshots when the registry is scraped. Calling it again for the same registry with the
 * same options returns the same collection.
 *
 * @example
 * ```ts
 * import { collectMetrics } from 'greenhub/metrics';
 * import { register } from 'prom-client';
 * collectMetrics();
 * app.get('/metrics', async (_req, res) => {
 *   res.setHeader('content-type', register.contentType);
 *   res.end(await register.metrics());
 * });
 * ```
 */
export function collectMetrics(opts?: CollectMetricsOptions): MetricsCollection {
  const where = 'collectMetrics()';
  checkOptions(where, 'opts', opts, ['register', 'prefix', 'defaultMetrics', 'greenletNames', 'loopTime']);
  const register = opts?.register ?? client.register;
  checkRegistry(where, 'opts.register', register);
  const prefix = opts?.prefix ?? '';
  checkString(where, 'opts.prefix', prefix);
  if (prefix !== '' && !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(prefix))
    throw rangeError(where, 'opts.prefix', 'a valid Prometheus metric name prefix', prefix);
  if (opts?.defaultMetrics !== undefined) checkBoolean(where, 'opts.defaultMetrics', opts.defaultMetrics);
  if (opts?.loopTime !== undefined) checkBoolean(where, 'opts.loopTime', opts.loopTime);
  const timeLoop = opts?.loopTime === true;
  const greenletNames = opts?.greenletNames ?? 50;
  checkInteger(where, 'opts.greenletNames', greenletNames, 0, 'a non-negative integer');

  const key = `${prefix}\u0000${greenletNames}\u0000${timeLoop}`;
  const existing = collections.get(register);
  if (existing !== undefined) {
    if (existing.key === key) return existing.collection;
    throw new InvalidStateError(
      `${where}: greenhub metrics are already registered in this registry with other options; close() that collection first`,
    );
  }
  if (!greenletDurations.attach(greenletNames)) {
    throw new InvalidStateError(
      `${where}: greenlet durations are already measured with greenletNames ${greenletNames === greenletDurations.limit ? '' : greenletDurations.limit}; ` +
        'every collection in a thread must use the same greenletNames',
    );
  }
  if (timeLoop && !loopTime.attach(greenletNames)) {
    greenletDurations.detach();
    throw new InvalidStateError(
      `${where}: loop time is already measured with greenletNames ${loopTime.limit}; ` +
        'every collection in a thread must use the same greenletNames',
    );
  }
  if (
    opts?.defaultMetrics !== false &&
    register.getSingleMetric(`${prefix}process_cpu_user_seconds_total`) === undefined
  )
    // prom-client's default metrics only call registerMetric() on it: any registry's shape will do.
    client.collectDefaultMetrics({ register: register as client.Registry, prefix });

  const releaseLoop = retainLoopSampler();
  const scrape = new Scrape();
  const metrics = defineMetrics(scrape, prefix);
  const registered: CollectedMetric[] = [];
  try {
    for (const metric of metrics) {
      // prom-client's typings only know its own classes; the registry reads the metric protocol.
      register.registerMetric(metric as unknown as client.Metric);
      registered.push(metric);
    }
  } catch (error) {
    for (const m of registered) register.removeSingleMetric(m.name);
    releaseLoop();
    greenletDurations.detach();
    if (timeLoop) loopTime.detach();
    throw error;
  }
  let closed = false;
  const collection: MetricsCollection = {
    register,
    prefix,
    names: Object.freeze(metrics.map((m) => m.name)),
    close() {
      if (closed) return;
      closed = true;
      for (const m of registered)
        if (register.getSingleMetric(m.name) === (m as unknown)) register.removeSingleMetric(m.name);
      releaseLoop();
      greenletDurations.detach();
      if (timeLoop) loopTime.detach();
      collections.delete(register);
    },
  };
  collections.set(register, { collection, key });
  return collection;
}

/** True when greenhub's metrics are registered in `register`. */
export function hasCollection(register: RegistryLike): boolean {
  return collections.has(register);
}

/**
 * The snapshots of one scrape: prom-client calls every metric's `get()` in one synchronous pass, so
 * the first metric takes each snapshot and the rest of the pass reuses it. It keeps nothing from
 * one scrape to the next: every value is cumulative or read from the sources' own state, so two
 * scrapers (two registries, two Prometheus servers) never change what the other reads.
 */
class Scrape {
  private hubStats: HubStats | undefined;
  private loopStats: LoopTotals | undefined;
  private poolStats: [string, ThreadPoolMetricsSnapshot][] | undefined;
  private serverStats: [string, ServerMetricsSnapshot][] | undefined;
  private queued = false;
  readonly pools = new BoundedLabel(50);
  readonly servers = new BoundedLabel(50);

  private expireLater(): void {
    if (this.queued) return;
    this.queued = true;
    nativeQueueMicrotask(this.expire);
  }

  private readonly expire = (): void => {
    this.queued = false;
    this.hubStats = undefined;
    this.loopStats = undefined;
    this.poolStats = undefined;
    this.serverStats = undefined;
  };

  hub(): HubStats {
    this.expireLater();
    return (this.hubStats ??= getHub().stats());
  }

  loop(): LoopTotals {
    this.expireLater();
    return (this.loopStats ??= loopTotals());
  }

  threadPools(): [string, ThreadPoolMetricsSnapshot][] {
    this.expireLater();
    return (this.poolStats ??= read(metricsSources('threadpool'), this.pools));
  }

  serversStats(): [string, ServerMetricsSnapshot][] {
    this.expireLater();
    return (this.serverStats ??= read(metricsSources('server'), this.servers));
  }
}

function read<S extends ThreadPoolMetricsSource | ServerMetricsSource>(
  sources: S[],
  names: BoundedLabel,
): [string, ReturnType<S['metricsSnapshot']>][] {
  const out: [string, ReturnType<S['metricsSnapshot']>][] = [];
  for (const source of sources) {
    try {
      out.push([names.value(source.name), source.metricsSnapshot() as ReturnType<S['metricsSnapshot']>]);
    } catch (error) {
      // A broken source must not break the scrape; it is reported and left out.
      report(error, null);
    }
  }
  return out;
}

function defineMetrics(scrape: Scrape, prefix: string): CollectedMetric[] {
  const metric = (
    name: string,
    help: string,
    type: MetricType,
    labelNames: readonly string[],
    read: () => Sample[],
  ) => new CollectedMetric(prefix + name, help, type, labelNames, read);
  const one = (value: number, labels: Labels = {}): Sample[] => [{ value, labels }];
  const byLabel = (label: string, values: Record<string, number>): Sample[] =>
    Object.entries(values).map(([k, value]) => ({ labels: { [label]: k }, value }));
  const n = metricNames;

  /** A pool histogram by `pool` and `task`: sources with one name and tasks with one label add up. */
  const poolHistogram = (name: string, pick: (s: TaskDurationsSnapshot) => HistogramSnapshot) => () => {
    const merged = new Map<string, [Labels, HistogramSnapshot]>();
    const add = (labels: Labels, h: HistogramSnapshot): void => {
      const key = `${labels.pool}\u0000${labels.task}`;
      const before = merged.get(key);
      merged.set(key, [labels, before === undefined ? h : addHistograms(before[1], h)]);
    };
    for (const [pool, s] of scrape.threadPools()) {
      if (s.byTask === undefined) add({ pool, task: OTHER }, pick(s));
      else
        for (const [task, t] of Object.entries(s.byTask)) add({ pool, task: poolTasks.value(task) }, pick(t));
    }
    const out: Sample[] = [];
    for (const [labels, h] of merged.values()) pushHistogram(out, prefix + name, labels, h);
    return out;
  };
  const poolSum =
    (label: string | null, pick: (s: ThreadPoolMetricsSnapshot) => Record<string, number> | number) => () => {
      const sums = new SampleSums();
      for (const [pool, s] of scrape.threadPools()) {
        const v = pick(s);
        if (typeof v === 'number') sums.add({ pool }, v);
        else for (const [k, value] of Object.entries(v)) sums.add({ pool, [label!]: k }, value);
      }
      return sums.samples();
    };
  const serverSum = (pick: (s: ServerMetricsSnapshot, server: string, sums: SampleSums) => void) => () => {
    const sums = new SampleSums();
    for (const [server, s] of scrape.serversStats()) pick(s, server, sums);
    return sums.samples();
  };

  return [
    metric(
      n.greenlets,
      'Live greenlets by state (waiting: parked in a hub wait or a tracked operation).',
      'gauge',
      ['state'],
      () => {
        const g = scrape.hub().greenlets;
        return byLabel('state', { running: g.running, waiting: g.waiting, scheduled: g.scheduled });
      },
    ),
    metric(n.greenletsSpawned, 'Greenlets started.', 'counter', [], () => one(scrape.hub().spawned)),
    metric(
      n.greenletsFinished,
      'Greenlets finished, by outcome (a kill with GreenletExit counts as killed).',
      'counter',
      ['outcome'],
      () => byLabel('outcome', { ...scrape.hub().finished }),
    ),
    metric(
      n.greenletDuration,
      'How long greenlets ran, from their first switch-in to their death, by name (the first names seen; the rest as other).',
      'histogram',
      ['name'],
      () => {
        const out: Sample[] = [];
        for (const [name, h] of greenletDurations.snapshot())
          pushHistogram(out, prefix + n.greenletDuration, { name }, h);
        return out;
      },
    ),
    metric(
      n.greenletLoopSeconds,
      'Event-loop time spent running greenlets, by name (an HTTP handler greenlet is named after its route); only with collectMetrics({ loopTime: true }).',
      'counter',
      ['name'],
      () => loopTime.snapshot().map(([name, value]) => ({ labels: { name }, value })),
    ),
    metric(n.greenletSwitches, 'Greenlet starts and wake-ups by the hub.', 'counter', [], () =>
      one(scrape.hub().switches),
    ),
    metric(
      n.unobservedErrors,
      'Greenlet failures nobody observed, reported through the hub onError.',
      'counter',
      [],
      () => one(scrape.hub().unobservedErrors),
    ),
    metric(
      n.hubBlockedSeconds,
      'Time the hub was blocked beyond maxBlockingTime, by the synchronous API in progress (none: no patched API) and the greenlet it held (its name, e.g. the route; none: outside any greenlet).',
      'counter',
      ['api', 'name'],
      () => {
        const blocks = scrape.hub().blockedMsByApiAndName;
        const samples = blocks.map(({ api, name, ms }) => ({ labels: { api, name }, value: ms / 1000 }));
        return samples.length === 0 ? [{ labels: { api: 'none', name: 'none' }, value: 0 }] : samples;
      },
    ),
    metric(n.hubBlockingEvents, 'Blocks of the hub beyond maxBlockingTime.', 'counter', [], () =>
      one(scrape.hub().blockingEvents),
    ),
    metric(
      n.loopDelay,
      'How late the event loop ran a 10 ms sampling timer (one sample per tick; a block shows as one late tick).',
      'histogram',
      [],
      (): Sample[] => {
        const out: Sample[] = [];
        pushHistogram(out, prefix + n.loopDelay, {}, scrape.loop().delay);
        return out;
      },
    ),
    metric(
      n.loopBusySeconds,
      'Time the event loop spent running rather than waiting for I/O; rate() of it is the loop utilization.',
      'counter',
      [],
      () => one(scrape.loop().busySeconds),
    ),
    metric(
      n.loopUtilization,
      'Event loop utilization over the last 10 s (0-1), the same for every scraper; rate(greenhub_loop_busy_seconds_total[w]) for any other window.',
      'gauge',
      [],
      () => one(scrape.loop().utilization),
    ),
    metric(n.patchedOperations, 'Operations in flight outside the hub, by kind.', 'gauge', ['kind'], () => {
      const ops = scrape.hub().operations;
      const out: Record<string, number> = {};
      for (const kind of OPERATION_KINDS) out[kind] = 0;
      for (const [kind, count] of Object.entries(ops))
        out[operationKinds.value(kind)] = (out[operationKinds.value(kind)] ?? 0) + count;
      return byLabel('kind', out);
    }),
    metric(n.loopExits, 'Rounds in which waits were rejected with LoopExit.', 'counter', [], () =>
      one(scrape.hub().loopExits),
    ),
    metric(n.deadlocks, 'Waits refused with DeadlockError.', 'counter', [], () =>
      one(scrape.hub().deadlocks),
    ),
    metric(
      n.abandonedContinuations,
      'Continuations abandoned when a kill or a withTimeout deadline could not reach what they awaited.',
      'counter',
      [],
      () => one(scrape.hub().abandoned.total),
    ),
    metric(
      n.abandonedRunning,
      'Abandoned continuations still awaiting; their results will be discarded.',
      'gauge',
      [],
      () => one(scrape.hub().abandoned.running),
    ),
    metric(
      n.threadpoolThreads,
      'Threads of each pool by state.',
      'gauge',
      ['pool', 'state'],
      poolSum('state', (s) => s.threads),
    ),
    metric(
      n.threadpoolQueueSize,
      'Tasks waiting for a thread.',
      'gauge',
      ['pool'],
      poolSum(null, (s) => s.queueSize),
    ),
    metric(
      n.threadpoolLaneQueued,
      'Tasks of each priority lane waiting for admission to the threads (pool.lane()).',
      'gauge',
      ['pool', 'lane'],
      poolSum('lane', (s) => {
        const queued: Record<string, number> = {};
        for (const [name, l] of Object.entries(s.lanes ?? {})) {
          const lane = laneNames.value(name);
          queued[lane] = (queued[lane] ?? 0) + l.queued;
        }
        return queued;
      }),
    ),
    metric(
      n.threadpoolLaneWait,
      "Time from a lane task's call to its admission to the threads, by pool and lane.",
      'histogram',
      ['pool', 'lane'],
      () => {
        const merged = new Map<string, [Labels, HistogramSnapshot]>();
        for (const [pool, s] of scrape.threadPools()) {
          for (const [name, l] of Object.entries(s.lanes ?? {})) {
            const lane = laneNames.value(name);
            const key = `${pool}\u0000${lane}`;
            const before = merged.get(key);
            merged.set(key, [
              { pool, lane },
              before === undefined ? l.waitSeconds : addHistograms(before[1], l.waitSeconds),
            ]);
          }
        }
        const out: Sample[] = [];
        for (const [labels, h] of merged.values())
          pushHistogram(out, prefix + n.threadpoolLaneWait, labels, h);
        return out;
      },
    ),
    metric(
      n.threadpoolTasks,
      'Finished pool tasks by outcome.',
      'counter',
      ['pool', 'outcome'],
      poolSum('outcome', (s) => s.tasks),
    ),
    metric(
      n.threadpoolWait,
      'Time pool tasks waited for a thread, by pool and task (the first 20 task names per pool, then other).',
      'histogram',
      ['pool', 'task'],
      poolHistogram(n.threadpoolWait, (s) => s.waitSeconds),
    ),
    metric(
      n.threadpoolRun,
      'Time pool tasks ran on a thread, by pool and task (buckets from 50 us: where hybrid() decides).',
      'histogram',
      ['pool', 'task'],
      poolHistogram(n.threadpoolRun, (s) => s.runSeconds),
    ),
    metric(
      n.threadpoolBusySeconds,
      'Thread time spent running tasks, added as each task finishes; rate() of it over max_threads is the utilization.',
      'counter',
      ['pool'],
      poolSum(null, (s) => s.runSeconds.sumSeconds),
    ),
    metric(
      n.threadpoolMaxThreads,
      'The most threads each pool may run at once (its maxThreads).',
      'gauge',
      ['pool'],
      poolSum(null, (s) => s.maxThreads),
    ),
    metric(
      n.hybridPlacements,
      'hybrid() calls by task and placement (inline on the hub, or on a thread).',
      'counter',
      ['task', 'placement'],
      () => {
        const sums = new SampleSums();
        for (const [, s] of scrape.threadPools()) {
          for (const [task, p] of Object.entries(s.hybrid ?? {})) {
            const t = hybridTasks.value(task);
            sums.add({ task: t, placement: 'inline' }, p.inline);
            sums.add({ task: t, placement: 'thread' }, p.thread);
          }
        }
        return sums.samples();
      },
    ),
    metric(
      n.hybridEstimate,
      'The cost estimates hybrid() placed calls on, by task and placement (calls placed before any measurement have none).',
      'histogram',
      ['task', 'placement'],
      () => {
        const merged = new Map<string, [Labels, HistogramSnapshot]>();
        for (const [, s] of scrape.threadPools()) {
          for (const [task, p] of Object.entries(s.hybrid ?? {})) {
            if (p.estimateSeconds === undefined) continue;
            const t = hybridTasks.value(task);
            for (const placement of ['inline', 'thread'] as const) {
              const key = `${t}\u0000${placement}`;
              const h = p.estimateSeconds[placement];
              const before = merged.get(key);
              merged.set(key, [
                { task: t, placement },
                before === undefined ? h : addHistograms(before[1], h),
              ]);
            }
          }
        }
        const out: Sample[] = [];
        for (const [labels, h] of merged.values()) pushHistogram(out, prefix + n.hybridEstimate, labels, h);
        return out;
      },
    ),
    metric(
      n.httpRequests,
      'HTTP requests finished, by server, method, route and status.',
      'counter',
      ['server', 'method', 'route', 'status'],
      serverSum((s, server, sums) => {
        for (const r of s.routes ?? [])
          for (const [status, count] of Object.entries(r.statuses))
            sums.add({ server, method: r.method, route: r.route, status }, count);
      }),
    ),
    metric(
      n.httpRequestDuration,
      'HTTP request duration, from headers parsed to response finished.',
      'histogram',
      ['server', 'method', 'route'],
      () => {
        const out: Sample[] = [];
        const merged = new Map<string, [Labels, HistogramSnapshot]>();
        for (const [server, s] of scrape.serversStats()) {
          for (const r of s.routes ?? []) {
            const labels = { server, method: r.method, route: r.route };
            const key = JSON.stringify(labels);
            const before = merged.get(key);
            merged.set(key, [
              labels,
              before === undefined ? r.duration : addHistograms(before[1], r.duration),
            ]);
          }
        }
        for (const [labels, h] of merged.values())
          pushHistogram(out, prefix + n.httpRequestDuration, labels, h);
        return out;
      },
    ),
    metric(
      n.httpRequestsInFlight,
      'HTTP requests whose handler greenlet is running.',
      'gauge',
      ['server'],
      serverSum((s, server, sums) => {
        if (s.protocol === 'http') sums.add({ server }, s.requestsInFlight ?? 0);
      }),
    ),
    metric(
      n.serverConnections,
      'Open connections of greenhub servers.',
      'gauge',
      ['server'],
      serverSum((s, server, sums) => sums.add({ server }, s.connections)),
    ),
    metric(
      n.serverConnectionsAccepted,
      'Connections accepted by greenhub servers.',
      'counter',
      ['server'],
      serverSum((s, server, sums) => sums.add({ server }, s.connectionsAccepted)),
    ),
    metric(
      n.serverRejected,
      'Connections or requests refused, by server and reason.',
      'counter',
      ['server', 'reason'],
      serverSum((s, server, sums) => {
        for (const [reason, count] of Object.entries(s.rejected)) sums.add({ server, reason }, count);
      }),
    ),
  ];
}

const operationKinds = new BoundedLabel(OPERATION_KINDS.length + 20);
const hybridTasks = new BoundedLabel(100);
/** Task names across pools (each pool already keeps at most 50). */
const poolTasks = new BoundedLabel(200);
const laneNames = new BoundedLabel(50);
