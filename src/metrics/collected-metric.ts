/**
 * A metric whose values are computed when scraped, in the shape prom-client's `Registry` reads
 * (`name`, `help`, `type`, `aggregator`, `get()`), so it sits in any prom-client registry next to
 * the application's own metrics, is rendered by prom-client (text or OpenMetrics), merges with
 * `Registry.merge` and aggregates across cluster workers.
 *
 * Why not prom-client's `Gauge`/`Counter`/`Histogram` with a `collect()` callback: a histogram read
 * from a snapshot (bucket counts a pool recorded) cannot be set on prom-client's `Histogram`, which
 * only accepts single observations; and copying snapshots into prom-client's label maps at every
 * scrape would cost more than building the values directly.
 */
import type { HistogramSnapshot } from './recorder.js';

export type MetricType = 'gauge' | 'counter' | 'histogram' | 'summary';
export type Labels = Record<string, string | number>;

export interface Sample {
  value: number;
  labels: Labels;
  /** For histogram and summary series: `<name>_bucket`, `_sum`, `_count`. */
  metricName?: string;
}

export class CollectedMetric {
  readonly aggregator = 'sum';
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: MetricType,
    readonly labelNames: readonly string[],
    private readonly read: () => Sample[],
  ) {}

  async get(): Promise<{
    name: string;
    help: string;
    type: MetricType;
    values: Sample[];
    aggregator: string;
  }> {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values: this.read(),
      aggregator: this.aggregator,
    };
  }

  /** Values are snapshots of their sources: there is nothing to reset. */
  reset(): void {}
}

/** Append the `_bucket` (cumulative, with `+Inf`), `_sum` and `_count` series of a histogram. */
export function pushHistogram(out: Sample[], name: string, labels: Labels, h: HistogramSnapshot): void {
  let cumulative = 0;
  for (let i = 0; i < h.bucketsSeconds.length; i++) {
    cumulative += h.counts[i] ?? 0;
    out.push({
      metricName: `${name}_bucket`,
      labels: { ...labels, le: h.bucketsSeconds[i]! },
      value: cumulative,
    });
  }
  out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: h.count });
  out.push({ metricName: `${name}_sum`, labels, value: h.sumSeconds });
  out.push({ metricName: `${name}_count`, labels, value: h.count });
}

/** Add histogram `b` into `a` (same bounds), for sources that share a label value. */
export function addHistograms(a: HistogramSnapshot, b: HistogramSnapshot): HistogramSnapshot {
  if (
    a.bucketsSeconds.length !== b.bucketsSeconds.length ||
    a.bucketsSeconds.some((x, i) => x !== b.bucketsSeconds[i])
  )
    return a; // different bounds cannot be added; the first source wins
  return {
    bucketsSeconds: a.bucketsSeconds,
    counts: a.counts.map((c, i) => c + (b.counts[i] ?? 0)),
    sumSeconds: a.sumSeconds + b.sumSeconds,
    count: a.count + b.count,
  };
}

/** Sums values by label set, so that two sources with one name yield one valid series. */
export class SampleSums {
  private readonly sums = new Map<string, Sample>();

  add(labels: Labels, value: number): void {
    const key = JSON.stringify(labels);
    const s = this.sums.get(key);
    if (s === undefined) this.sums.set(key, { labels, value });
    else s.value += value;
  }

  samples(): Sample[] {
    return [...this.sums.values()];
  }
}
