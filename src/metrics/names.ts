/**
 * The names of every metric greenhub exports, and the bound on label values.
 *
 * Prometheus conventions: base units in the name (`_seconds`, `_ratio`), `_total` on counters,
 * label values from small, known sets. Where a label value comes from the application (greenlet
 * names, routes, pools, blocking APIs), {@link BoundedLabel} admits the first N distinct values and
 * counts the rest as `other`, so a bug that names every greenlet differently cannot explode the
 * number of series. First-come rather than "top N by frequency": a counter's series cannot move to
 * another label value once exported.
 */

import { checkInteger } from '../internal/validate.js';

/**
 * Every metric name, without a prefix (`collectMetrics({ prefix })` prepends one). Histograms also
 * export `<name>_bucket`, `<name>_sum` and `<name>_count`. Every value is cumulative or a gauge of
 * the present (never "since the previous scrape"), so any number of scrapers read the same series.
 *
 * @example
 * ```ts
 * import { metricNames } from 'greenhub/metrics';
 * metricNames.greenlets;            // 'greenhub_greenlets'
 * Object.values(metricNames);       // all of them
 * ```
 */
export const metricNames = Object.freeze({
  /** gauge `{state}`: running, waiting, scheduled */
  greenlets: 'greenhub_greenlets',
  /** counter */
  greenletsSpawned: 'greenhub_greenlets_spawned_total',
  /** counter `{outcome}`: ok, error, killed */
  greenletsFinished: 'greenhub_greenlets_finished_total',
  /** histogram `{name}`: how long greenlets ran, from first switch-in to death (bounded names) */
  greenletDuration: 'greenhub_greenlet_duration_seconds',
  /**
   * counter `{name}`: event-loop seconds spent running greenlets of each name — per route for an
   * HTTP server (opt-in: `collectMetrics({ loopTime: true })`)
   */
  greenletLoopSeconds: 'greenhub_greenlet_loop_seconds_total',
  /** counter: greenlet starts and wake-ups by the hub */
  greenletSwitches: 'greenhub_greenlet_switches_total',
  /** counter: greenlet failures nobody observed, reported through `onError` */
  unobservedErrors: 'greenhub_unobserved_errors_total',
  /** counter `{api}`: time the hub was blocked beyond `maxBlockingTime` (`none`: no patched API) */
  hubBlockedSeconds: 'greenhub_hub_blocked_seconds_total',
  /** counter: blocks beyond `maxBlockingTime` */
  hubBlockingEvents: 'greenhub_hub_blocking_events_total',
  /**
   * histogram: how late the event loop ran a 10 ms sampling timer, cumulative (the one loop-delay
   * answer; prom-client's optional `nodejs_eventloop_lag_*` measure the same thing their own way)
   */
  loopDelay: 'greenhub_loop_delay_seconds',
  /** counter: seconds the event loop was busy (not waiting for I/O); utilization is its `rate()` */
  loopBusySeconds: 'greenhub_loop_busy_seconds_total',
  /** gauge: event loop utilization over the last 10 s (0–1), independent of scrapes */
  loopUtilization: 'greenhub_loop_utilization_ratio',
  /** gauge `{kind}`: operations in flight outside the hub (timer, fetch, net, fs, dns, child, task…) */
  patchedOperations: 'greenhub_patched_operations',
  /** counter: rounds of LoopExit */
  loopExits: 'greenhub_loop_exits_total',
  /** counter: waits refused with DeadlockError */
  deadlocks: 'greenhub_deadlocks_total',
  /** counter: continuations abandoned when a kill or a `withTimeout` deadline could not reach their await */
  abandonedContinuations: 'greenhub_abandoned_continuations_total',
  /** gauge: abandoned continuations still awaiting (their results will be discarded) */
  abandonedRunning: 'greenhub_abandoned_continuations',
  /** gauge `{pool, state}` */
  threadpoolThreads: 'greenhub_threadpool_threads',
  /** gauge `{pool}` */
  threadpoolQueueSize: 'greenhub_threadpool_queue_size',
  /** gauge `{pool, lane}`: tasks of a priority lane waiting for admission to the threads */
  threadpoolLaneQueued: 'greenhub_threadpool_lane_queued',
  /** histogram `{pool, lane}`: time from a lane task's call to its admission to the threads */
  threadpoolLaneWait: 'greenhub_threadpool_lane_wait_seconds',
  /** counter `{pool, outcome}` */
  threadpoolTasks: 'greenhub_threadpool_tasks_total',
  /** histogram `{pool, task}`: time tasks waited for a thread (50 µs to 60 s; bounded task names) */
  threadpoolWait: 'greenhub_threadpool_wait_seconds',
  /** histogram `{pool, task}`: time tasks ran on a thread (50 µs to 60 s; bounded task names) */
  threadpoolRun: 'greenhub_threadpool_run_seconds',
  /** counter `{pool}`: thread seconds spent running tasks; utilization is `rate()` over `max_threads` */
  threadpoolBusySeconds: 'greenhub_threadpool_busy_seconds_total',
  /** gauge `{pool}`: the pool's `maxThreads` */
  threadpoolMaxThreads: 'greenhub_threadpool_max_threads',
  /** counter `{task, placement}`: hybrid calls run inline or on a thread */
  hybridPlacements: 'greenhub_hybrid_placements_total',
  /** histogram `{task, placement}`: the cost estimate each hybrid call was placed on */
  hybridEstimate: 'greenhub_hybrid_estimate_seconds',
  /** counter `{server, method, route, status}` */
  httpRequests: 'greenhub_http_requests_total',
  /** histogram `{server, method, route}`: from request headers parsed to response finished */
  httpRequestDuration: 'greenhub_http_request_duration_seconds',
  /** gauge `{server}`: requests whose handler greenlet is running */
  httpRequestsInFlight: 'greenhub_http_requests_in_flight',
  /** gauge `{server}`: open connections (StreamServer and HttpServer) */
  serverConnections: 'greenhub_server_connections',
  /** counter `{server}`: accepted connections */
  serverConnectionsAccepted: 'greenhub_server_connections_accepted_total',
  /** counter `{server, reason}`: connections or requests refused (overload, header_timeout, body_too_large…) */
  serverRejected: 'greenhub_server_rejected_total',
} as const);

/** One of {@link metricNames}' values. */
export type MetricName = (typeof metricNames)[keyof typeof metricNames];

/** The label value that stands for every value past a {@link BoundedLabel}'s limit. */
export const OTHER = 'other';

/**
 * Admits the first `limit` distinct values of a label; later values map to `other`.
 *
 * @example
 * ```ts
 * const routes = new BoundedLabel(100);
 * routes.value('/users/:id'); // '/users/:id' (until 100 distinct routes were seen)
 * ```
 */
export class BoundedLabel {
  private readonly seen = new Set<string>();
  constructor(readonly limit: number) {
    checkInteger('new BoundedLabel()', 'limit', limit, 0, 'a non-negative integer');
  }

  /** `value` itself while there is room (or it was seen before), else `other`. */
  value(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.limit) return OTHER;
    this.seen.add(value);
    return value;
  }
}
