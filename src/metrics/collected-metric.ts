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
 *
 * A scrape's cost is mostly rendering: one line per bucket of every histogram series (50 greenlet
 * names are ~950 lines). So, as prom-client's own `Histogram` does, the values come in two shapes:
 * `getForPromString()` (what prom-client 15's text renderer calls) keeps a series' labels apart as
 * `sharedLabels`, which the renderer formats once per series rather than once per bucket, with one
 * `{ le }` object per bound; `get()` (JSON, cluster aggregation, prom-client 14's renderer) merges
 * them into each sample's `labels`. Both render the same samples (prom-client 15 writes `le` first).
 */
import type { HistogramSnapshot } from './recorder.js';

export type MetricType = 'gauge' | 'counter' | 'histogram' | 'summary';
export type Labels = Record<string, string | number>;

export interface Sample {
  value: number;
  labels: Labels;
  /** For histogram and summary series: `<name>_bucket`, `_sum`, `_count`. */
  metricName?: string;
  /** The series' labels, kept apart from `labels` (a bucket's `le`) so that a renderer formats them once. */
  sharedLabels?: Labels;
}

interface MetricValues {
  name: string;
  help: string;
  type: MetricType;
  values: Sample[];
  aggregator: string;
}

/** prom-client 15 formats a `sharedLabels` object once and remembers it by identity: one for all unlabelled samples. */
const NO_LABELS: Labels = Object.freeze({}) as Labels;

export class CollectedMetric {
  readonly aggregator = 'sum';
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: MetricType,
    readonly labelNames: readonly string[],
    private readonly read: () => Sample[],
  ) {}

  /** The values with every label in `labels`: what a JSON reader or an older renderer expects. */
  async get(): Promise<MetricValues> {
    const values = this.read();
    for (let i = 0; i < values.length; i++) {
      const { sharedLabels, ...sample } = values[i]!;
      if (sharedLabels !== undefined)
        values[i] = { ...sample, labels: { ...sharedLabels, ...sample.labels } };
    }
    return this.withValues(values);
  }

  /** The values with each series' labels in `sharedLabels`, for prom-client 15's text renderer. */
  async getForPromString(): Promise<MetricValues> {
    const values = this.read();
    for (const v of values) v.sharedLabels ??= NO_LABELS;
    return this.withValues(values);
  }

  private withValues(values: Sample[]): MetricValues {
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** Values are snapshots of their sources: there is nothing to reset. */
  reset(): void {}
}

/** One frozen `{ le }` per bound, shared by every bucket sample with that bound. */
const leLabels = new Map<number | string, Labels>();
function le(bound: number | string): Labels {
  let labels = leLabels.get(bound);
  if (labels === undefined) leLabels.set(bound, (labels = Object.freeze({ le: bound })));
  return labels;
}

/**
 * Append the `_bucket` (cumulative, with `+Inf`), `_sum` and `_count` series of a histogram, the
 * series' `labels` as `sharedLabels`.
 */
export function pushHistogram(out: Sample[], name: string, labels: Labels, h: HistogramSnapshot): void {
  const bucket = `${name}_bucket`;
  let cumulative = 0;
  for (let i = 0; i < h.bucketsSeconds.length; i++) {
    cumulative += h.counts[i] ?? 0;
    out.push({
      metricName: bucket,
      labels: le(h.bucketsSeconds[i]!),
      sharedLabels: labels,
      value: cumulative,
    });
  }
  out.push({ metricName: bucket, labels: le('+Inf'), sharedLabels: labels, value: h.count });
  out.push({ metricName: `${name}_sum`, labels: NO_LABELS, sharedLabels: labels, value: h.sumSeconds });
  out.push({ metricName: `${name}_count`, labels: NO_LABELS, sharedLabels: labels, value: h.count });
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
