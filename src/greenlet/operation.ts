/**
 * Operations: work a greenlet awaits that is not a hub wait — a thread-pool task, a patched
 * `fetch`, timer or socket. Registering one makes it part of the greenlet's cancellation: while it
 * is in flight, a `kill()` or a firing `Timeout` calls its `abort(reason)` (which must make the
 * awaited promise reject with `reason` and free the resource) instead of waiting for the next
 * checkpoint. Each operation is aborted individually, so a Timeout caught around one operation
 * does not affect the next.
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
import { checkFunction, checkString } from '../internal/validate.js';
import type { Greenlet } from './greenlet.js';
import { currentGreenlet, getHub } from './hub.js';

export class Operation {
  /** @internal the greenlet's list of operations */
  _prev: Operation | null = null;
  /** @internal */
  _next: Operation | null = null;
  private ended = false;

  constructor(
    /** A short, bounded name: `timer`, `fetch`, `net`, `fs`, `dns`, `child`, `task`… */
    readonly kind: string,
    /** The greenlet that started it; `null` outside any greenlet (counted, never cancelled). */
    readonly greenlet: Greenlet | null,
    private readonly onAbort: (reason: unknown) => void,
  ) {}

  /** The operation finished (or failed): stop tracking it. Idempotent. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    getHub()._operationEnded(this.kind);
    this.greenlet?._removeOperation(this);
  }

  /** @internal deliver a kill/Timeout */
  _abort(reason: unknown): void {
    if (this.ended) return;
    this.end();
    this.onAbort(reason);
  }
}

/**
 * Register work the current greenlet awaits outside the hub, so that kill and Timeout reach it
 * (see the module comment). Outside a greenlet it is only counted.
 */
export function beginOperation(kind: string, abort: (reason: unknown) => void): Operation {
  checkString('beginOperation()', 'kind', kind);
  checkFunction('beginOperation()', 'abort', abort);
  const greenlet = currentGreenlet() ?? null;
  const operation = new Operation(kind, greenlet, abort);
  getHub()._operationBegan(kind);
  greenlet?._addOperation(operation);
  return operation;
}
