/**
 * `greenhub_greenlet_duration_seconds{name}`: how long greenlets ran, by name, recorded by a hook the
 * hub calls when a greenlet that ran dies (`hub._onGreenletEnd`, set only while some metrics
 * collection is open, so the hub pays nothing otherwise).
 *
 * The `name` label is the greenlet's name when set, else its function's name (`Greenlet-<id>` is
 * never used: ids are per greenlet). The first `limit` distinct names get their own series; greenlets
 * with later names are counted under `other`.
 */
import type { Greenlet } from '../greenlet/greenlet.js';
import { greenletEndHook, metricName, setGreenletEndHook } from '../greenlet/internal.js';
import { OTHER } from './names.js';
import { DurationRecorder, type HistogramSnapshot } from './recorder.js';

/** Distinct names remembered as mapping to `other` (beyond that they are looked up each time). */
const OTHER_CACHE = 10_000;

class GreenletDurations {
  limit = 0;
  private users = 0;
  private own = 0;
  private readonly recorders = new Map<string, DurationRecorder>();
  private other = new DurationRecorder();

  private readonly observe = (greenlet: Greenlet, ms: number): void => {
    const name = metricName(greenlet);
    const recorder = this.recorders.get(name) ?? this.add(name);
    recorder.observeMs(ms);
  };

  private add(name: string): DurationRecorder {
    if (this.own < this.limit) {
      const recorder = new DurationRecorder();
      this.recorders.set(name, recorder);
      this.own++;
      return recorder;
    }
    if (this.recorders.size < this.limit + OTHER_CACHE) this.recorders.set(name, this.other);
    return this.other;
  }

  attach(limit: number): boolean {
    if (this.users > 0 && limit !== this.limit) return false;
    this.limit = limit;
    if (this.users++ === 0) setGreenletEndHook(this.observe);
    return true;
  }

  /** The last collection closed: stop observing and forget (a new collection starts from zero). */
  detach(): void {
    if (--this.users !== 0) return;
    if (greenletEndHook() === this.observe) setGreenletEndHook(null);
    this.recorders.clear();
    this.own = 0;
    this.other = new DurationRecorder();
  }

  snapshot(): [string, HistogramSnapshot][] {
    const out: [string, HistogramSnapshot][] = [];
    for (const [name, recorder] of this.recorders)
      if (recorder !== this.other) out.push([name, recorder.snapshot()]);
    if (this.other.count > 0) out.push([OTHER, this.other.snapshot()]);
    return out;
  }
}

/** The one store of this thread (the hub has one hook). */
export const greenletDurations: GreenletDurations = new GreenletDurations();
