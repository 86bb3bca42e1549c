/**
 * Priority lanes: admission to a pool's threads by priority, on p-queue.
 *
 * piscina's queue is FIFO: a latency-sensitive task submitted behind a hundred batch tasks waits for
 * all of them. A pool's lanes put an admission step in front of piscina:
 *
 * ```text
 * lane "batch"  (p-queue: concurrency, intervalCap/interval) ─┐
 * lane "users"  (p-queue: concurrency, intervalCap/interval) ─┼─> pool admission (one p-queue,
 *                                                             │   concurrency = maxThreads,
 *                                                             │   ordered by lane priority) ─> piscina
 * ```
 *
 * - Each lane's own p-queue bounds the lane (`concurrency`: tasks of the lane admitted or running at
 *   once; `intervalCap` per `interval` ms: a rate limit).
 * - The pool's admission p-queue lets at most `maxThreads` lane tasks into piscina at once, so
 *   piscina's FIFO queue stays short and the next free thread goes to the highest-priority waiting
 *   task (p-queue's `priority`; FIFO within one priority).
 * - A task holds its pool slot (and counts against `maxQueue`) from its call, as any pool task.
 * - Kill, Timeout or close of a task still waiting for admission removes it from the p-queue that
 *   holds it (through an AbortSignal given to p-queue, aborted only while the task is not yet on
 *   its way to a thread) and its caller sees the kill at once; once admitted, cancellation is the
 *   pool's usual two phases.
 *
 * Calls made on the pool itself (not through a lane) go straight to piscina, as before: they are
 * not ordered against lane tasks. Put every kind of work in a lane when priorities matter.
 *
 * p-queue is loaded by the first `pool.lane()` (importing greenhub does not pay for it): tasks
 * submitted before it is loaded wait in the lane, in order, and join its queue once it is.
 */
import type PQueue from 'p-queue';
import { InvalidStateError } from '../errors.js';
import { now } from '../internal/natives.js';
import { checkOptions, checkString, rangeError, typeError } from '../internal/validate.js';
import { DurationRecorder, type HistogramSnapshot, quantileMs } from '../metrics/recorder.js';
import { POOL_DURATION_BUCKETS_SECONDS } from '../metrics/task-durations.js';
import type { Submission } from './submission.js';

/** Options of {@link ThreadPool.lane}. */
export interface LaneOptions {
  /** Higher is admitted first (p-queue's `priority`). Default 0. */
  priority?: number;
  /** At most this many of the lane's tasks admitted or running at once. Default: no bound but the pool's. */
  concurrency?: number;
  /** At most this many of the lane's tasks admitted per `interval`. Default: no rate limit. */
  intervalCap?: number;
  /** The rate limit's window, in milliseconds (with `intervalCap`). Default 0: none. */
  interval?: number;
}

/** A snapshot of one lane (in `pool.stats().lanes`). */
export interface LaneStats {
  name: string;
  priority: number;
  concurrency: number;
  /** Tasks waiting for admission (in the lane's queue or the pool's admission queue). */
  queued: number;
  /** Tasks admitted to piscina and not yet settled. */
  running: number;
  /** Tasks admitted so far. */
  admitted: number;
  /** Tasks removed while waiting (killed, timed out, pool closed). */
  dropped: number;
  /** Time from the call to admission, milliseconds: p50 and p99 (null before the first admission). */
  waitP50Ms: number | null;
  waitP99Ms: number | null;
}

/** What a lane reports to metrics at scrape time. */
export interface LaneMetricsSnapshot {
  queued: number;
  running: number;
  /** Time from the call to admission to piscina. */
  waitSeconds: HistogramSnapshot;
}

/** How a pool hands a task to a lane: send it to piscina, or give its slot back unsent. */
export interface LaneTicket {
  readonly submission: Submission;
  /** Post the task to piscina; the promise settles when piscina settles it. */
  dispatch(): Promise<unknown>;
  /** The task leaves without running (cancelled while waiting): release it with `reason`. */
  drop(reason: unknown): void;
}

let pQueue: Promise<typeof PQueue> | undefined;
/** p-queue, loaded once, on first use. */
function loadPQueue(): Promise<typeof PQueue> {
  pQueue ??= import('p-queue').then((m) => m.default);
  return pQueue;
}

/** The admission queue of one pool, shared by its lanes. */
export class LaneScheduler {
  /** null until p-queue is loaded. */
  admission: PQueue | null = null;
  readonly lanes = new Map<string, Lane>();
  readonly ready: Promise<typeof PQueue>;

  constructor(maxThreads: number) {
    this.ready = loadPQueue().then((Queue) => {
      this.admission = new Queue({ concurrency: maxThreads });
      return Queue;
    });
  }

  /** Tasks of every lane waiting for admission. */
  get queued(): number {
    let n = 0;
    for (const lane of this.lanes.values()) n += lane.queued;
    return n;
  }
}

/**
 * One lane of a pool: its bound, its rate limit, its priority, and its counts.
 *
 * @example
 * ```ts
 * const interactive = pool.lane('interactive', { priority: 10 });
 * await interactive.apply(render, page); // admitted before any waiting task of a lower lane
 * ```
 */
