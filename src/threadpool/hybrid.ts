/**
 * hybrid(): run each call where it is cheapest. A call that costs less than shipping it to a
 * thread runs inline on the hub; an expensive one runs in the pool and leaves the hub free.
 *
 * The placement rule (documented in the README, observable through `stats()` and `place()`):
 *
 * 1. Each call gets a *size* (`opts.size(...args)`; without it every call has the same size) and a
 *    size *class*, `floor(log2(size + 1))`.
 * 2. The cost estimate of a class is an exponentially weighted mean (α = 0.2) of the synchronous
 *    run times measured for it — on the hub for inline calls, on the thread (by the worker itself,
 *    so dispatch and queueing are not counted) for pooled ones. A class without measurements
 *    borrows the nearest measured class's cost, scaled by the ratio of sizes (cost ∝ size).
 * 3. No estimate at all (the first call), or the function not yet loaded on this thread: **thread**.
 *    A wrong guess then costs one dispatch, never a hub stall.
 * 4. Estimate ≤ `thresholdMs` (default 0.5 ms): **inline**; above: **thread**.
 *
 * Both placements keep measuring, so a class whose cost changes moves across the threshold on its
 * own. Inline calls are also bounded per event-loop turn: once inline calls took `2 × thresholdMs`
 * in one turn, the next one first yields (`sleep(0)`), so a greenlet looping over cheap calls cannot
 * starve I/O.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { TaskCancelledError } from '../errors.js';
import { getHub } from '../greenlet/hub.js';
import { checkpoint, currentGreenlet } from '../greenlet/internal.js';
import { beginOperation } from '../greenlet/operation.js';
import { sleep } from '../greenlet/sleep.js';
import { nativeSetImmediate, now } from '../internal/natives.js';
import { checkFunction, checkOptions, checkString, rangeError, typeError } from '../internal/validate.js';
import type { PlacementRecorder } from '../metrics/placements.js';
import { type CancelledErrorClass, registry, type TaskContext } from '../worker/context.js';
import { ThreadPool, unmove } from './pool.js';
import type { HybridPlacements } from './pool-options.js';
import { CANCEL_NONE, FLAG_MEASURE, reasonOf } from './protocol.js';
import { cancelCodeOf } from './submission.js';
import { sourceRef, TaskRef } from './task.js';

type Fn = (...args: never[]) => unknown;

/** Options of {@link hybrid}. */
export interface HybridOptions<F extends Fn> {
  /** The pool for expensive calls. Default: the hub's (`getHub().threadpool`, read at each call). */
  pool?: ThreadPool;
  /** Calls estimated at or below this many milliseconds run inline. Default 0.5. */
  thresholdMs?: number;
  /** A call's size (input length, pixel count…): cost is learnt per size class. */
  size?: (...args: Parameters<F>) => number;
  /** A name for stats and metrics. Default: the task's label. */
  name?: string;
}

/** Where a call runs, and why. */
export interface Placement {
  placement: 'inline' | 'thread';
  /** The cost estimate in milliseconds, or `null` before any measurement. */
  estimateMs: number | null;
  reason: string;
}

/** One size class of the cost model. */
export interface HybridClass {
  /** Sizes in `[from, to)`. */
  from: number;
  to: number;
  estimateMs: number;
  samples: number;
}

/** A snapshot of a hybrid function: plain data, safe to log or serialise. */
export interface HybridStats {
  name: string;
  thresholdMs: number;
  /** Calls placed each way so far. */
  inline: number;
  thread: number;
  classes: HybridClass[];
}

/** A function that places each call inline or on a thread (see {@link hybrid}). */
export interface Hybrid<F extends Fn> {
  (...args: Parameters<F>): Promise<Awaited<ReturnType<F>>>;
  /** The placement the next call with these arguments would get. */
  place(...args: Parameters<F>): Placement;
  stats(): HybridStats;
}

interface SizeClass {
  estimateMs: number;
  samples: number;
  meanSize: number;
}

const ALPHA = 0.2;

/** Inline time spent in the current event-loop turn, across every hybrid function. */
let turnSpentMs = 0;
let turnResetQueued = false;
function resetTurn(): void {
  turnSpentMs = 0;
  turnResetQueued = false;
}

function spend(ms: number): void {
  turnSpentMs += ms;
  if (!turnResetQueued) {
    turnResetQueued = true;
    nativeSetImmediate(resetTurn);
  }
}

/** The context of an inline call, for `greenhub/worker` (currentSignal, checkpoint). */
class InlineContext implements TaskContext {
  code = CANCEL_NONE;
  /** What the caller was cancelled with (its kill's exception, its Timeout). */
  reason: unknown = undefined;
  private controller: AbortController | null = null;
  private Cancelled: CancelledErrorClass = TaskCancelledError;

  cancelCode(): number {
    return this.code;
  }

