/**
 * The messages between `greenhub run --workers`' primary and its workers, over cluster IPC: both
 * sides in one file. The primary asks for a metrics snapshot at scrape time; a worker answers with
 * its registry as JSON (prom-client's `getMetricsAsJSON()`), and sends a last one as it shuts down
 * gracefully, so that what it served after the last scrape is not lost from the counters.
 */
/** One metric family, as `registry.getMetricsAsJSON()` returns it (the fields read here). */
export interface MetricJson {
  name: string;
  help: string;
  /** `counter`, `gauge`, `histogram` or `summary`. */
  type: string;
  /** prom-client's aggregator name: `sum`, `average`, `first`, `min`, `max`, `omit`. */
  aggregator?: string;
  values: { value: number; labels: Record<string, string | number>; metricName?: string }[];
}

/** One registry's metrics, as `registry.getMetricsAsJSON()` returns them. */
export type MetricsSnapshot = MetricJson[];

/** Primary → worker: send your metrics, tagged with `seq`. */
export interface MetricsRequest {
  greenhub: 'metrics?';
  seq: number;
}

/** Worker → primary: the answer to a {@link MetricsRequest}, or (`seq` -1) the last one at shutdown. */
export interface MetricsReply {
  greenhub: 'metrics';
  seq: number;
  metrics: MetricsSnapshot;
}

/** The `seq` of the snapshot a worker sends unasked as it shuts down. */
export const FINAL_SEQ = -1;

/**
 * Primary → worker: the answer to the final snapshot. A stopping worker waits for it before it
 * exits: IPC is ordered, so by then the primary has read the worker's "server closed" message and
 * routes no more connections to it, and every connection it handed over before is in the worker
 * (accepted, or sent back to be given to another worker). A worker that exited earlier could take
 * a connection in flight on the channel down with it.
 */
export interface FinalAck {
  greenhub: 'final-ack';
}

export function isFinalAck(message: unknown): message is FinalAck {
  return typeof message === 'object' && message !== null && (message as FinalAck).greenhub === 'final-ack';
}

/** Environment variables the primary sets for each worker. */
export const WORKER_ENV = {
  /** The worker's slot, 1…N: its `worker` label, kept by its replacement. */
  slot: 'GREENHUB_WORKER',
  /** The default thread pool's size (threadpool/default-pool.ts). */
  threads: 'GREENHUB_THREADS',
} as const;

export function isMetricsRequest(message: unknown): message is MetricsRequest {
  return (
    typeof message === 'object' && message !== null && (message as MetricsRequest).greenhub === 'metrics?'
  );
}

export function isMetricsReply(message: unknown): message is MetricsReply {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as MetricsReply).greenhub === 'metrics' &&
    Array.isArray((message as MetricsReply).metrics)
  );
}
