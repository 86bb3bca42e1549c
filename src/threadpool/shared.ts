/**
 * SharedEvent, SharedSemaphore, SharedLock: primitives over a SharedArrayBuffer that every thread
 * of the process can use at once. A worker thread waits on them synchronously (`Atomics.wait`: the
 * `*Sync` methods); a greenlet waits cooperatively (`Atomics.waitAsync`, through the hub: the plain
 * methods), so the hub keeps running while it waits.
 *
 * They cross threads as they are: pass one as a pool task's or a `Thread`'s argument and the other
 * side gets a working instance on the same memory (a top-level argument is revived automatically;
 * anything nested, with `SharedEvent.from(value)`…).
 *
 * Cooperative waits park in the hub like any other wait (so kill, Timeout and `LoopExit` apply), on
 * a per-buffer *poller* that keeps one `Atomics.waitAsync` pending while greenlets wait. Node does
 * not count a pending `waitAsync` as loop work, so the poller holds a hub waker, but only while a
 * greenhub thread that could release the wait is alive (liveness.ts): waiting on a SharedEvent that
 * no live thread can set is a `LoopExit`, not a hang. A `set()`/`release()` on the waiting thread
 * itself wakes its greenlets directly.
 *
 * Not FIFO across threads: a release wakes every waiter and the first to take the permit wins, as
 * with a pthread mutex. Within one thread's hub, cooperative waiters are served in FIFO order.
 */
import { isMainThread } from 'node:worker_threads';
import { InvalidStateError, OverReleaseError } from '../errors.js';
import { getHub } from '../greenlet/hub.js';
import {
  checkpoint,
  checkpointed,
  FireMode,
  parkWaiter,
  Refusal,
  type Waiter,
  WaitList,
  type WaitTarget,
} from '../greenlet/internal.js';
import { now } from '../internal/natives.js';
import { checkBoolean, checkInteger, checkOptions, checkTimeout, typeError } from '../internal/validate.js';
import { waitAsync } from '../worker/context.js';
import { type LivenessWatcher, liveThreads, unwatchLiveness, watchLiveness } from './liveness.js';
import { SHARED_BRAND } from './protocol.js';

const RESOLVED_TRUE: Promise<boolean> = Promise.resolve(true);
const RESOLVED_FALSE: Promise<boolean> = Promise.resolve(false);

/** Options of `acquire`/`acquireSync`. */
export interface SharedAcquireOptions {
  /** `false`: take a permit only if one is free now. Default `true`. */
  blocking?: boolean;
  /** Wait at most this many milliseconds. */
  timeout?: number | null;
}

const pollers = new WeakMap<SharedArrayBuffer, Poller>();

/** What the primitives share: the buffer, the brand that survives cloning, the two ways to wait. */
abstract class SharedPrimitive implements WaitTarget {
  abstract toString(): string;
  /** The shared memory; passing the object to another thread shares it. */
  readonly buffer: SharedArrayBuffer;
  /** @internal which shared primitive this is, readable after a structured clone */
  readonly [SHARED_BRAND]: string;
  /** @internal not enumerable: a clone carries only the buffer and the brand */
  declare readonly _cell: Int32Array;

  protected constructor(kind: string, buffer: SharedArrayBuffer, initial: number, attach: boolean) {
    this.buffer = buffer;
    this[SHARED_BRAND] = kind;
    const cell = new Int32Array(buffer, 0, 1);
    if (!attach) Atomics.store(cell, 0, initial);
    Object.defineProperty(this, '_cell', { value: cell, enumerable: false });
  }

  /** @internal take what a waiter waits for (a permit), or check for it (a set flag) */
  abstract _grant(): boolean;

  /** @internal wake the greenlets of this thread that wait on this buffer */
  _wakeLocal(): void {
    pollers.get(this.buffer)?.serve();
  }

