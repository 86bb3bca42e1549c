/**
 * The one park/wake handoff that every primitive uses — no primitive builds its own promise
 * plumbing (gevent's `_abstract_linkable.py`, trio's `_core/_traps.py`).
 *
 * A wait is a {@link Waiter}: a promise plus two intrusive list memberships.
 *
 * - In the **primitive's** {@link WaitList} (an Event's links, a Semaphore's acquirers, a Queue's
 *   getters…), FIFO, so that whoever waited first is woken first. Primitives never resolve a promise
 *   themselves: they call {@link Link.fire} on the head of their list.
 * - In its **owner's** list: the greenlet that waits (or the hub's top-level owner for code outside
 *   any greenlet). That is how cancellation finds it: `kill()`, a `Timeout`, `LoopExit` and deadlock
 *   detection all end a wait through {@link Waiter.fail}, here and nowhere else.
 *
 * Guarantees:
 * - A waiter settles exactly once. `fire`/`fail`/`expire` on a settled waiter are no-ops, so a wake
 *   racing a kill can never deliver both (a queue item handed to a getter that is killed in the same
 *   turn stays delivered; the kill is then delivered at the getter's next checkpoint).
 * - Settling unlinks the waiter from both lists and disarms its timer in the same step, so nothing
 *   leaks when a wait ends early.
 * - Every blocking call is a checkpoint: {@link park} first delivers a pending kill or Timeout, even
 *   when the wait would not block (see `takePendingThrow` in hub.ts).
 * - A wait given the caller's `AbortSignal` (`{ signal }`, as `timers/promises` and `events.once`
 *   take it) rejects with the signal's reason when it aborts, at once when it already has.
 */
import { armTimer, disarmTimer, now, type Timer } from '../internal/natives.js';
import { promiseFor } from '../internal/settler.js';
import { getHub, type Hub, type WaitOwner } from './hub.js';

/**
 * What holds a {@link Link}: the {@link WaitList} it is queued in, or the Linkable whose only link
 * it is (see linkable.ts). Internal: its one member is stripped from the published types.
 */
export interface LinkOwner {
  /** @internal */
  _removeLink(link: Link): void;
}

/** A node in a {@link WaitList}: a parked waiter or a callback (rawlink, pool reservation…). */
export abstract class Link {
  prev: Link | null = null;
  next: Link | null = null;
  list: LinkOwner | null = null;
  /** Called by the primitive with what the waiter gets (an item, `true`, the ready object…). */
  abstract fire(arg: unknown): void;
  /** True for links that call user code (rawlink, link…): they must not run synchronously. */
  get runsUserCode(): boolean {
    return false;
  }
  /**
   * @internal The link to queue in a {@link WaitList} when this one, an object's lone link (see
   * linkable.ts), must join a list. Itself, except for a link that many objects hold at once (a
   * multi-object wait's, wait.ts), which can sit in no list and gives one of that object's own.
   */
  _forList(): Link {
    return this;
  }
}

/**
 * An intrusive FIFO of {@link Link}s with O(1) push, shift and removal: the queue of a primitive
 * (a Semaphore's acquirers, a Queue's getters) and the links of a {@link Linkable}. Internal: it is
 * not part of any public type.
 */
export class WaitList {
  head: Link | null = null;
  tail: Link | null = null;
  size = 0;
  /** Set while a notification of this list is queued on the hub, so it is queued once. */
  notifyQueued = false;
  /**
   * Set once a link that runs user code was pushed. Parked waiters and internal bookkeeping links
   * run no user code, so a list of only those fires synchronously (a woken greenlet resumes in a
   * microtask anyway); a list with user callbacks is fired in one microtask, in order.
   */
  hasUserLinks = false;

  push(link: Link): void {
    if (link.runsUserCode) this.hasUserLinks = true;
    link.list = this;
    link.prev = this.tail;
    link.next = null;
    if (this.tail === null) this.head = link;
    else this.tail.next = link;
    this.tail = link;
    this.size++;
  }

  shift(): Link | null {
    const link = this.head;
    if (link !== null) this.remove(link);
    return link;
  }

  /** @internal LinkOwner: take out a link queued here */
  _removeLink(link: Link): void {
    this.remove(link);
  }

