/**
 * Duration histograms recorded on hot paths and read at scrape time: an observation is a short
 * scan over fixed bounds and one array increment — no labels, no strings, no allocation. Pools,
 * servers and the greenlet-duration hook each own their recorders; collectors turn
 * {@link HistogramSnapshot}s into Prometheus histograms.
 */
import { rangeError, typeError } from '../internal/validate.js';

/** Upper bounds (seconds) of greenhub's duration histograms: 0.5 ms to 1 min. */
export const DEFAULT_DURATION_BUCKETS_SECONDS: readonly number[] = Object.freeze([
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
]);

/**
 * A histogram as plain numbers: what a metrics source returns for `greenhub_threadpool_wait_seconds`
 * and the like.
 */
export interface HistogramSnapshot {
  /** Upper bounds in seconds, ascending, without `+Inf`. Must not change between snapshots. */
  bucketsSeconds: readonly number[];
  /**
   * Observations per bucket, **not** cumulative: `counts[i]` fell in `(bucketsSeconds[i-1],
   * bucketsSeconds[i]]`; the last element (index `bucketsSeconds.length`) counts those above the
   * last bound.
   */
  counts: readonly number[];
  /** Sum of all observations, in seconds. */
  sumSeconds: number;
  /** Number of observations (the sum of `counts`). */
  count: number;
}

/**
 * Records durations into fixed buckets, cheaply enough for per-task and per-request use.
 *
 * @example
 * ```ts
 * const wait = new DurationRecorder();
 * const t0 = performance.now();
 * await runTask();
 * wait.observeMs(performance.now() - t0);
 * wait.snapshot(); // { bucketsSeconds, counts, sumSeconds, count }
 * ```
 */
export class DurationRecorder {
  /** Upper bounds in seconds. */
  readonly bucketsSeconds: readonly number[];
  private readonly boundsMs: Float64Array;
  private readonly counts: Float64Array;
  private sumMs = 0;
  private total = 0;

  /** `bucketsSeconds`: ascending upper bounds in seconds (default {@link DEFAULT_DURATION_BUCKETS_SECONDS}). */
  constructor(bucketsSeconds: readonly number[] = DEFAULT_DURATION_BUCKETS_SECONDS) {
    checkBuckets('new DurationRecorder()', 'bucketsSeconds', bucketsSeconds);
    this.bucketsSeconds = bucketsSeconds;
    this.boundsMs = Float64Array.from(bucketsSeconds, (s) => s * 1000);
    this.counts = new Float64Array(bucketsSeconds.length + 1);
  }

  /** Record one duration, in milliseconds. */
  observeMs(ms: number): void {
    const bounds = this.boundsMs;
    let i = 0;
    while (i < bounds.length && ms > bounds[i]!) i++;
    this.counts[i]!++;
    this.sumMs += ms;
    this.total++;
  }

  /** Number of observations so far. */
  get count(): number {
    return this.total;
  }

  /** The counts so far (a copy). */
  snapshot(): HistogramSnapshot {
    return {
      bucketsSeconds: this.bucketsSeconds,
      counts: Array.from(this.counts),
      sumSeconds: this.sumMs / 1000,
      count: this.total,
    };
  }
}

/** Ascending, finite, positive bounds. */
export function checkBuckets(where: string, name: string, buckets: unknown): void {
  if (!Array.isArray(buckets) || buckets.length === 0)
    throw typeError(where, name, 'a non-empty array of ascending bounds in seconds', buckets);
  for (let i = 0; i < buckets.length; i++) {
    const b: unknown = buckets[i];
    if (typeof b !== 'number' || !Number.isFinite(b) || b <= 0 || (i > 0 && b <= (buckets[i - 1] as number)))
      throw rangeError(where, `${name}[${i}]`, 'a finite positive bound above the previous one', b);
  }
}

/**
 * Estimate the `q` quantile (0–1) of a histogram in milliseconds, interpolating linearly inside the
 * bucket where it falls (as PromQL's `histogram_quantile` does); `null` when there is no observation.
 * Above the last bound it answers the last bound.
 *
 * @example
 * ```ts
 * quantileMs(recorder.snapshot(), 0.99); // e.g. 18.4
 * ```
 */
export function quantileMs(snapshot: HistogramSnapshot, q: number): number | null {
  if (typeof q !== 'number' || !(q >= 0 && q <= 1))
    throw rangeError('quantileMs()', 'q', 'a number from 0 to 1', q);
  const { bucketsSeconds, counts, count } = snapshot;
  if (count === 0) return null;
  const rank = q * count;
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i]!;
    if (below + n >= rank && n > 0) {
      if (i === bucketsSeconds.length) return bucketsSeconds[i - 1]! * 1000;
      const lower = i === 0 ? 0 : bucketsSeconds[i - 1]!;
      const upper = bucketsSeconds[i]!;
      return (lower + ((upper - lower) * (rank - below)) / n) * 1000;
    }
    below += n;
  }
  return bucketsSeconds.at(-1)! * 1000;
}

function checkSnapshot(where: string, name: string, value: unknown): void {
  const counts = (value as Partial<HistogramSnapshot> | null)?.counts;
  if (typeof value !== 'object' || value === null || !Array.isArray(counts)) {
    throw typeError(
      where,
      name,
      'a histogram snapshot ({ bucketsSeconds, counts, sumSeconds, count })',
      value,
    );
  }
}

/** Subtract an earlier snapshot of the same histogram: the observations made in between. */
export function histogramDelta(
  now: HistogramSnapshot,
  before: HistogramSnapshot | undefined,
): HistogramSnapshot {
  checkSnapshot('histogramDelta()', 'now', now);
  if (before !== undefined) checkSnapshot('histogramDelta()', 'before', before);
  if (before === undefined || before.counts.length !== now.counts.length) return now;
  return {
    bucketsSeconds: now.bucketsSeconds,
    counts: now.counts.map((c, i) => c - (before.counts[i] ?? 0)),
    sumSeconds: now.sumSeconds - before.sumSeconds,
    count: now.count - before.count,
  };
}