  signal(Cancelled: CancelledErrorClass = TaskCancelledError): AbortSignal {
    if (this.controller === null) {
      this.controller = new AbortController();
      this.Cancelled = Cancelled;
      if (this.code !== CANCEL_NONE) this.controller.abort(new Cancelled(reasonOf(this.code)));
    }
    return this.controller.signal;
  }

  cancel(reason: unknown): void {
    if (this.code !== CANCEL_NONE) return;
    this.reason = reason;
    this.code = cancelCodeOf(reason);
    this.controller?.abort(new this.Cancelled(reasonOf(this.code)));
  }
}

class CostModel {
  private readonly classes = new Map<number, SizeClass>();

  static classOf(size: number): number {
    return Math.floor(Math.log2(size + 1));
  }

  estimate(size: number): number | null {
    const own = this.classes.get(CostModel.classOf(size));
    if (own !== undefined) return own.estimateMs;
    let nearest: SizeClass | undefined;
    let distance = Number.POSITIVE_INFINITY;
    const target = CostModel.classOf(size);
    for (const [key, entry] of this.classes) {
      if (Math.abs(key - target) < distance) {
        distance = Math.abs(key - target);
        nearest = entry;
      }
    }
    return nearest === undefined ? null : (nearest.estimateMs * (size + 1)) / (nearest.meanSize + 1);
  }

  record(size: number, ms: number): void {
    const key = CostModel.classOf(size);
    const entry = this.classes.get(key);
    if (entry === undefined) {
      this.classes.set(key, { estimateMs: ms, samples: 1, meanSize: size });
      return;
    }
    entry.estimateMs += ALPHA * (ms - entry.estimateMs);
    entry.meanSize += (size - entry.meanSize) / Math.min(++entry.samples, 50);
  }

  snapshot(): HybridClass[] {
    return [...this.classes]
      .sort(([a], [b]) => a - b)
      .map(([key, entry]) => ({
        from: 2 ** key - 1,
        to: 2 ** (key + 1) - 1,
        estimateMs: entry.estimateMs,
        samples: entry.samples,
      }));
  }
}

/**
 * Make a function that runs each call either inline on the hub (cheap calls: no dispatch cost) or
 * on the pool's threads (expensive calls: the hub stays responsive), by the cost it measured for
 * calls of that size. `task` is a {@link TaskRef} (its module is also loaded on this thread, for
 * inline calls) or a self-contained function (sent by source to the threads, called directly
 * inline). See the module comment for the exact rule.
 *
 * @example
 * ```ts
 * const render = hybrid(task<typeof import('./md.js').render>(new URL('./md.js', import.meta.url), 'render'), {
 *   size: (markdown) => markdown.length,
 * });
 * const html = await render(body);          // a comment: inline; a whole book: on a thread
 * console.log(render.place(body), render.stats());
 * ```
 */
export function hybrid<F extends Fn>(task: TaskRef<F> | F, opts?: HybridOptions<F>): Hybrid<F> {
  const placer = new Placer(task, opts);
  const call = ((...args: Parameters<F>) => placer.call(args)) as Hybrid<F>;
  call.place = (...args: Parameters<F>): Placement => placer.place(args);
  call.stats = (): HybridStats => placer.stats();
  Object.defineProperty(call, 'name', { value: placer.name });
  return call;
}

const WHERE = 'hybrid()';

/** The state and the rule behind one hybrid function: its cost model, its pool, its counts. */
class Placer<F extends Fn> {
  readonly name: string;
  private readonly ref: TaskRef<F>;
  private readonly thresholdMs: number;
  private readonly sizeOf: ((...args: Parameters<F>) => number) | undefined;
  private readonly givenPool: ThreadPool | undefined;
  private readonly model = new CostModel();
  private readonly placed: HybridPlacements = { inline: 0, thread: 0 };
  /** The function, once loaded on this thread. */
  private local: ((...args: unknown[]) => unknown) | undefined = undefined;
  /**
   * The pool, resolved at the first call (the hub's pool is created on first use), and its counter
   * for this name, which carries the placements to that pool's metrics.
   */
  private pool: ThreadPool | undefined = undefined;
  private pooled: PlacementRecorder | undefined = undefined;

  constructor(task: TaskRef<F> | F, opts: HybridOptions<F> | undefined) {
    checkOptions(WHERE, 'opts', opts, ['pool', 'thresholdMs', 'size', 'name']);
    if (task instanceof TaskRef) this.ref = task;
    else if (typeof task === 'function') {
      this.ref = sourceRef(WHERE, task) as unknown as TaskRef<F>;
      this.ref._local ??= Promise.resolve(task);
    } else throw typeError(WHERE, 'task', 'a TaskRef or a self-contained function', task);
    const thresholdMs = opts?.thresholdMs ?? 0.5;
    if (typeof thresholdMs !== 'number') throw typeError(WHERE, 'opts.thresholdMs', 'a number', thresholdMs);
    if (!(thresholdMs >= 0) || !Number.isFinite(thresholdMs))
      throw rangeError(
        WHERE,
        'opts.thresholdMs',
        'a finite, non-negative number of milliseconds',
        thresholdMs,
      );
    this.thresholdMs = thresholdMs;
    this.sizeOf = opts?.size;
    if (this.sizeOf !== undefined) checkFunction(WHERE, 'opts.size', this.sizeOf);
    if (opts?.name !== undefined) checkString(WHERE, 'opts.name', opts.name);
    if (opts?.pool !== undefined && !(opts.pool instanceof ThreadPool))
      throw typeError(WHERE, 'opts.pool', 'a ThreadPool', opts.pool);
    this.givenPool = opts?.pool;
    this.name = opts?.name ?? this.ref.label;
  }