  remove(link: Link): void {
    if (link.prev === null) this.head = link.next;
    else link.prev.next = link.next;
    if (link.next === null) this.tail = link.prev;
    else link.next.prev = link.prev;
    link.prev = link.next = link.list = null;
    this.size--;
  }

  /** Fire every link in order, including links pushed while firing. */
  fireAll(arg: unknown): void {
    let link: Link | null;
    while ((link = this.shift()) !== null) link.fire(arg);
  }
}

/** A link that calls an internal function (bookkeeping that runs no user code). */
export class CallbackLink extends Link {
  constructor(readonly fn: (arg: never) => void) {
    super();
  }
  fire(arg: unknown): void {
    (this.fn as (arg: unknown) => void)(arg);
  }
}

/** What a waiter resolves with when fired. */
export enum FireMode {
  /** Resolve with the fired argument (a queue item, `true` from a semaphore, `undefined` for sleep). */
  Value = 0,
  /** Resolve with `true` whatever is fired (Event.wait, join). */
  True = 1,
  /** The fired argument is a finished result: resolve with its value or reject with its error. */
  Result = 2,
}

/** @internal A finished outcome a {@link FireMode.Result} waiter reads (Greenlet, AsyncResult). */
export interface ResultSource {
  readonly _failed: boolean;
  readonly _result: unknown;
}

/** Wraps an error factory so that a wait's timeout rejects instead of resolving. */
export class RejectWith {
  constructor(readonly make: () => unknown) {}
}

/**
 * Anything a waiter can be parked on. `toString()` describes it in run info; `blockers` (when
 * present) names the greenlets whose progress this wait depends on, for deadlock detection.
 */
export interface WaitTarget {
  toString(): string;
}

/** @internal A parked wait. Created only by {@link park}. */
export class Waiter extends Link {
  /**
   * Its place in its owner's list of parked waits (the greenlet or top-level code that waits; see
   * internal/intrusive-list.ts); `prev`/`next` are its place in the primitive's queue.
   */
  _prev: Waiter | null = null;
  _next: Waiter | null = null;
  owner: WaitOwner | null;
  timer: Timer | undefined = undefined;
  /** The caller's `AbortSignal` (`{ signal }`), listened to while parked; the waiter is its listener. */
  signal: AbortSignal | null = null;
  /**
   * When the wait began, in whole milliseconds of the `now()` clock (run info's `forMs`): an integer
   * is stored in the field itself, where a fractional one would be a number object of its own, one
   * more allocation per wait. Rounded down, so a wait never reads shorter than it was.
   */
  readonly since: number;
  readonly promise: Promise<unknown>;
  /** @internal Settle {@link promise} (see internal/settler.ts). */
  resolve!: (value: unknown) => void;
  /** @internal */
  reject!: (error: unknown) => void;

  constructor(
    owner: WaitOwner,
    /** What is waited on (an Event, a Greenlet, a Lock…). */
    readonly on: WaitTarget,
    /** The operation, for run info: `'wait'`, `'acquire'`, `'get'`, `'put'`, `'join'`, `'sleep'`. */
    readonly op: string,
    readonly mode: FireMode,
    /** What a timeout settles the wait with: a value, or {@link RejectWith}. */
    readonly onTimeout: unknown,
    /** Data the waiter carries (a blocked putter's item). */
    readonly payload: unknown,
  ) {
    super();
    this.owner = owner;
    this.since = Math.floor(now());
    this.promise = promiseFor(this);
    owner._addWaiter(this);
  }

  get settled(): boolean {
    return this.owner === null;
  }

  fire(arg: unknown): void {
    if (!this.detach()) return;
    if (this.mode === FireMode.Value) this.resolve(arg);
    else if (this.mode === FireMode.True) this.resolve(true);
    else if ((arg as ResultSource)._failed) this.reject((arg as ResultSource)._result);
    else this.resolve((arg as ResultSource)._result);
  }

  /** End the wait with an error: kill, Timeout, LoopExit, shutdown. */
  fail(error: unknown): void {
    if (this.detach()) this.reject(error);
  }

  /**
   * End a wait that nobody will ever await any more (its greenlet finished while it was still
   * parked, e.g. the loser of a `Promise.race`). The rejection is marked handled so that it cannot
   * surface as an unhandled rejection.
   */
  abandon(error: unknown): void {
    if (!this.detach()) return;
    this.promise.catch(ignore);
    this.reject(error);
  }

