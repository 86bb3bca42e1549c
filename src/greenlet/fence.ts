/**
 * Fences: how a deadline is kept at the caller when the callee awaits something greenhub cannot
 * see.
 *
 * JavaScript cannot interrupt an `await` on a promise nobody told the hub about (a database
 * driver's query on a pooled socket, any unpatched promise). gevent's promise — a killed or
 * timed-out greenlet stops waiting *now* — is kept where it can be: at the caller. `withTimeout`
 * stops waiting for its body and returns (or throws) on time; `kill()` declares the greenlet dead
 * (see `Greenlet._fenceIfStillPending`). The code that was waiting goes on running when its promise
 * settles: it is an *abandoned continuation*, and it is fenced off —
 *
 * - its result is discarded (nobody awaits it any more);
 * - its next checkpoint (a hub wait, a patched I/O call) throws the exception that abandoned it,
 *   once; after that it runs as top-level code: its waits belong to no greenlet, a later kill of
 *   the greenlet does not reach it, and its Timeouts do not fire into the greenlet;
 * - it is counted (`getHub().stats().abandoned`, `greenhub_abandoned_continuations_total`) and
 *   listed in run info until it settles.
 *
 * A `Fence` is the async context of a `withTimeout` body: the greenlet's own context is the
 * greenlet itself, and a body runs in a fence whose parent is the context it was called from, so
 * that abandoning the body leaves the greenlet's own flow untouched. While not abandoned, a fence
 * is transparent: everything it is asked is answered by its parent.
 *
 * Prior art: trio's cancel scopes (a scope is a context the cancellation is bound to), Effect's
 * interruption of `Effect.promise` (the fiber returns at once; the promise runs on, its result
 * ignored).
 */
import { now } from '../internal/natives.js';
import type { Greenlet } from './greenlet.js';
import { type AbandonedRecord, getHub, type HubContext } from './hub.js';

const NONE: unique symbol = Symbol('none');

/** @internal The async context of a `withTimeout` body (see the module comment). */
export class Fence implements HubContext, AbandonedRecord {
  abandonedAt = 0;
  private abandonedWith: unknown = NONE;
  /** Named when abandoned: the greenlet's id is reused once it is dead. */
  private what = '';
  private pending: unknown = NONE;

  constructor(
    readonly parent: HubContext,
    private readonly label: string,
  ) {}

  get _greenlet(): Greenlet {
    return this.parent._greenlet;
  }

  /** True once the caller stopped waiting for this body. */
  get abandoned(): boolean {
    return this.abandonedWith !== NONE;
  }

  _liveOwner(): Greenlet | undefined {
    return this.abandonedWith === NONE ? this.parent._liveOwner() : undefined;
  }

  _hasPendingThrow(): boolean {
    return this.abandonedWith === NONE ? this.parent._hasPendingThrow() : this.pending !== NONE;
  }

  _takePendingThrow(): unknown {
    if (this.abandonedWith === NONE) return this.parent._takePendingThrow();
    const exception = this.pending;
    this.pending = NONE;
    getHub()._pendingThrowTaken();
    return exception;
  }

  /** The caller stopped waiting with `exception`: the body's next checkpoint throws it. */
  abandon(exception: unknown): void {
    if (this.abandonedWith !== NONE) return;
    const hub = getHub();
    this.abandonedWith = this.pending = exception;
    this.abandonedAt = now();
    const why = exception instanceof Error ? exception.name : String(exception);
    this.what = `${this.label} body in ${this._greenlet}, abandoned (${why})`;
    hub._pendingThrowSet();
    hub._abandoned(this);
  }

  /** The body's promise settled. If it was abandoned, its result is discarded here. */
  settled(): void {
    if (this.abandonedWith === NONE) return;
    if (this.pending !== NONE) this._takePendingThrow();
    getHub()._abandonedSettled(this);
  }

  describe(): string {
    return this.what;
  }
}
