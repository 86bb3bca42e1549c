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
 * The caller's promise has a handler from the moment it exists: a task can fail before anyone
 * waits for it (a spawned greenlet that has not started yet, on a warm pool whose reply arrives
 * first), and that must not be an unhandled rejection. Each {@link Submission.wait} returns a promise
 * of its own, derived from it, so a caller who drops *that* promise still hears about the failure.
 */
import { GreenletExit, PoolClosedError } from '../errors.js';
import { currentGreenlet } from '../greenlet/hub.js';
import { beginOperation, type Operation } from '../greenlet/operation.js';
import { Timeout } from '../greenlet/timeout.js';
import { nativeClearTimeout, nativeSetTimeout, now } from '../internal/natives.js';
import { CANCEL_CLOSE, CANCEL_KILL, CANCEL_TIMEOUT } from '../worker/context.js';
import { STATE_QUEUED } from './cells.js';
import type { AnyTaskRef } from './task.js';

/** What a Submission needs from its pool. */
export interface SubmissionHost {
  readonly name: string;
  readonly cancelGrace: number;
  /** The state of the task in `slot` (cells.ts). */
  _taskState(slot: number): number;
  /** Write the cancellation code into the task's cell. */
  _askToStop(slot: number, code: number): void;
  /** A task was cancelled by its caller (counted once). */
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
  private resolve!: (value: R) => void;
  private reject!: (error: unknown) => void;
  private operation: Operation | null = null;
  private grace: ReturnType<typeof setTimeout> | undefined = undefined;
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
    this.promise = new Promise<R>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.promise.catch(ignore);
  }

  /**
   * A promise of the caller's outcome, with the task registered as an operation of the current
   * greenlet, so that killing it or a Timeout firing in it cancels the task at once. Each call
   * returns a new promise: whoever drops it unsettled-and-rejected gets the unhandled rejection.
   */
  wait(): Promise<R> {
    if (!this.settled && currentGreenlet() !== undefined) {
      this.operation = beginOperation('task', (reason) => this.cancel(reason));
    }
    return this.promise.then();
  }

  /** Settle the caller's promise with the task's outcome (unless it was cancelled already). */
  succeed(value: R): void {
    if (this.settled) return;
    this.settled = true;
    this.operation?.end();
    this.resolve(value);
  }

  fail(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.operation?.end();
    this.reject(error);
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
    const code =
      reason instanceof Timeout
        ? CANCEL_TIMEOUT
        : reason instanceof PoolClosedError
          ? CANCEL_CLOSE
          : CANCEL_KILL;
    this.host._askToStop(this.slot, code);
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