  /** The wait's own timer fired. */
  expire(): void {
    this.timer = undefined;
    if (!this.detach()) return;
    const outcome = this.onTimeout;
    if (outcome instanceof RejectWith) this.reject(outcome.make());
    else this.resolve(outcome);
  }

  /** Hub run queue entry point: a `sleep(0)` waiter resumes. */
  _run(): void {
    this.fire(undefined);
  }

  /** The caller's signal aborted: the wait rejects with its reason. */
  handleEvent(): void {
    this.fail(this.signal!.reason);
  }

  private detach(): boolean {
    const owner = this.owner;
    if (owner === null) return false;
    if (this.list !== null) this.list._removeLink(this);
    if (this.timer !== undefined) {
      disarmTimer(this.timer);
      this.timer = undefined;
    }
    if (this.signal !== null) {
      this.signal.removeEventListener('abort', this);
      this.signal = null;
    }
    owner._removeWaiter(this);
    this.owner = null;
    return true;
  }
}

function ignore(): void {}

/**
 * The checkpoint of a blocking call that completes without blocking (an Event already set, a
 * dead greenlet joined): a pending kill/Timeout of the current greenlet wins over `result`.
 */
export function checkpointed<T>(hub: Hub, result: Promise<T>): Promise<T> {
  const pending = hub._checkpoint();
  if (pending === undefined) return result;
  result.catch(ignore);
  return Promise.reject(pending.error);
}

/** Returned by the hub instead of an owner when a wait must not begin (pending kill, deadlock). */
export class Refusal {
  constructor(readonly error: unknown) {}
}

function expireWaiter(waiter: Waiter): void {
  getHub()._afterQueued(expireNow, waiter);
}

function expireNow(waiter: Waiter): void {
  waiter.expire();
}

/**
 * Park the current greenlet (or top-level code) on `on`, optionally queued in `list` and bounded by
 * `timeoutMs`. This is the only place a wait begins; it is a checkpoint: a pending kill or Timeout
 * rejects at once, and a wait that would close a cycle of joins/owned locks rejects with
 * `DeadlockError` before it is registered. A timeout of 0 means "poll": the wait settles at once
 * with its timeout outcome, after the checkpoint.
 */
export function park<T>(
  hub: Hub,
  on: WaitTarget,
  op: string,
  list: WaitList | null,
  timeoutMs: number | null,
  mode: FireMode,
  onTimeout: unknown,
  payload?: unknown,
  signal?: AbortSignal,
): Promise<T> {
  if (timeoutMs === 0) {
    const owner = hub._ownerForWait(on, op, 0);
    if (owner instanceof Refusal) return Promise.reject(owner.error);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return onTimeout instanceof RejectWith
      ? Promise.reject(onTimeout.make())
      : Promise.resolve(onTimeout as T);
  }
  const waiter = parkWaiter(hub, on, op, list, timeoutMs, mode, onTimeout, payload, signal);
  return waiter instanceof Refusal ? Promise.reject(waiter.error) : (waiter.promise as Promise<T>);
}

/** @internal {@link park}, returning the waiter itself (or the refusal) for callers that schedule its wake-up. */
export function parkWaiter(
  hub: Hub,
  on: WaitTarget,
  op: string,
  list: WaitList | null,
  timeoutMs: number | null,
  mode: FireMode,
  onTimeout: unknown,
  payload?: unknown,
  signal?: AbortSignal,
): Waiter | Refusal {
  // A wait the caller can abort is bounded: it cannot close a cycle that never ends.
  const owner = hub._ownerForWait(on, op, signal === undefined ? timeoutMs : -1);
  if (owner instanceof Refusal) return owner;
  if (signal?.aborted) return new Refusal(signal.reason);
  const waiter = new Waiter(owner, on, op, mode, onTimeout, payload);
  if (list !== null) list.push(waiter);
  if (timeoutMs !== null) waiter.timer = armTimer(expireWaiter, timeoutMs, waiter);
  if (signal !== undefined) {
    waiter.signal = signal;
    signal.addEventListener('abort', waiter);
  }
  return waiter;
}
