/**
 * Semaphore, BoundedSemaphore, Lock and RLock.
 *
 * Fairness: `release()` hands the permit **directly** to the first queued acquirer (the counter
 * does not move), so acquirers are served in FIFO order and a newcomer can never barge past a
 * greenlet that was woken but has not run yet. Invariant: `counter > 0` implies nobody is queued.
 *
 * `Lock` and `RLock` record their owner, which lets deadlock detection see "A waits on a lock held
 * by B" edges, and lets run info say who holds what.
 */
import { NotOwnerError, OverReleaseError } from '../errors.js';
import { checkBoolean, checkInteger, checkOptions, checkSignal, checkTimeout } from '../internal/validate.js';
import { kBlockers } from './deadlock.js';
import type { Greenlet } from './greenlet.js';
import { currentGreenlet, getHub, type WaitOwner } from './hub.js';
import { Linkable } from './linkable.js';
import { CallbackLink, checkpointed, FireMode, type Link, park, Waiter, WaitList } from './waiter.js';

const RESOLVED_TRUE: Promise<boolean> = Promise.resolve(true);
const ACQUIRE_OPTIONS = ['blocking', 'timeout', 'signal'] as const;

/** Options of `acquire()`. */
export interface AcquireOptions {
  /** `false`: do not wait; resolve `false` at once if no permit is free. Default `true`. */
  blocking?: boolean;
  /** Wait at most this many milliseconds, then resolve `false`. */
  timeout?: number | null;
  /** Give up when this signal aborts: `acquire()` rejects with its reason (at once if it already has). */
  signal?: AbortSignal;
}

/**
 * A counter of permits. `acquire()` takes one, waiting (FIFO) while none is free; `release()` gives
 * one back.
 *
 * @example
 * ```ts
 * const slots = new Semaphore(3); // at most 3 concurrent downloads
 * async function download(url: string) {
 *   await slots.acquire();
 *   try { return await fetch(url); } finally { slots.release(); }
 * }
 * ```
 */
export class Semaphore extends Linkable {
  /** @internal queued acquirers: parked waiters and internal reservations */
  readonly _acquirers: WaitList = new WaitList();
  protected count: number;

  /** `value`: the number of permits, a non-negative integer (default 1). */
  constructor(value = 1) {
    super();
    checkInteger(`${new.target.name}()`, 'value', value, 0, 'a non-negative integer');
    this.count = value;
  }

  /** Free permits right now. */
  get counter(): number {
    return this.count;
  }

  /** True when no permit is free (an `acquire()` would wait). */
  locked(): boolean {
    return this.count <= 0;
  }

  /** True when a permit is free. */
  ready(): boolean {
    return this.count > 0;
  }

  /**
   * Take a permit. Resolves `true` once taken; `false` if `blocking` is false or `timeout` passed
   * first. Waiters are served in the order they arrived.
   */
  acquire(opts?: AcquireOptions): Promise<boolean> {
    let ms: number | null = null;
    let signal: AbortSignal | undefined;
    if (opts !== undefined) {
      checkOptions(`${this.constructor.name}.acquire()`, 'opts', opts, ACQUIRE_OPTIONS);
      ms = checkTimeout(`${this.constructor.name}.acquire()`, 'opts.timeout', opts.timeout);
      signal = checkSignal(`${this.constructor.name}.acquire()`, 'opts.signal', opts.signal);
      if (opts.blocking !== undefined) {
        checkBoolean(`${this.constructor.name}.acquire()`, 'opts.blocking', opts.blocking);
        if (!opts.blocking) ms = 0;
      }
    }
    const hub = getHub();
    if (this.count > 0) {
      const pending = hub._checkpoint();
      if (pending !== undefined) return Promise.reject(pending.error);
      if (signal?.aborted) return Promise.reject(signal.reason);
      this.count--;
      this.granted(currentGreenlet() ?? hub._top);
      return RESOLVED_TRUE;
    }
    return park<boolean>(hub, this, 'acquire', this._acquirers, ms, FireMode.Value, false, undefined, signal);
  }

  /** Give a permit back: to the first queued acquirer if any, else to the counter. */
  release(): void {
    const next = this._acquirers.shift();
    if (next !== null) {
      this.granted(next instanceof Waiter ? next.owner : null);
      next.fire(true);
      return;
    }
    this.checkRelease();
    this.count++;
    this._notifyLinks();
  }

  /**
   * Wait until a permit is free, without taking it: `true`, or `false` if `timeout` passes first.
   */
  wait(timeout?: number | null): Promise<boolean> {
    const ms = checkTimeout(`${this.constructor.name}.wait()`, 'timeout', timeout);
    if (this.count > 0) return checkpointed(getHub(), RESOLVED_TRUE);
    return this._park<boolean>('wait', ms, FireMode.True, false);
  }

  override toString(): string {
    return `${this.constructor.name}(counter=${this.count}, waiting=${this._acquirers.size})`;
  }