export class Lane {
  readonly name: string;
  readonly priority: number;
  readonly concurrency: number;
  readonly intervalCap: number;
  readonly interval: number;
  /** null until p-queue is loaded; the tasks admitted meanwhile wait in `early`, in order. */
  private queue: PQueue | null = null;
  private early: (() => void)[] | null = [];
  private readonly wait = new DurationRecorder(POOL_DURATION_BUCKETS_SECONDS);
  /** Waiting for admission. */
  queued = 0;
  private running = 0;
  private admitted = 0;
  private dropped = 0;

  constructor(
    private readonly scheduler: LaneScheduler,
    name: string,
    opts: Required<LaneOptions>,
  ) {
    this.name = name;
    this.priority = opts.priority;
    this.concurrency = opts.concurrency;
    this.intervalCap = opts.intervalCap;
    this.interval = opts.interval;
    scheduler.ready.then(
      (Queue) => {
        this.queue = new Queue({
          concurrency: opts.concurrency,
          intervalCap: opts.intervalCap,
          interval: opts.interval,
        });
        const early = this.early!;
        this.early = null;
        for (const enqueue of early) enqueue();
      },
      (error: unknown) => {
        // p-queue cannot be loaded (a broken install): every waiting task fails with the reason.
        const early = this.early!;
        this.early = null;
        this.broken = error;
        for (const enqueue of early) enqueue();
      },
    );
  }

  /** Why p-queue could not be loaded, if it could not. */
  private broken: unknown = undefined;

  /** True when `opts` (resolved) are this lane's. */
  sameOptions(opts: Required<LaneOptions>): boolean {
    return (
      opts.priority === this.priority &&
      opts.concurrency === this.concurrency &&
      opts.intervalCap === this.intervalCap &&
      opts.interval === this.interval
    );
  }

  /**
   * Queue `ticket` for admission. Until it is dispatched, aborting its Submission (kill, Timeout,
   * close) removes it from whichever p-queue holds it and drops it; once dispatched, piscina's own
   * abort listener replaces this one (Submission keeps one listener), and cancellation is the
   * pool's usual two phases.
   */
  admit(ticket: LaneTicket): void {
    const { submission } = ticket;
    const controller = new AbortController();
    let dispatched = false;
    this.queued++;
    submission.addEventListener('abort', () => {
      if (!dispatched) controller.abort(submission.reason);
    });
    const signal = controller.signal;
    const toThread = (): Promise<unknown> => {
      dispatched = true;
      this.queued--;
      this.running++;
      this.admitted++;
      this.wait.observeMs(now() - submission.submittedAt);
      return ticket.dispatch().finally(() => {
        this.running--;
      });
    };
    const enqueue = (): void => {
      const admitted =
        this.queue === null
          ? Promise.reject(this.broken)
          : this.queue.add(
              () => this.scheduler.admission!.add(toThread, { priority: this.priority, signal }),
              { signal },
            );
      admitted.catch((error: unknown) => {
        if (dispatched) return; // piscina settled it: the pool already counted the outcome
        this.queued--;
        this.dropped++;
        ticket.drop(error);
      });
    };
    if (this.early === null) enqueue();
    else this.early.push(enqueue);
  }

  /** @internal for `pool.stats()` */
  stats(): LaneStats {
    const wait = this.wait.snapshot();
    return {
      name: this.name,
      priority: this.priority,
      concurrency: this.concurrency,
      queued: this.queued,
      running: this.running,
      admitted: this.admitted,
      dropped: this.dropped,
      waitP50Ms: quantileMs(wait, 0.5),
      waitP99Ms: quantileMs(wait, 0.99),
    };
  }

  /** @internal for metrics */
  metricsSnapshot(): LaneMetricsSnapshot {
    return { queued: this.queued, running: this.running, waitSeconds: this.wait.snapshot() };
  }
}

/** Check `pool.lane()`'s arguments; the options with their defaults. */
export function resolveLaneOptions(where: string, name: unknown, opts: unknown): Required<LaneOptions> {
  checkString(where, 'name', name);
  if (name === '') throw rangeError(where, 'name', 'a non-empty string', name);
  checkOptions(where, 'opts', opts, ['priority', 'concurrency', 'intervalCap', 'interval']);
  const given = (opts ?? {}) as Record<string, unknown>;
  const number = (key: string, fallback: number, check: (v: number) => boolean, expected: string): number => {
    const v = given[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'number') throw typeError(where, `opts.${key}`, expected, v);
    if (!check(v)) throw rangeError(where, `opts.${key}`, expected, v);
    return v;
  };
  const countOrInfinity = (v: number) => v === Number.POSITIVE_INFINITY || (Number.isInteger(v) && v >= 1);
  return {
    priority: number('priority', 0, Number.isFinite, 'a finite number (higher is admitted first)'),
    concurrency: number(
      'concurrency',
      Number.POSITIVE_INFINITY,
      countOrInfinity,
      'a positive integer, or Infinity',
    ),
    intervalCap: number(
      'intervalCap',
      Number.POSITIVE_INFINITY,
      countOrInfinity,
      'a positive integer, or Infinity',
    ),
    interval: number(
      'interval',
      0,
      (v) => Number.isFinite(v) && v >= 0,
      'a finite, non-negative number of milliseconds',
    ),
  };
}

/** The error for a second `pool.lane(name, opts)` with other options than the first. */
export function laneConflict(where: string, pool: string, name: string): InvalidStateError {
  return new InvalidStateError(
    `${where}: ThreadPool "${pool}" already has a lane "${name}" with other options; ` +
      'call pool.lane(name) without options to get it, or choose another name',
  );
}