  /** @internal a cooperative wait: resolves true when granted, false on timeout */
  _park(op: string, timeoutMs: number | null): Promise<boolean> {
    let poller = pollers.get(this.buffer);
    if (poller === undefined) {
      poller = new Poller(this);
      pollers.set(this.buffer, poller);
    }
    return poller.park(op, timeoutMs);
  }

  /** @internal a blocking wait of this thread (`Atomics.wait`); refused on the main thread */
  _block(where: string, timeoutMs: number | null): boolean {
    if (isMainThread && timeoutMs !== 0) {
      throw new InvalidStateError(
        `${where} would block the main thread, and with it the hub and every greenlet; use the ` +
          'cooperative form (`await …`) there. The *Sync forms are for worker threads',
      );
    }
    const deadline = timeoutMs === null ? Number.POSITIVE_INFINITY : now() + timeoutMs;
    for (;;) {
      if (this._grant()) return true;
      const left = deadline - now();
      if (left <= 0) return false;
      Atomics.wait(this._cell, 0, 0, left === Number.POSITIVE_INFINITY ? undefined : left);
    }
  }

  /** @internal wake every thread waiting on the buffer, and this thread's greenlets */
  _notify(): void {
    Atomics.notify(this._cell, 0);
    this._wakeLocal();
  }
}

/**
 * One thread's cooperative waiters on one buffer, and the single `Atomics.waitAsync` that stands
 * for all of them.
 */
class Poller implements LivenessWatcher {
  private readonly waiters = new WaitList();
  private polling = false;
  private releaseWaker: (() => void) | null = null;
  private watching = false;

  constructor(private readonly primitive: SharedPrimitive) {}

  park(op: string, timeoutMs: number | null): Promise<boolean> {
    const waiter = parkWaiter(getHub(), this.primitive, op, this.waiters, timeoutMs, FireMode.Value, false);
    if (waiter instanceof Refusal) return Promise.reject(waiter.error);
    if (!this.watching) {
      this.watching = true;
      watchLiveness(this);
      if (liveThreads() > 0) this.onThreadsLive();
    }
    this.serve();
    if (!this.polling && this.waiters.size > 0) this.poll();
    (waiter as Waiter).promise.then(this.settled, this.settled);
    return (waiter as Waiter).promise as Promise<boolean>;
  }

  /** Grant waiters, in order, while the primitive allows. */
  serve(): void {
    while (this.waiters.head !== null && this.primitive._grant()) this.waiters.head.fire(true);
    if (this.waiters.size === 0) this.idle();
  }

  onThreadsLive(): void {
    this.releaseWaker ??= getHub().holdWaker(`${this.primitive} wait (another thread may release it)`);
  }

  onThreadsGone(): void {
    this.serve();
    this.releaseWaker?.();
    this.releaseWaker = null;
  }

  private readonly settled = (): void => {
    if (this.waiters.size === 0) this.idle();
  };

  private idle(): void {
    this.releaseWaker?.();
    this.releaseWaker = null;
    if (this.watching) {
      this.watching = false;
      unwatchLiveness(this);
    }
  }

  private poll(): void {
    const cell = this.primitive._cell;
    for (;;) {
      this.serve();
      if (this.waiters.size === 0) return;
      const wait = waitAsync(cell, 0, 0);
      if (wait.async) {
        this.polling = true;
        wait.value.then(() => {
          this.polling = false;
          this.poll();
        });
        return;
      }
    }
  }
}

function checkAcquire(where: string, opts: SharedAcquireOptions | undefined): number | null {
  checkOptions(where, 'opts', opts, ['blocking', 'timeout']);
  if (opts?.blocking !== undefined) checkBoolean(where, 'opts.blocking', opts.blocking);
  const timeout = checkTimeout(where, 'opts.timeout', opts?.timeout);
  return opts?.blocking === false ? 0 : timeout;
}

function brandOf(value: unknown): string | undefined {
  return typeof value === 'object' && value !== null
    ? ((value as Record<string, unknown>)[SHARED_BRAND] as string | undefined)
    : undefined;
}

