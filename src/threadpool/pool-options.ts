/**
 * What a ThreadPool is configured with and what it reports: its options (checked and given their
 * defaults here) and the shape of its `stats()` snapshot.
 */

import { availableParallelism } from 'node:os';
import type { ResourceLimits } from 'node:worker_threads';
import { checkInteger, checkOptions, checkString, checkTimeout, typeError } from '../internal/validate.js';
import type { LaneStats } from './lanes.js';

/** Options of {@link ThreadPool}. */
export interface ThreadPoolOptions {
  /** Most threads at once. Default: `os.availableParallelism()`. */
  maxThreads?: number;
  /** Threads kept even when idle. Default 0: threads start on demand. */
  minThreads?: number;
  /**
   * Most tasks waiting for a thread; one more fails at once with `PoolFull`. Default 4096. (Never
   * unbounded: a queue that grows without limit hides overload until memory runs out.)
   */
  maxQueue?: number;
  /** Milliseconds an idle thread above `minThreads` lives. Default 30 000. */
  idleTimeout?: number;
  /** Memory limits of each thread (`worker_threads` `resourceLimits`); a thread over them is stopped. */
  resourceLimits?: ResourceLimits;
  /** A name for run info, stats, metrics and errors. Default `pool-<n>` (`default` for the hub's). */
  name?: string;
  /**
   * Milliseconds a cancelled task that is running gets to stop by itself (through `checkpoint()` or
   * `currentSignal()`) before its thread is terminated and replaced. Default 250.
   */
  cancelGrace?: number;
  /**
   * Lower the pool threads' scheduling priority by this much (Unix `nice`, 0–19; default 0: the
   * hub's priority). On a machine whose cores the pool keeps busy, the hub thread then gets a core
   * as soon as it has work, so I/O latency holds while CPU tasks queue. Applied by piscina through
   * its optional `@napi-rs/nice` module (installed with it on the common platforms); where that
   * module is missing the threads keep the hub's priority.
   */
  niceIncrement?: number;
}

const OPTIONS = [
  'maxThreads',
  'minThreads',
  'maxQueue',
  'idleTimeout',
  'resourceLimits',
  'name',
  'cancelGrace',
  'niceIncrement',
] as const;

/** A timing summary in milliseconds (piscina's histograms). */
export interface TimingSummary {
  p50: number;
  p99: number;
  mean: number;
  max: number;
}

/** A snapshot of a pool: plain data, read by metrics at scrape time. */
export interface ThreadPoolStats {
  name: string;
  closed: boolean;
  /** Threads alive now, and how many of them are idle. */
  threads: number;
  idleThreads: number;
  minThreads: number;
  maxThreads: number;
  maxQueue: number;
  /** Tasks submitted and not yet settled by their thread (queued + running). */
  inFlight: number;
  /** Tasks waiting for a thread. */
  queued: number;
  /** Tasks on a thread (including cancelled ones still stopping). */
  running: number;
  /** Finished tasks by outcome. */
  tasks: { ok: number; error: number; cancelled: number; crashed: number };
  /** Threads terminated because a cancelled task did not stop within `cancelGrace`. */
  terminatedThreads: number;
  /** Time tasks waited for a thread, and ran on it (piscina's histograms, milliseconds). */
  waitTime: TimingSummary;
  runTime: TimingSummary;
  /** Share of the threads' capacity spent running tasks since the pool started, 0..1. */
  utilization: number;
  /** The pool's priority lanes (`pool.lane()`), in creation order; `queued` above includes their waiting tasks. */
  lanes: LaneStats[];
}

/** Calls a `hybrid()` function placed each way, cumulative. */
export interface HybridPlacements {
  inline: number;
  thread: number;
}

/** Options of {@link ThreadPool.close}. */
export interface CloseOptions {
  /**
   * Milliseconds to let tasks in flight finish; then they are cancelled (running ones get
   * `cancelGrace` to stop) and fail with `PoolClosedError`. Default: wait for all of them.
   */
  timeout?: number | null;
}

/** The options with their defaults, checked. */
export interface ResolvedOptions {
  name: string | undefined;
  maxThreads: number;
  minThreads: number;
  maxQueue: number;
  idleTimeout: number;
  cancelGrace: number;
  niceIncrement: number;
  resourceLimits: ResourceLimits | undefined;
}

export function resolveOptions(opts: ThreadPoolOptions | undefined): ResolvedOptions {
  const where = 'new ThreadPool()';
  checkOptions(where, 'opts', opts, OPTIONS);
  const maxThreads = opts?.maxThreads ?? availableParallelism();
  checkInteger(where, 'opts.maxThreads', maxThreads, 1, 'a positive integer', 1024);
  const minThreads = opts?.minThreads ?? 0;
  checkInteger(
    where,
    'opts.minThreads',
    minThreads,
    0,
    `an integer from 0 to maxThreads (${maxThreads})`,
    maxThreads,
  );
  const maxQueue = opts?.maxQueue ?? 4096;
  checkInteger(where, 'opts.maxQueue', maxQueue, 0, 'a non-negative integer (at most 1 000 000)', 1_000_000);
  const idleTimeout = checkTimeout(where, 'opts.idleTimeout', opts?.idleTimeout ?? 30_000);
  const cancelGrace = checkTimeout(where, 'opts.cancelGrace', opts?.cancelGrace ?? 250);
  if (cancelGrace === null) {
    throw typeError(where, 'opts.cancelGrace', 'a finite number of milliseconds', opts?.cancelGrace);
  }
  const niceIncrement = opts?.niceIncrement ?? 0;
  checkInteger(where, 'opts.niceIncrement', niceIncrement, 0, 'an integer from 0 to 19', 19);
  if (opts?.resourceLimits !== undefined) {
    checkOptions(where, 'opts.resourceLimits', opts.resourceLimits, [
      'maxOldGenerationSizeMb',
      'maxYoungGenerationSizeMb',
      'codeRangeSizeMb',
      'stackSizeMb',
    ]);
  }
  if (opts?.name !== undefined) checkString(where, 'opts.name', opts.name);
  return {
    name: opts?.name,
    maxThreads,
    minThreads,
    maxQueue,
    idleTimeout: idleTimeout ?? Number.POSITIVE_INFINITY,
    cancelGrace,
    niceIncrement,
    resourceLimits: opts?.resourceLimits,
  };
}

/** piscina's histogram summary (milliseconds), or zeros before any task. */
export function summary(
  histogram: { p50: number; p99: number; mean: number; max: number } | undefined,
): TimingSummary {
  if (histogram === undefined || !Number.isFinite(histogram.mean)) return { p50: 0, p99: 0, mean: 0, max: 0 };
  return { p50: histogram.p50, p99: histogram.p99, mean: histogram.mean, max: histogram.max };
}
