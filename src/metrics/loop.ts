/**
 * Event loop delay and utilization, in windows that each reader resets on its own.
 *
 * Loop delay is sampled with a 10 ms timer (on the captured original `setInterval`, unref'd): each
 * tick records how late it ran — 0 on an idle loop, the length of the block after one. Node's
 * `monitorEventLoopDelay` is not used because resetting it also forgets when it last ticked, so a
 * block right after a reset is lost, and its samples include the 10 ms interval itself.
 *
 * Each reader (the metrics collector, the status page) owns a {@link LoopWindow}; `take()` returns
 * what happened since its previous `take()` and starts a new window, so readers never reset each
 * other. The sampler runs while at least one window is open.
 */
import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks';
import { nativeClearInterval, nativeSetInterval, now } from '../internal/natives.js';

const INTERVAL_MS = 10;

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
let timer: ReturnType<typeof setInterval> | undefined;
let last = 0;

function tick(): void {
  const t = now();
  const lateNs = Math.max(1, Math.round((t - last - INTERVAL_MS) * 1e6));
  last = t;
  for (const w of windows) w._record(lateNs);
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
    if (windows.size === 0 && timer !== undefined) {
      nativeClearInterval(timer);
      timer = undefined;
    }
  }

  /** @internal */
  _open(): this {
    windows.add(this);
    if (timer === undefined) {
      last = now();
      timer = nativeSetInterval(tick, INTERVAL_MS);
      timer.unref();
    }
    return this;
  }
}

/** Open a {@link LoopWindow}: sampling starts now. */
export function openLoopWindow(): LoopWindow {
  return new LoopWindow()._open();
}