function bufferOf(where: string, value: unknown, kind: string): SharedArrayBuffer {
  if (value instanceof SharedArrayBuffer) return value;
  const buffer = (value as { buffer?: unknown } | null)?.buffer;
  if (brandOf(value) === kind && buffer instanceof SharedArrayBuffer) return buffer;
  throw typeError(
    where,
    'value',
    `a ${kind}, a copy of one received from another thread, or its buffer`,
    value,
  );
}

/**
 * A flag that threads and greenlets wait on until it is set: `threading.Event` across threads.
 *
 * @example
 * ```ts
 * const ready = new SharedEvent();
 * const t = new Thread({ target: task(url, 'warmUp'), args: [ready] }); // warmUp calls ready.set()
 * t.start();
 * await ready.wait(5_000);           // a greenlet: the hub keeps running meanwhile
 * // in a worker thread:  ready.waitSync();
 * ```
 */
export class SharedEvent extends SharedPrimitive {
  /** A new, unset event; or one on `buffer` (shared with the thread that created it). */
  constructor(buffer?: SharedArrayBuffer) {
    if (buffer !== undefined && !(buffer instanceof SharedArrayBuffer))
      throw typeError('new SharedEvent()', 'buffer', 'a SharedArrayBuffer or undefined', buffer);
    super('SharedEvent', buffer ?? new SharedArrayBuffer(4), 0, buffer !== undefined);
  }

  /** The same event, from a copy received from another thread (nested in data), or its buffer. */
  static from(value: unknown): SharedEvent {
    return new SharedEvent(bufferOf('SharedEvent.from()', value, 'SharedEvent'));
  }

  isSet(): boolean {
    return Atomics.load(this._cell, 0) !== 0;
  }

  /** Set the flag and wake every waiter, on every thread. */
  set(): void {
    Atomics.store(this._cell, 0, 1);
    this._notify();
  }

  /** Reset the flag; later waits block until the next `set()`. */
  clear(): void {
    Atomics.store(this._cell, 0, 0);
  }

  /** Wait cooperatively (greenlets): `true` once set, `false` if `timeout` ms pass first. */
  wait(timeout?: number | null): Promise<boolean> {
    const ms = checkTimeout('SharedEvent.wait()', 'timeout', timeout);
    if (this.isSet()) return checkpointed(getHub(), RESOLVED_TRUE);
    if (ms === 0) return checkpointed(getHub(), RESOLVED_FALSE);
    return this._park('wait', ms);
  }

  /** Block this worker thread until set: `true`, or `false` after `timeout` ms. Refused on the main thread. */
  waitSync(timeout?: number | null): boolean {
    return this._block('SharedEvent.waitSync()', checkTimeout('SharedEvent.waitSync()', 'timeout', timeout));
  }

  /** @internal */
  _grant(): boolean {
    return this.isSet();
  }

  override toString(): string {
    return `SharedEvent(${this.isSet() ? 'set' : 'unset'})`;
  }
}

/**
 * A counting semaphore shared by threads and greenlets. Not FIFO across threads.
 *
 * @example
 * ```ts
 * const gpu = new SharedSemaphore(2);           // at most two users at once, any thread
 * if (await gpu.acquire({ timeout: 1_000 })) {
 *   try { await render(); } finally { gpu.release(); }
 * }
 * // in a worker thread:  gpu.acquireSync(); try { … } finally { gpu.release(); }
 * ```
 */
export class SharedSemaphore extends SharedPrimitive {
  /** A semaphore with `value` permits (default 1); or the one on a shared `buffer`. */
  constructor(value: number | SharedArrayBuffer = 1) {
    if (value instanceof SharedArrayBuffer) {
      super('SharedSemaphore', value, 0, true);
      return;
    }
    checkInteger(
      'new SharedSemaphore()',
      'value',
      value,
      0,
      'a non-negative integer or a SharedArrayBuffer',
      0x7fffffff,
    );
    super('SharedSemaphore', new SharedArrayBuffer(4), value, false);
  }

