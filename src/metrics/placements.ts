/**
 * What `hybrid()` decided, with the estimate it decided on: placements per function name, and the
 * cost estimates behind them as histograms, so that `greenhub_hybrid_estimate_seconds` shows where
 * a function's calls fall around its threshold. Recorded at each call (two increments and a short
 * bucket scan), read at scrape time.
 */
import { DurationRecorder, type HistogramSnapshot } from './recorder.js';
import { POOL_DURATION_BUCKETS_SECONDS } from './task-durations.js';

/** A snapshot of one {@link PlacementRecorder}. */
export interface PlacementSnapshot {
  readonly inline: number;
  readonly thread: number;
  /**
   * The cost estimates of the calls placed each way. Calls placed before any measurement (always
   * on a thread) have no estimate: `thread` minus `estimateSeconds.thread.count` of them.
   */
  readonly estimateSeconds?: { readonly inline: HistogramSnapshot; readonly thread: HistogramSnapshot };
}

/**
 * Placements of the `hybrid()` functions of one name.
 *
 * @example
 * ```ts
 * const placed = new PlacementRecorder();
 * placed.count('inline', 0.12); // placed inline on an estimate of 0.12 ms
 * placed.count('thread', null); // no estimate yet
 * placed.snapshot().estimateSeconds?.inline.count; // 1
 * ```
 */
export class PlacementRecorder {
  inline = 0;
  thread = 0;
  private readonly estimates = {
    inline: new DurationRecorder(POOL_DURATION_BUCKETS_SECONDS),
    thread: new DurationRecorder(POOL_DURATION_BUCKETS_SECONDS),
  };

  /** Count one call placed `placement`, on `estimateMs` (`null`: no estimate yet). */
  count(placement: 'inline' | 'thread', estimateMs: number | null): void {
    this[placement]++;
    if (estimateMs !== null) this.estimates[placement].observeMs(estimateMs);
  }

  snapshot(): PlacementSnapshot {
    return {
      inline: this.inline,
      thread: this.thread,
      estimateSeconds: { inline: this.estimates.inline.snapshot(), thread: this.estimates.thread.snapshot() },
    };
  }
}
