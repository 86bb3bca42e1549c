/**
 * Wait and run times of a pool's tasks, by task name, with a bounded number of names: what
 * `greenhub_threadpool_wait_seconds{pool, task}` and `greenhub_threadpool_run_seconds{pool, task}`
 * export. Recording is a map lookup and two bucket increments, on the path that settles a task;
 * reading is a snapshot at scrape time.
 *
 * The buckets start at 50 µs: the question "is this task worth a thread?" is decided below a
 * millisecond, where `hybrid()`'s default threshold (0.5 ms) lies.
 */
import { BoundedLabel } from './names.js';
import { DurationRecorder, type HistogramSnapshot } from './recorder.js';

/** Upper bounds (seconds) of the pool's wait, run and estimate histograms: 50 µs to 60 s. */
export const POOL_DURATION_BUCKETS_SECONDS: readonly number[] = Object.freeze([
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
  30, 60,
]);

/** Distinct task names a pool reports on their own; later names are counted as `other`. */
export const DEFAULT_TASK_LABELS = 20;

/** One task name's histograms. */
export interface TaskDurationsSnapshot {
  waitSeconds: HistogramSnapshot;
  runSeconds: HistogramSnapshot;
}

/**
 * Per-task wait and run histograms of one pool.
 *
 * @example
 * ```ts
 * const times = new TaskDurations();
 * times.observe('resize', 0.3, 12.5); // waited 0.3 ms, ran 12.5 ms
 * times.snapshot(); // { resize: { waitSeconds, runSeconds } }
 * ```
 */
export class TaskDurations {
  private readonly labels: BoundedLabel;
  private readonly byTask = new Map<string, { wait: DurationRecorder; run: DurationRecorder }>();

  /** `limit`: distinct task names with their own series (default {@link DEFAULT_TASK_LABELS}). */
  constructor(limit: number = DEFAULT_TASK_LABELS) {
    this.labels = new BoundedLabel(limit);
  }

  /** Record one task's wait and run time, in milliseconds. */
  observe(task: string, waitMs: number, runMs: number): void {
    let r = this.byTask.get(task);
    if (r === undefined) {
      // A name past the limit maps to `other` (the map never holds more than limit + 1 entries).
      const label = this.labels.value(task);
      r = this.byTask.get(label);
      if (r === undefined) {
        r = {
          wait: new DurationRecorder(POOL_DURATION_BUCKETS_SECONDS),
          run: new DurationRecorder(POOL_DURATION_BUCKETS_SECONDS),
        };
        this.byTask.set(label, r);
      }
    }
    r.wait.observeMs(waitMs);
    r.run.observeMs(runMs);
  }

  /** The histograms by task label (the names past the limit merged in `other`). A copy. */
  snapshot(): Record<string, TaskDurationsSnapshot> {
    const out: Record<string, TaskDurationsSnapshot> = {};
    for (const [task, r] of this.byTask)
      out[task] = { waitSeconds: r.wait.snapshot(), runSeconds: r.run.snapshot() };
    return out;
  }
}
