/**
 * One `/metrics` for the machine out of N workers' registries — the rule per metric family that a
 * blanket sum (prom-client's `AggregatorRegistry` default) gets wrong: two workers at 80% event
 * loop utilization are not at 160%, and loop-delay quantiles do not add.
 *
 * - Counters and histograms: summed, and the last values of workers that are gone are kept, so
 *   that a counter never goes backwards when a worker dies or is replaced.
 * - Gauges that count things (greenlets, connections, threads, bytes): summed over live workers.
 * - Ratios (`_ratio`): averaged over live workers.
 * - Quantiles (summaries, prom-client's loop-lag gauges): never summed, one series per worker with
 *   a `worker` label.
 * - Facts that are the same everywhere (`nodejs_version_info`, `process_max_fds`): the first;
 *   `process_start_time_seconds`: the earliest.
 *
 * The arithmetic is prom-client's (`AggregatorRegistry.aggregate` with each family's `aggregator`
 * set here); what this module adds is the rule table, the `worker` label and the retired counters.
 */
import client from 'prom-client';
import type { MetricJson, MetricsSnapshot } from './protocol.js';

/** How one metric family is combined across workers. */
export type AggregationRule = 'sum' | 'average' | 'first' | 'min' | 'max' | 'per-worker';

const BY_NAME: Readonly<Record<string, AggregationRule>> = {
  // Per process by nature: one loop each. The delay histogram per worker (the dashboard's worker
  // variable lists its worker label); busy seconds per worker, so that the average of their rates
  // is a utilization (a sum would read 160 % for two workers at 80 %).
  greenhub_loop_delay_seconds: 'per-worker',
  greenhub_loop_busy_seconds_total: 'per-worker',
  greenhub_loop_utilization_ratio: 'average',
  nodejs_version_info: 'first',
  process_max_fds: 'first',
  process_start_time_seconds: 'min',
};

/**
 * The rule for a family, by name then by type.
 *
 * @example
 * ```ts
 * aggregationRule('greenhub_loop_utilization_ratio', 'gauge'); // 'average'
 * aggregationRule('greenhub_http_requests_total', 'counter');   // 'sum'
 * ```
 */
export function aggregationRule(name: string, type: string): AggregationRule {
  const named = BY_NAME[name];
  if (named !== undefined) return named;
  if (type === 'counter' || type === 'histogram') return 'sum';
  if (type === 'summary') return 'per-worker';
  if (name.startsWith('nodejs_eventloop_lag_')) return 'per-worker';
  if (name.endsWith('_ratio')) return 'average';
  return 'sum';
}

/** Counters and histograms: what a gone worker leaves behind. */
function cumulative(snapshot: MetricsSnapshot): MetricsSnapshot {
  return snapshot.filter((m) => m.type === 'counter' || m.type === 'histogram');
}

/**
 * The common case, cheaply: `next` lists `previous`'s series first and in the same order (prom-client
 * keeps a family's series in the order they were first seen), so none of them is missing.
 */
function startsWithSameSeries(next: MetricJson['values'], previous: MetricJson['values']): boolean {
  if (next.length < previous.length) return false;
  for (let i = 0; i < previous.length; i++) {
    const a = previous[i]!;
    const b = next[i]!;
    if (a.metricName !== b.metricName) return false;
    const keys = Object.keys(a.labels);
    if (keys.length !== Object.keys(b.labels).length) return false;
    for (const k of keys) if (a.labels[k] !== b.labels[k]) return false;
  }
  return true;
}

function seriesKey(value: MetricJson['values'][number]): string {
  const labels = Object.keys(value.labels)
    .sort()
    .map((k) => `${k}=${String(value.labels[k])}`);
  return `${value.metricName ?? ''}{${labels.join(',')}}`;
}

/**
 * A worker's newer snapshot, with the counter and histogram series of the older one that it no
 * longer has (a server that closed takes its request counters out of the worker's registry; the
 * requests it served still count).
 *
 * @example
 * ```ts
 * member.last = keepCounters(member.last, reply.metrics);
 * ```
 */
export function keepCounters(previous: MetricsSnapshot, next: MetricsSnapshot): MetricsSnapshot {
  const byName = new Map(next.map((m) => [m.name, m]));
  const out = [...next];
  for (const old of cumulative(previous)) {
    const now = byName.get(old.name);
    if (now === undefined) {
      out.push(old);
      continue;
    }
    if (startsWithSameSeries(now.values, old.values)) continue;
    const present = new Set(now.values.map(seriesKey));
    const missing = old.values.filter((v) => !present.has(seriesKey(v)));
    if (missing.length > 0) out[out.indexOf(now)] = { ...now, values: [...now.values, ...missing] };
  }
  return out;
}

/**
 * The metrics of a set of workers, combined family by family (see the module comment). Keeps the
 * counters of workers that are gone: {@link retire} a worker's last snapshot when it exits.
 *
 * @example
 * ```ts
 * const machine = new ClusterMetrics();
 * const text = await machine.render([['1', snapshot1], ['2', snapshot2]]);
 * machine.retire(snapshot2); // worker 2 exited: its counters stay in the totals
 * ```
 */
export class ClusterMetrics {
  /** The summed counters and histograms of every worker that is gone. */
  private retired: MetricsSnapshot = [];

  /** Add a gone worker's last snapshot to the counters kept. */
  retire(last: MetricsSnapshot): void {
    const kept = cumulative(last);
    if (kept.length === 0) return;
    this.retired = aggregateJson([this.retired, kept].map((s) => s.map((m) => withRule(m, 'sum'))));
  }

  /**
   * Combine the live workers' snapshots (each with its `worker` label value; two may share one while
   * a replacement starts) with the retired counters and `extra` (the primary's own metrics) into one
   * registry, ready for `metrics()`.
   */
  combine(live: Iterable<readonly [string, MetricsSnapshot]>, extra: MetricsSnapshot = []): client.Registry {
    const inputs: MetricsSnapshot[] = [this.retired.map((m) => withRule(m, 'sum')), extra];
    for (const [worker, snapshot] of live) {
      inputs.push(
        snapshot.map((metric) => {
          const rule = aggregationRule(metric.name, metric.type);
          if (rule !== 'per-worker') return withRule(metric, rule);
          return {
            ...withRule(metric, 'max'),
            values: metric.values.map((v) => ({ ...v, labels: { ...v.labels, worker } })),
          };
        }),
      );
    }
    return client.AggregatorRegistry.aggregate(inputs as never);
  }

  /** {@link combine}, in Prometheus' text format. */
  render(live: Iterable<readonly [string, MetricsSnapshot]>, extra: MetricsSnapshot = []): Promise<string> {
    return this.combine(live, extra).metrics();
  }
}

function withRule(metric: MetricJson, rule: Exclude<AggregationRule, 'per-worker'>): MetricJson {
  return { ...metric, aggregator: rule };
}

function aggregateJson(inputs: MetricsSnapshot[]): MetricsSnapshot {
  // aggregate() registers plain objects carrying the combined values: read them back directly.
  const registry = client.AggregatorRegistry.aggregate(inputs as never);
  return registry.getMetricsAsArray().map((m) => {
    const { help, name, type, aggregator, values } = m as unknown as MetricJson;
    return { help, name, type, aggregator, values };
  });
}
