/**
 * Operations: work a greenlet awaits that is not a hub wait — a thread-pool task, a patched
 * `fetch`, timer or socket. Registering one makes it part of the greenlet's cancellation: while it
 * is in flight, a `kill()` or a firing `Timeout` calls its `abort(reason)` (which must make the
 * awaited promise reject with `reason` and free the resource) instead of waiting for the next
 * checkpoint. Each operation is aborted individually, so a Timeout caught around one operation
 * does not affect the next.
 *
 * Delivery. An abort either *delivers* the exception (the awaited promise rejects, an error-first
 * callback or an `'error'` listener receives it) or only frees the resource (a socket destroyed
 * while nobody listens for `'error'` closes; the code waiting on it resumes and meets the exception
 * at its next checkpoint). `abort` returns `false` in the second case, and when no operation and no
 * hub wait delivered, the greenlet keeps the exception pending for its next checkpoint.
 *
 * Reach. A kill reaches the wait, not the world (gevent's rule: only the killed greenlet's own
 * blocking point raises). Operations are aborted only when the greenlet is not parked in a hub wait
 * — then it is presumably waiting in one of them; when it is parked, the wait is where the kill
 * lands, and operations it started without waiting in them go on, as they would on plain Node.
 *
 * Weak operations are those a greenlet usually does not wait in: a callback timer (a `setInterval`
 * started by a request must outlive it; clearing a timer whose callback is the very `resolve` the
 * greenlet awaits would strand it). A weak operation is never cancelled for the sake of it; its
 * abort is asked only whether it is the greenlet's wait (it returns `true` when it delivered, as a
 * timer whose callback is a promise's resolve function does), and only when nothing else delivered.
 *
 * Operations are also counted per kind, per greenlet (run info) and per hub (stats, metrics).
 * Whoever begins one ends it, in `finally`.
 *
 * @example
 * ```ts
 * const op = beginOperation('fetch', (reason) => controller.abort(reason));
 * try { return await fetch(url, { signal: controller.signal }); } finally { op.end(); }
 * ```
 */
import { nodes } from '../internal/intrusive-list.js';
import { checkFunction, checkString } from '../internal/validate.js';
import type { Greenlet } from './greenlet.js';
import { currentGreenlet, getHub, type OperationCounter } from './hub.js';

/**
 * What an operation's abort does: stop the work, free its resource, and make whoever awaits it see
 * `reason`. Return `false` when the resource was freed but `reason` could not be delivered (a weak
 * operation: when it is not the greenlet's wait, and then it must leave the work untouched).
 */
export type AbortOperation = (reason: unknown) => boolean | undefined | void;

/**
 * Work in flight outside the hub, registered with {@link beginOperation}.
 *
 * @example
 * ```ts
 * const op = beginOperation('task', (reason) => worker.cancel(reason));
 * try { return await worker.result; } finally { op.end(); }
 * ```
 */
export class Operation {
  /** @internal the greenlet's list of operations */
  _prev: Operation | null = null;
  /** @internal */
  _next: Operation | null = null;
  /** @internal the hub's counter of this kind, once registered */
  _counter: OperationCounter | null = null;
  private ended = false;

  constructor(
    /** A short, bounded name: `timer`, `fetch`, `net`, `fs`, `dns`, `child`, `task`… */
    readonly kind: string,
    /** The greenlet that started it; `null` outside any greenlet (counted, never cancelled). */
    readonly greenlet: Greenlet | null,
    private readonly onAbort: AbortOperation,
    /** Never cancelled for its own sake: aborted only when it is the greenlet's wait (see the module comment). */
    readonly weak = false,
  ) {}

  /** True once ended or aborted. */
  get done(): boolean {
    return this.ended;
  }

  /** The operation finished (or failed): stop tracking it. Idempotent. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this._counter !== null) this._counter.inFlight--;
    this.greenlet?._removeOperation(this);
  }

  /** @internal deliver a kill/Timeout; true when the exception reached the greenlet */
  _abort(reason: unknown): boolean {
    if (this.ended) return false;
    if (this.weak) {
      if (this.onAbort.call(this, reason) !== true) return false;
      this.end();
      return true;
    }
    this.end();
    return this.onAbort.call(this, reason) !== false;
  }
}

/**
 * Abort the operations of a greenlet that is not parked in a hub wait: first those that can
 * deliver, then — if none did — the weak ones, which deliver only when they are the wait (see the
 * module comment). Returns whether the exception was delivered.
 *
 * @internal Greenlet._deliver
 */
export function abortOperations(first: Operation, reason: unknown): boolean {
  // A snapshot: an abort may start or end other operations of the same greenlet synchronously.
  const operations: Operation[] = [];
  let weak = false;
  for (const op of nodes(first)) {
    operations.push(op);
    if (op.weak) weak = true;
  }
  let delivered = false;
  for (const op of operations) if (!op.weak && op._abort(reason)) delivered = true;
  if (delivered || !weak) return delivered;
  for (const op of operations) if (op.weak && op._abort(reason)) delivered = true;
  return delivered;
}

/** @internal count `operation` on the hub and attach it to its greenlet. */
export function registerOperation<O extends Operation>(operation: O): O {
  const counter = (operation._counter = getHub()._operationCounter(operation.kind));
  counter.inFlight++;
  operation.greenlet?._addOperation(operation);
  return operation;
}

/**
 * Register work the current greenlet awaits outside the hub, so that kill and Timeout reach it
 * (see the module comment). Outside a greenlet it is only counted.
 *
 * @example
 * ```ts
 * const controller = new AbortController();
 * const op = beginOperation('fetch', (reason) => controller.abort(reason));
 * try { return await fetch(url, { signal: controller.signal }); } finally { op.end(); }
 * ```
 */
export function beginOperation(kind: string, abort: AbortOperation): Operation {
  checkString('beginOperation()', 'kind', kind);
  checkFunction('beginOperation()', 'abort', abort);
  return registerOperation(new Operation(kind, currentGreenlet() ?? null, abort));
}
