/**
 * Metrics sources: the objects that pools and servers register so that `greenhub/metrics` can read
 * them at scrape time (pulled when scraped, never pushed on the hot path). A source only hands out a plain snapshot; it never imports
 * prom-client and does no work until scraped. This module is deliberately tiny so that the thread
 * pool and the servers can depend on it without loading prom-client.
 *
 * A pool implements {@link ThreadPoolMetricsSource}:
 *
 * ```ts
 * class ThreadPool {
 *   readonly #wait = new DurationRecorder();
 *   readonly #run = new DurationRecorder();
 *   constructor(…) {
 *     this.#unregister = registerMetricsSource({
 *       kind: 'threadpool',
 *       name: this.name,
 *       metricsSnapshot: () => ({
 *         threads: { busy: this.#busy, idle: this.#threads - this.#busy },
 *         queueSize: this.#queue.length,
 *         tasks: { ok: this.#ok, error: this.#failed, cancelled: this.#cancelled },
 *         waitSeconds: this.#wait.snapshot(),
 *         runSeconds: this.#run.snapshot(),
 *         maxThreads: this.maxThreads,
 *       }),
 *     });
 *   }
 *   async close() { …; this.#unregister(); }
 * }
 * ```
 */
import { checkFunction, checkString, rangeError, typeError } from '../internal/validate.js';
import type { PlacementSnapshot } from './placements.js';
import type { HistogramSnapshot } from './recorder.js';
import type { TaskDurationsSnapshot } from './task-durations.js';

/** What a thread pool reports at each scrape. Counts are cumulative since the pool was created. */
export interface ThreadPoolMetricsSnapshot {
  /** Threads by state, e.g. `{ busy: 3, idle: 1 }` (other states such as `starting` are allowed). */
  threads: Readonly<Record<string, number>>;
  /** Tasks waiting for a thread. */
  queueSize: number;
  /** Finished tasks by outcome, e.g. `{ ok, error, cancelled }` — cumulative. */
  tasks: Readonly<Record<string, number>>;
  /** Time tasks waited in the queue (see {@link DurationRecorder}). */
  waitSeconds: HistogramSnapshot;
  /** Time tasks ran on a thread. */
  runSeconds: HistogramSnapshot;
  /**
   * The same two histograms by task name, bounded by the source (the pool keeps the first 20
   * names, then `other`). Optional: without it the pool's histograms are exported as `task="other"`.
   */
  byTask?: Readonly<Record<string, TaskDurationsSnapshot>>;
  /**
   * The most threads the pool may run at once. Its busy time is `runSeconds.sumSeconds`, so
   * utilization over any window is `rate(busy) / maxThreads` — nothing since-start, nothing per scrape.
   */
  maxThreads: number;
  /**
   * Placements of `hybrid()` functions bound to this pool, by task name — cumulative. Optional:
   * pools without hybrid functions leave it out.
   */
  hybrid?: Readonly<Record<string, PlacementSnapshot>>;
  /**
   * The pool's priority lanes by name: tasks waiting for admission, tasks admitted and running, and
   * the time from the call to admission. Optional: pools without lanes leave it out.
   */
  lanes?: Readonly<
    Record<
      string,
      { readonly queued: number; readonly running: number; readonly waitSeconds: HistogramSnapshot }
    >
  >;
}

/** A thread pool as a metrics source: `greenhub_threadpool_*{pool}`, `greenhub_hybrid_*`. */
export interface ThreadPoolMetricsSource {
  readonly kind: 'threadpool';
  /** The `pool` label. Two sources with one name are added together. */
  readonly name: string;
  /** Called at scrape time only. Must be cheap and must not throw. */
  metricsSnapshot(): ThreadPoolMetricsSnapshot;
}

/** Requests of one method and route on an HTTP server, cumulative. */
export interface RouteSnapshot {
  method: string;
  /** A bounded route label: `/users/:id`, not `/users/42`. */
  route: string;
  /** Finished requests by status code (`"200"`, `"503"`…). */
  statuses: Readonly<Record<string, number>>;
  /** From request headers parsed to response finished. */
  duration: HistogramSnapshot;
}

/** What a server reports at each scrape. */
export interface ServerMetricsSnapshot {
  protocol: 'http' | 'stream';
  /** Open connections. */
  connections: number;
  /** Accepted connections, cumulative. */
  connectionsAccepted: number;
  /** Refused connections or requests by reason, cumulative. */
  rejected: Readonly<Record<string, number>>;
  /** HTTP: requests whose handler is running. */
  requestsInFlight?: number;
  /** HTTP: per method and route. */
  routes?: readonly RouteSnapshot[];
}

/** A server as a metrics source: `greenhub_server_*{server}`, `greenhub_http_*{server}`. */
export interface ServerMetricsSource {
  readonly kind: 'server';
  /** The `server` label. */
  readonly name: string;
  metricsSnapshot(): ServerMetricsSnapshot;
}

/** Anything {@link registerMetricsSource} accepts. */
export type MetricsSource = ThreadPoolMetricsSource | ServerMetricsSource;

const sources = new Set<MetricsSource>();

/**
 * Make a pool or server visible to every metrics collection (present and future). Returns the
 * function that removes it again (idempotent): call it when the pool or server closes.
 *
 * @example
 * ```ts
 * const unregister = registerMetricsSource({ kind: 'threadpool', name: 'images', metricsSnapshot: () => pool.snapshot() });
 * // …
 * unregister();
 * ```
 */
export function registerMetricsSource(source: MetricsSource): () => void {
  const where = 'registerMetricsSource()';
  if (source === null || typeof source !== 'object')
    throw typeError(where, 'source', 'a metrics source object', source);
  if (source.kind !== 'threadpool' && source.kind !== 'server')
    throw rangeError(where, 'source.kind', "'threadpool' or 'server'", (source as { kind: unknown }).kind);
  checkString(where, 'source.name', source.name);
  checkFunction(where, 'source.metricsSnapshot', source.metricsSnapshot);
  sources.add(source);
  return () => {
    sources.delete(source);
  };
}

/** The registered sources of one kind, in registration order. */
export function metricsSources<K extends MetricsSource['kind']>(
  kind: K,
): Extract<MetricsSource, { kind: K }>[] {
  if (kind !== 'threadpool' && kind !== 'server') {
    throw (typeof kind === 'string' ? rangeError : typeError)(
      'metricsSources()',
      'kind',
      "'threadpool' or 'server'",
      kind,
    );
  }
  const out: Extract<MetricsSource, { kind: K }>[] = [];
  for (const s of sources) if (s.kind === kind) out.push(s as Extract<MetricsSource, { kind: K }>);
  return out;
}
