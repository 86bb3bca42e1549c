/**
 * One task in flight: the caller's promise, its cancellation, and what the pool must do when it
 * ends.
 *
 * Two lifetimes meet here and are kept apart on purpose:
 * - the **caller's promise** settles with the result, or *at once* when the caller cancels (its
 *   greenlet is killed or times out, `imap`'s consumer stops, the pool closes): cancellation never
 *   waits for a thread;
 * - the **task on the thread** ends when piscina settles it; only then is its slot reused and the
 *   pool's bookkeeping updated (a cancelled task that keeps computing still occupies its thread).
 *
 * Cancelling a task (see {@link Submission.cancel}) is done in two phases: a queued task is removed
 * from piscina's queue; a running one is asked to stop through its shared cancellation cell (its
 * `currentSignal()` aborts, its next `checkpoint()` throws) and, if it has not finished after the
 * pool's `cancelGrace`, piscina terminates its thread, which the pool replaces.
 *
 * A Submission is also the AbortSignal-like object piscina listens to for that second phase (one
 * allocation less per task than an AbortController).
 *
 * A task can fail before anyone waits for it (a spawned greenlet that has not started yet, on a warm
 * pool whose reply arrives first), and that must not be an unhandled rejection: a failure that
 * comes before the first {@link Submission.wait} gives the caller's promise a handler first. The
 * first wait gets the caller's promise itself (the common case, `apply`: no extra promise per
 * task), later waits and waits after such a failure a promise derived from it; either way a caller
 * who drops the promise it got still hears about the failure.
 *
 * Per-call options ({@link CallOptions}: an AbortSignal, a timeout) cancel the task exactly as a
 * kill does; the Submission owns their listener and timer and releases both when it settles.
 */

import { GreenletExit, PoolClosedError } from '../errors.js';
import { currentGreenlet } from '../greenlet/internal.js';
import { beginOperation, type Operation } from '../greenlet/operation.js';
import { Timeout } from '../greenlet/timeout.js';
import { nativeClearTimeout, nativeSetTimeout, now } from '../internal/natives.js';
import { promiseFor } from '../internal/settler.js';
import type { Lane } from './lanes.js';
import { CANCEL_CLOSE, CANCEL_KILL, CANCEL_TIMEOUT, STATE_QUEUED } from './protocol.js';
import type { AnyTaskRef } from './task.js';

/** Per-call options, validated (see pool-view.ts): what cancels the task besides its caller. */
export interface CallOptions {
  /** Cancels the task when it aborts; the call rejects with its `reason`. */
  readonly signal?: AbortSignal | undefined;
  /** Cancels the task this many milliseconds after it was submitted, with a `Timeout`. */
  readonly timeoutMs?: number | null;
  /** Admits the task to the threads through this lane (lanes.ts) instead of at once. */
  readonly lane?: Lane;
}

/** What a Submission needs from its pool. */
export interface SubmissionHost {
  readonly name: string;
  readonly cancelGrace: number;
  /** @internal The state of the task in `slot` (cells.ts). */
  _taskState(slot: number): number;
  /** @internal Write the cancellation code into the task's cell. */
  _askToStop(slot: number, code: number): void;
  /** @internal A task was cancelled by its caller (counted once). */
  _cancelled(): void;
}

export class Submission<R = unknown> {
  /** The caller's promise: the result, or the cancellation reason at once. */
  readonly promise: Promise<R>;
  /** The caller's promise has settled. */
  settled = false;
  /** piscina settled the task: its thread is done with it. */
  finished = false;
  /** Set when the task was cancelled (by whichever caller first). */
  cancelledWith: unknown = undefined;
  /**
   * Called with the call's synchronous run time, measured by the worker, once piscina settles the
   * task (also after the caller gave up on it); not called when the worker never got that far.
   * Set by hybrid(), whose cost model learns from every run.
   */
  onRunMs: ((ms: number) => void) | null = null;
  /** When the caller submitted the task (`performance.now()`), for the pool's wait-time metric. */
  readonly submittedAt = now();
  /** `wait()` handed out the caller's promise itself; `guarded`: it has a handler of our own. */
  private waited = false;
  private guarded = false;
  /** @internal Settle {@link promise} (see internal/settler.ts). */
  resolve!: (value: R) => void;
  /** @internal */
  reject!: (error: unknown) => void;
  private operation: Operation | null = null;
  private grace: ReturnType<typeof setTimeout> | undefined = undefined;
  /** The per-call deadline and abort listener, released when the caller's promise settles. */
  private deadline: ReturnType<typeof setTimeout> | undefined = undefined;
  private signal: AbortSignal | undefined = undefined;
  private onSignal: (() => void) | null = null;
  // piscina's view: an AbortSignal with one listener.
  aborted = false;
  reason: unknown = undefined;
  private abortListener: (() => void) | null = null;