  call(args: Parameters<F>): Promise<Awaited<ReturnType<F>>> {
    try {
      const size = this.sizeFor(args);
      if (this.local === undefined) this.load();
      const placement = this.decide(size);
      return placement.placement === 'inline'
        ? this.inline(this.local!, args, size, placement.estimateMs)
        : this.onThread(args, size, placement.estimateMs);
    } catch (error) {
      return Promise.reject(error); // a bad size, a closed or full pool: the promise carries it
    }
  }

  place(args: Parameters<F>): Placement {
    return this.decide(this.sizeFor(args));
  }

  stats(): HybridStats {
    return {
      name: this.name,
      thresholdMs: this.thresholdMs,
      inline: this.placed.inline,
      thread: this.placed.thread,
      classes: this.model.snapshot(),
    };
  }

  private count(placement: keyof HybridPlacements, estimateMs: number | null): ThreadPool {
    if (this.pool === undefined) {
      this.pool = this.givenPool ?? getHub().threadpool;
      this.pooled = this.pool._placements(this.name);
    }
    this.placed[placement]++;
    this.pooled!.count(placement, estimateMs);
    return this.pool;
  }

  private load(): void {
    this.ref._load().then(
      (fn) => {
        this.local = fn as unknown as (...args: unknown[]) => unknown;
      },
      () => {
        // Not loadable here: every call stays on threads, where the error (if any) is reported.
      },
    );
  }

  private sizeFor(args: Parameters<F>): number {
    if (this.sizeOf === undefined) return 0;
    const size = this.sizeOf(...args);
    if (typeof size !== 'number' || !(size >= 0) || !Number.isFinite(size))
      throw rangeError(WHERE, 'opts.size(...args)', 'a finite, non-negative number', size);
    return size;
  }

  private decide(size: number): Placement {
    const estimateMs = this.model.estimate(size);
    const thresholdMs = this.thresholdMs;
    if (this.local === undefined)
      return { placement: 'thread', estimateMs, reason: 'the function is not loaded on this thread yet' };
    if (estimateMs === null) return { placement: 'thread', estimateMs, reason: 'no measurement yet' };
    return estimateMs <= thresholdMs
      ? { placement: 'inline', estimateMs, reason: `estimate ≤ thresholdMs (${thresholdMs} ms)` }
      : { placement: 'thread', estimateMs, reason: `estimate > thresholdMs (${thresholdMs} ms)` };
  }

  private onThread(
    args: Parameters<F>,
    size: number,
    estimateMs: number | null,
  ): Promise<Awaited<ReturnType<F>>> {
    const submission = this.count('thread', estimateMs)._submit<Awaited<ReturnType<F>>>(
      WHERE,
      this.ref,
      args as unknown[],
      FLAG_MEASURE,
    );
    submission.onRunMs = (ms) => this.model.record(size, ms);
    return submission.wait();
  }

  private async inline(
    fn: (...args: unknown[]) => unknown,
    args: Parameters<F>,
    size: number,
    estimateMs: number | null,
  ): Promise<Awaited<ReturnType<F>>> {
    if (turnSpentMs >= 2 * this.thresholdMs) await sleep(0);
    const pending = checkpoint();
    if (pending !== undefined) throw pending.error;
    this.count('inline', estimateMs);
    const context = new InlineContext();
    registry.inline ??= new AsyncLocalStorage<TaskContext>();
    const start = now();
    let result: unknown;
    try {
      result = registry.inline.run(context, fn, ...(args as unknown[]));
    } finally {
      const ms = now() - start;
      spend(ms);
      this.model.record(size, ms);
    }
    if (
      typeof (result as PromiseLike<unknown> | null)?.then !== 'function' ||
      currentGreenlet() === undefined
    )
      return unmove(await result) as Awaited<ReturnType<F>>;
    // An async task awaits: make it part of the greenlet's cancellation, as a pool task would be.
    const operation = beginOperation('task', (reason) => context.cancel(reason));
    try {
      return unmove(await cancellable(result as Promise<unknown>, context)) as Awaited<ReturnType<F>>;
    } finally {
      operation.end();
    }
  }
}

/** `promise`, or a rejection as soon as the inline call is cancelled (the kill returns promptly). */
function cancellable<T>(promise: Promise<T>, context: InlineContext): Promise<T> {
  const signal = context.signal();
  if (signal.aborted) return Promise.reject(context.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(context.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
