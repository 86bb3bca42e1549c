/**
 * greenhub/metrics: Prometheus metrics for the hub, the blocking monitor, the event loop, patched
 * I/O, thread pools and servers, on prom-client, read from snapshots at scrape time.
 *
 * @example
 * ```ts
 * import { startMetricsServer } from 'greenhub/metrics';
 * const server = await startMetricsServer(); // http://127.0.0.1:9464/metrics
 * ```
 */
export {
  type CollectMetricsOptions,
  collectMetrics,
  type MetricsCollection,
  OPERATION_KINDS,
} from './collect.js';
export { type LoopWindow, type LoopWindowStats, openLoopWindow } from './loop.js';
export { BoundedLabel, type MetricName, metricNames, OTHER } from './names.js';
export type { PlacementSnapshot } from './placements.js';
export {
  DEFAULT_DURATION_BUCKETS_SECONDS,
  DurationRecorder,
  type HistogramSnapshot,
  histogramDelta,
  quantileMs,
} from './recorder.js';
export { type MetricsServer, type MetricsServerOptions, startMetricsServer } from './server.js';
export {
  type MetricsSource,
  metricsSources,
  type RouteSnapshot,
  registerMetricsSource,
  type ServerMetricsSnapshot,
  type ServerMetricsSource,
  type ThreadPoolMetricsSnapshot,
  type ThreadPoolMetricsSource,
} from './sources.js';
export { POOL_DURATION_BUCKETS_SECONDS, type TaskDurationsSnapshot } from './task-durations.js';

import { activateDeferredPatches } from '../patch/deferred.js';

// Under `greenhub/register` with its default settings, greenhub is loaded now: patch
// (patch/deferred.ts). Called after every import above has been evaluated.
activateDeferredPatches();