  /** The same semaphore, from a copy received from another thread (nested in data), or its buffer. */
  static from(value: unknown): SharedSemaphore {
    return new SharedSemaphore(bufferOf('SharedSemaphore.from()', value, 'SharedSemaphore'));
  }

  /** Free permits now. */
  get counter(): number {
    return Atomics.load(this._cell, 0);
  }

  /** True when no permit is free. */
  locked(): boolean {
    return this.counter <= 0;
  }

  /**
   * Take a permit, waiting cooperatively (greenlets): `true` once taken, `false` when `timeout`
   * passes first (or at once with `blocking: false`).
   */
  acquire(opts?: SharedAcquireOptions): Promise<boolean> {
    const ms = checkAcquire(`${this.constructor.name}.acquire()`, opts);
    // The checkpoint comes first: a pending kill must not leave with a permit it never releases.
    const pending = checkpoint();
    if (pending !== undefined) return Promise.reject(pending.error);
    if (this._grant()) return RESOLVED_TRUE;
    if (ms === 0) return RESOLVED_FALSE;
    return this._park('acquire', ms);
  }

  /** Take a permit, blocking this worker thread. Refused on the main thread unless `blocking: false`. */
  acquireSync(opts?: SharedAcquireOptions): boolean {
    const where = `${this.constructor.name}.acquireSync()`;
    return this._block(where, checkAcquire(where, opts));
  }

  /** Give a permit back and wake the waiters. */
  release(): void {
    Atomics.add(this._cell, 0, 1);
    this._notify();
  }

  /** @internal take a permit if one is free */
  _grant(): boolean {
    for (;;) {
      const count = Atomics.load(this._cell, 0);
      if (count <= 0) return false;
      if (Atomics.compareExchange(this._cell, 0, count, count - 1) === count) return true;
    }
  }

  override toString(): string {
    return `${this.constructor.name}(${this.counter} free)`;
  }
}

/**
 * A lock shared by threads and greenlets: a semaphore of one permit whose over-release throws. Not
 * owned (any thread may release it, as with `threading.Lock`) and not FIFO across threads.
 *
 * @example
 * ```ts
 * const lock = new SharedLock();
 * await lock.acquire();
 * try { appendToSharedLog(entry); } finally { lock.release(); }
 * ```
 */
export class SharedLock extends SharedSemaphore {
  /** An unlocked lock; or the one on a shared `buffer`. */
  constructor(buffer?: SharedArrayBuffer) {
    if (buffer !== undefined && !(buffer instanceof SharedArrayBuffer))
      throw typeError('new SharedLock()', 'buffer', 'a SharedArrayBuffer or undefined', buffer);
    super(buffer ?? 1);
    (this as { [SHARED_BRAND]: string })[SHARED_BRAND] = 'SharedLock';
  }

  /** The same lock, from a copy received from another thread (nested in data), or its buffer. */
  static override from(value: unknown): SharedLock {
    return new SharedLock(bufferOf('SharedLock.from()', value, 'SharedLock'));
  }

  /** Unlock. Throws `OverReleaseError` if it is not locked. */
  override release(): void {
    if (Atomics.compareExchange(this._cell, 0, 0, 1) !== 0) {
      throw new OverReleaseError('SharedLock.release(): the lock is not locked');
    }
    this._notify();
  }

  override toString(): string {
    return `SharedLock(${this.locked() ? 'locked' : 'unlocked'})`;
  }
}

/** A cloned Shared primitive (a top-level task or Thread argument) made whole again; anything else as is. */
export function reviveShared(value: unknown): unknown {
  switch (brandOf(value)) {
    case 'SharedEvent':
      return SharedEvent.from(value);
    case 'SharedSemaphore':
      return SharedSemaphore.from(value);
    case 'SharedLock':
      return SharedLock.from(value);
    default:
      return value;
  }
}