  /**
   * @internal Take a permit for `onGranted`, now or when one is released (FIFO with parked
   * acquirers). Returns the queued link, to remove with `_acquirers.remove()` if no longer wanted,
   * or null when granted at once.
   */
  _acquireThen(onGranted: () => void): Link | null {
    if (this.count > 0) {
      this.count--;
      onGranted();
      return null;
    }
    const link = new CallbackLink(onGranted);
    this._acquirers.push(link);
    return link;
  }

  /** @internal Hook: a permit went to `owner` (null for internal reservations). */
  protected granted(_owner: WaitOwner | null): void {}

  /** Hook: refuse an invalid release before the counter moves. */
  protected checkRelease(): void {}
}

/**
 * A Semaphore that refuses to be released more times than it was acquired
 * (`OverReleaseError`), catching unbalanced acquire/release pairs.
 *
 * @example
 * ```ts
 * const s = new BoundedSemaphore(2);
 * s.release(); // throws OverReleaseError: nothing was acquired
 * ```
 */
export class BoundedSemaphore extends Semaphore {
  /** The initial (and maximal) number of permits. */
  readonly initial: number;

  constructor(value = 1) {
    super(value);
    this.initial = value;
  }

  protected override checkRelease(): void {
    if (this.count >= this.initial) {
      throw new OverReleaseError(
        `${this.constructor.name}.release() called more times than acquire(): counter is already ${this.count}`,
      );
    }
  }
}

/**
 * A mutual-exclusion lock. Any greenlet may release it (as with `threading.Lock`); it records its
 * holder so that deadlocks involving it are detected and reported with names.
 *
 * @example
 * ```ts
 * const lock = new Lock();
 * await lock.acquire();
 * try { await updateSharedState(); } finally { lock.release(); }
 * ```
 */
export class Lock extends BoundedSemaphore {
  private holder: WaitOwner | null = null;

  constructor() {
    super(1);
  }

  /** The greenlet holding the lock; `null` when unlocked or held by top-level code. */
  get owner(): Greenlet | null {
    const holder = this.holder;
    return holder === null || holder === getHub()._top ? null : (holder as Greenlet);
  }

  override release(): void {
    super.release();
    if (this.count > 0) this.holder = null;
  }

  override toString(): string {
    if (this.count > 0) return `${this.label()}(unlocked)`;
    const holder = this.holder;
    const by =
      holder === null
        ? 'an internal reservation'
        : `${holder}${(holder as Partial<Greenlet>).dead ? ', which is dead' : ''}`;
    return `${this.label()}(held by ${by}, waiting=${this._acquirers.size})`;
  }

  /** @internal deadlock detection: acquiring depends on the holder */
  [kBlockers](): readonly Greenlet[] {
    const owner = this.count > 0 ? null : this.owner;
    return owner === null ? [] : [owner];
  }

  /** @internal */
  protected override granted(owner: WaitOwner | null): void {
    this.holder = owner;
  }

  protected label(): string {
    return 'Lock';
  }
}

/** The inner lock of an RLock: named after it in run info and deadlock messages. */
class RLockInner extends Lock {
  protected override label(): string {
    return 'RLock';
  }
}

/**
 * A re-entrant lock owned by a greenlet: its owner may acquire it again (each acquire needs a
 * release); anyone else waits. Releasing it from a greenlet that does not own it throws
 * `NotOwnerError`.
 *
 * @example
 * ```ts
 * const rlock = new RLock();
 * async function visit(node: TreeNode) {
 *   await rlock.acquire();
 *   try { for (const child of node.children) await visit(child); } finally { rlock.release(); }
 * }
 * ```
 */
export class RLock {
  private readonly inner = new RLockInner();
  private holder: WaitOwner | null = null;
  private depth = 0;

  /** True when held. */
  locked(): boolean {
    return this.depth > 0;
  }

  /** The owning greenlet; `null` when unlocked or held by top-level code. */
  get owner(): Greenlet | null {
    return this.inner.owner;
  }

  /** Acquire (again, if the caller owns it already). Same options and results as `Semaphore.acquire()`. */
  async acquire(opts?: AcquireOptions): Promise<boolean> {
    const hub = getHub();
    const me = currentGreenlet() ?? hub._top;
    if (this.holder === me) {
      if (opts !== undefined) checkOptions('RLock.acquire()', 'opts', opts, ACQUIRE_OPTIONS);
      const pending = hub._checkpoint();
      if (pending !== undefined) throw pending.error;
      this.depth++;
      return true;
    }
    const acquired = await this.inner.acquire(opts);
    if (acquired) {
      this.holder = me;
      this.depth = 1;
    }
    return acquired;
  }

  /** Release once; the lock is free after as many releases as acquires. */
  release(): void {
    const me = currentGreenlet() ?? getHub()._top;
    if (this.holder !== me) {
      const holder = this.holder === null ? 'nobody' : String(this.holder);
      throw new NotOwnerError(
        `RLock.release(): the caller (${String(me)}) does not own this RLock (held by ${holder})`,
      );
    }
    if (--this.depth === 0) {
      this.holder = null;
      this.inner.release();
    }
  }

  toString(): string {
    return this.inner.toString();
  }

  /** @internal */
  [kBlockers](): readonly Greenlet[] {
    return this.inner[kBlockers]();
  }
}
