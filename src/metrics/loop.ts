/**
 * Event loop delay and utilization: cumulative totals for metrics, and windows that each reader
 * resets on its own (the status page, the demo's load summary).
 *
 * Loop delay is sampled with a 10 ms timer (on the captured original `setInterval`, unref'd): each
 * tick records how late it ran — 0 on an idle loop, the length of the block after one. Node's
 * `monitorEventLoopDelay` is not used because resetting it also forgets when it last ticked, so a
 * block right after a reset is lost, and its samples include the 10 ms interval itself.
 *
 * Each reader (the metrics collector, the status page) owns a {@link LoopWindow}; `take()` returns
 * what happened since its previous `take()` and starts a new window, so readers never reset each
 * other. The sampler runs while at least one window is open or {@link retainLoopSampler} holds it.
 *
 * Metrics read {@link loopTotals} instead: the same samples in a histogram that is never reset, the
 * loop's busy time since the process started (`performance.eventLoopUtilization().active`), and
 * the utilization over the last ~10 s, from snapshots the sampler keeps once a second. None of it
 * depends on when, or by whom, it is read: two scrapers see the same series.
 */
import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks';
import { nativeClearInterval, nativeSetInterval, now } from '../internal/natives.js';
import { DurationRecorder, type HistogramSnapshot } from './recorder.js';

const INTERVAL_MS = 10;
/** The trailing window of {@link LoopTotals.utilization}. */
export const LOOP_UTILIZATION_WINDOW_MS = 10_000;

/** Upper bounds (seconds) of `greenhub_loop_delay_seconds`: 0.5 ms to 10 s. */
export const LOOP_DELAY_BUCKETS_SECONDS: readonly number[] = Object.freeze([
  0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10,
]);

/** What a {@link LoopWindow} saw. Delays in seconds. */
export interface LoopWindowStats {
  /** Samples in the window (about one per 10 ms of wall time). */
  samples: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Sum of the delays of the window's samples. */
  sum: number;
  /** Event loop utilization over the window, 0–1. */
  utilization: number;
}

const windows = new Set<LoopWindow>();
let retained = 0;
let timer: ReturnType<typeof setInterval> | undefined;
let last = 0;
/** Every sample since the process first sampled; never reset. */
const delays = new DurationRecorder(LOOP_DELAY_BUCKETS_SECONDS);
type Elu = ReturnType<typeof performance.eventLoopUtilization>;
/** Utilization snapshots about a second apart, the oldest at most ~11 s old. */
const elus: { t: number; elu: Elu }[] = [];

function tick(): void {
  const t = now();
  const lateMs = Math.max(0, t - last - INTERVAL_MS);
  const lateNs = Math.max(1, Math.round(lateMs * 1e6));
  last = t;
  delays.observeMs(lateMs);
  for (const w of windows) w._record(lateNs);
  if (elus.length === 0 || t - elus[elus.length - 1]!.t >= 1000) {
    elus.push({ t, elu: performance.eventLoopUtilization() });
    while (elus.length > 2 && elus[1]!.t <= t - LOOP_UTILIZATION_WINDOW_MS) elus.shift();
  }
}

function startSampler(): void {
  if (timer !== undefined) return;
  last = now();
  elus.length = 0;
  elus.push({ t: last, elu: performance.eventLoopUtilization() });
  timer = nativeSetInterval(tick, INTERVAL_MS);
  timer.unref();
}

function stopSamplerIfUnused(): void {
  if (windows.size === 0 && retained === 0 && timer !== undefined) {
    nativeClearInterval(timer);
    timer = undefined;
  }
}

/** What the loop did, cumulatively: what `greenhub_loop_*` export. */
export interface LoopTotals {
  /** How late the 10 ms sampling timer ran, every sample since sampling first started. */
  delay: HistogramSnapshot;
  /** Time the event loop spent running (not waiting for I/O) since the process started, in seconds. */
  busySeconds: number;
  /**
   * Busy time over wall time across the last ~10 s (up to 11 s: snapshots are a second apart), or
   * since sampling started if that is more recent; 0–1.
   */
  utilization: number;
}

/**
 * The loop's cumulative totals. Reading them changes nothing: every reader sees the same values.
 *
 * @example
 * ```ts
 * const release = retainLoopSampler();
 * const { delay, busySeconds, utilization } = loopTotals();
 * release();
 * ```
 */
export function loopTotals(): LoopTotals {
  const current = performance.eventLoopUtilization();
  const oldest = elus[0];
  return {
    delay: delays.snapshot(),
    busySeconds: current.active / 1000,
    utilization:
      oldest === undefined ? 0 : performance.eventLoopUtilization(current, oldest.elu).utilization || 0,
  };
}

/**
 * Keep the loop sampler running (for {@link loopTotals}) until the returned function is called
 * (idempotent).
 *
 * @example
 * ```ts
 * const release = retainLoopSampler();
 * // … scrape loopTotals() as often as wanted …
 * release();
 * ```
 */
export function retainLoopSampler(): () => void {
  retained++;
  startSampler();
  let released = false;
  return () => {
    if (released) return;
    released = true;
    retained--;
    stopSamplerIfUnused();
  };
}

/**
 * A reader's window over the event loop's delay and utilization. Close it when done.
 *
 * @example
 * ```ts
 * const loop = openLoopWindow();
 * setInterval(() => console.log(loop.take().p99), 1000);
 * ```
 */
export class LoopWindow {
  private readonly histogram: RecordableHistogram = createHistogram();
  private sumNs = 0;
  private elu = performance.eventLoopUtilization();
  private closed = false;

  /** @internal */
  _record(ns: number): void {
    this.histogram.record(ns);
    this.sumNs += ns;
  }

  /** The window since the previous `take()` (or since opening); starts the next window. */
  take(): LoopWindowStats {
    const h = this.histogram;
    const samples = h.count;
    const elu = performance.eventLoopUtilization(this.elu);
    this.elu = performance.eventLoopUtilization();
    const stats: LoopWindowStats =
      samples === 0
        ? { samples: 0, p50: 0, p90: 0, p99: 0, max: 0, sum: 0, utilization: elu.utilization }
        : {
            samples,
            p50: h.percentile(50) / 1e9,
            p90: h.percentile(90) / 1e9,
            p99: h.percentile(99) / 1e9,
            max: h.max / 1e9,
            sum: this.sumNs / 1e9,
            utilization: elu.utilization,
          };
    h.reset();
    this.sumNs = 0;
    return stats;
  }

  /** Stop sampling for this window (the sampler stops with the last one). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    windows.delete(this);
    stopSamplerIfUnused();
  }

  /** @internal */
  _open(): this {
    windows.add(this);
    startSampler();
    return this;
  }
}

/** Open a {@link LoopWindow}: sampling starts now. */
export function openLoopWindow(): LoopWindow {
  return new LoopWindow()._open();
}