  constructor(
    readonly host: SubmissionHost,
    readonly ref: AnyTaskRef,
    readonly args: unknown[],
    readonly slot: number,
    /** The public call, for error messages. */
    readonly where: string,
  ) {
    this.promise = promiseFor(this);
  }

  /**
   * A Submission for a call whose signal had already aborted: settled with `reason`, never sent to
   * a thread, holding no slot.
   */
  static refused<R>(host: SubmissionHost, ref: AnyTaskRef, where: string, reason: unknown): Submission<R> {
    const submission = new Submission<R>(host, ref, [], -1, where);
    submission.finished = true;
    submission.fail(reason);
    return submission;
  }

  /**
   * Start watching the call's options: the signal's abort and the timeout each cancel the task.
   * Released when the caller's promise settles.
   */
  watch(options: CallOptions): void {
    const { signal, timeoutMs } = options;
    if (signal !== undefined) {
      this.signal = signal;
      this.onSignal = () => this.cancel(signal.reason);
      signal.addEventListener('abort', this.onSignal, { once: true });
    }
    if (timeoutMs !== undefined && timeoutMs !== null) {
      this.deadline = nativeSetTimeout(() => this.cancel(new Timeout(timeoutMs)), timeoutMs);
    }
  }

  /**
   * A promise of the caller's outcome, with the task registered as an operation of the current
   * greenlet, so that killing it or a Timeout firing in it cancels the task at once. The first call
   * returns the caller's promise itself, later ones a promise derived from it (see the module
   * comment): whoever drops the promise it got, and it rejects, gets the unhandled rejection.
   */
  wait(): Promise<R> {
    if (!this.settled && currentGreenlet() !== undefined) {
      this.operation = beginOperation('task', (reason) => this.cancel(reason));
    }
    if (this.waited || this.guarded) return this.promise.then();
    this.waited = true;
    return this.promise;
  }

  /** Settle the caller's promise with the task's outcome (unless it was cancelled already). */
  succeed(value: R): void {
    if (this.settled) return;
    this.settle();
    this.resolve(value);
  }

  fail(error: unknown): void {
    if (this.settled) return;
    this.settle();
    if (!this.waited) {
      this.guarded = true;
      this.promise.catch(ignore);
    }
    this.reject(error);
  }

  private settle(): void {
    this.settled = true;
    this.operation?.end();
    if (this.deadline !== undefined) {
      nativeClearTimeout(this.deadline);
      this.deadline = undefined;
    }
    if (this.onSignal !== null) {
      this.signal!.removeEventListener('abort', this.onSignal);
      this.onSignal = null;
      this.signal = undefined;
    }
  }

  /**
   * Cancel: the caller's promise rejects with `reason` now, and the task is stopped in two phases
   * (see the module comment). Idempotent; does nothing once the task finished.
   */
  cancel(reason: unknown): void {
    if (!this.settled) {
      this.fail(reason);
      this.host._cancelled();
    }
    if (this.finished || this.cancelledWith !== undefined) return;
    this.cancelledWith = reason ?? new GreenletExit();
    this.host._askToStop(this.slot, cancelCodeOf(reason));
    if (this.host._taskState(this.slot) === STATE_QUEUED) {
      this.abort();
    } else {
      this.grace = nativeSetTimeout(() => this.abort(), this.host.cancelGrace);
      this.grace.unref();
    }
  }

  /** piscina settled the task. */
  markFinished(): void {
    this.finished = true;
    if (this.grace !== undefined) {
      nativeClearTimeout(this.grace);
      this.grace = undefined;
    }
  }

  /** Phase two, or removal from the queue: piscina drops the task or terminates its thread. */
  abort(): void {
    if (this.aborted || this.finished) return;
    this.aborted = true;
    this.reason = this.cancelledWith;
    const listener = this.abortListener;
    this.abortListener = null;
    listener?.();
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    this.abortListener = listener;
  }

  removeEventListener(): void {
    this.abortListener = null;
  }
}

function ignore(): void {}

/**
 * The cancellation code a task sees (its `TaskCancelledError.reason`) for what its caller was
 * cancelled with: a `Timeout` or the reason of `AbortSignal.timeout()` (a DOMException named
 * `TimeoutError`) is a timeout, a closing pool is a close, anything else a kill.
 */
export function cancelCodeOf(reason: unknown): number {
  if (reason instanceof Timeout || (reason instanceof DOMException && reason.name === 'TimeoutError'))
    return CANCEL_TIMEOUT;
  return reason instanceof PoolClosedError ? CANCEL_CLOSE : CANCEL_KILL;
}
