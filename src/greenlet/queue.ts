/**
 * The queue family: Queue (FIFO), LifoQueue, PriorityQueue, JoinableQueue and Channel (rendezvous).
 *
 * Handoff rules (all on the shared waiting core):
 * - `put` hands its item **directly** to the first waiting getter when there is one (getters only
 *   wait while the queue is empty); otherwise it stores the item, or waits while the queue is full,
 *   carrying the item in its waiter.
 * - `get` takes the head item and admits the first waiting putter's item into the freed slot; on a
 *   Channel, which stores nothing, it takes the first waiting putter's item.
 *
 * Nothing is lost: a getter or putter that leaves on timeout or kill takes nothing and leaves
 * nothing behind — a timed-out putter's item was never added (`QueueFull` tells it so), and an item
 * handed to a getter is its `get()`'s result even if a kill lands in the same turn (the kill then
 * arrives at the getter's next checkpoint). `shutdown({ immediate: true })` returns the items it
 * discards.
 *
 * Every queue counts unfinished tasks (as Python's `queue.Queue` does): `taskDone()` and `join()`
 * work on all of them; `JoinableQueue` is the gevent name.
 */
import { InvalidStateError, QueueEmpty, QueueFull, QueueShutDown } from '../errors.js';
import { Deque } from '../internal/deque.js';
import { Heap, naturalOrder } from '../internal/heap.js';
import {
  checkBoolean,
  checkFunction,
  checkInteger,
  checkOptions,
  checkSignal,
  checkTimeout,
} from '../internal/validate.js';
import { getHub } from './hub.js';
import {
  checkpointed,
  FireMode,
  park,
  RejectWith,
  type Waiter,
  WaitList,
  type WaitTarget,
} from './waiter.js';

const RESOLVED: Promise<void> = Promise.resolve();
const RESOLVED_TRUE: Promise<boolean> = Promise.resolve(true);
const OPTIONS = ['block', 'timeout', 'signal'] as const;

/** Options of `put`, `get` and `peek`. */
export interface QueueWaitOptions {
  /** `false`: do not wait; fail at once with `QueueFull`/`QueueEmpty`. Default `true`. */
  block?: boolean;
  /** Wait at most this many milliseconds, then fail with `QueueFull`/`QueueEmpty`. */
  timeout?: number | null;
  /** Give up when this signal aborts, with its reason (at once if it already has). */
  signal?: AbortSignal;
}

/** A checked {@link QueueWaitOptions}. */
interface WaitSpec {
  ms: number | null;
  signal: AbortSignal | undefined;
}
const NO_WAIT_SPEC: WaitSpec = { ms: null, signal: undefined };

/** The storage behind a queue: FIFO, LIFO or by priority. */
interface Store<T> {
  readonly length: number;
  push(item: T): void;
  shift(): T | undefined;
  peek(): T | undefined;
  drain(): T[];
}

class Stack<T> implements Store<T> {
  private readonly items: T[] = [];
  get length(): number {
    return this.items.length;
  }
  push(item: T): void {
    this.items.push(item);
  }
  shift(): T | undefined {
    return this.items.pop();
  }
  peek(): T | undefined {
    return this.items[this.items.length - 1];
  }
  drain(): T[] {
    return this.items.splice(0).reverse();
  }
}

function failAll(list: WaitList, error: () => unknown): void {
  let link: Waiter | null;
  while ((link = list.shift() as Waiter | null) !== null) link.fail(error());
}

/**
 * A FIFO queue of items between greenlets; `maxsize` bounds it (`undefined`, `null` or `0`: no
 * bound). Iterate it with `for await` until it is shut down.
 *
 * @example
 * ```ts
 * const jobs = new Queue<string>(100);
 * spawn(async () => { for await (const job of jobs) await handle(job); });
 * await jobs.put('resize:42.png');   // waits while the queue is full: backpressure
 * jobs.shutdown();                   // the consumer's loop ends once the queue is drained
 * ```
 */
export class Queue<T = unknown> implements WaitTarget {
  /** @internal waiting getters */ readonly _getters: WaitList = new WaitList();
  /** @internal waiting putters, each carrying its item */ readonly _putters: WaitList = new WaitList();
  protected store: Store<T> = new Deque<T>();
  /** How many items the store may hold: `Infinity` when unbounded, 0 for a Channel. */
  protected capacity: number;
  private readonly peekers = new WaitList();
  private readonly joiners = new WaitList();
  private unfinished = 0;
  private closed = false;

  constructor(maxsize?: number | null) {
    const where = `${new.target.name}()`;
    if (maxsize !== undefined && maxsize !== null)
      checkInteger(where, 'maxsize', maxsize, 0, 'a non-negative integer, null or undefined');
    this.capacity = maxsize ? maxsize : Number.POSITIVE_INFINITY;
  }

  /** The bound; `null` for an unbounded queue (0 for a Channel, which stores nothing). */
  get maxsize(): number | null {
    return this.capacity === Number.POSITIVE_INFINITY ? null : this.capacity;
  }

  /** Items waiting to be got without blocking. */
  qsize(): number {
    return this.store.length;
  }

  /** True when a `get` would block. */
  empty(): boolean {
    return this.qsize() === 0;
  }

  /** True when a `put` would block. */
  full(): boolean {
    return this.store.length >= this.capacity;
  }

  /** True once `shutdown()` was called. */
  get isShutDown(): boolean {
    return this.closed;
  }

  /** Items put and not yet marked done with `taskDone()`. */
  get unfinishedTasks(): number {
    return this.unfinished;
  }

  /**
   * Put an item, waiting while the queue is full. Rejects with `QueueFull` if `block` is false or
   * `timeout` passes (the item was not added), with `QueueShutDown` once the queue is shut down.
   */
  put(item: T, opts?: QueueWaitOptions): Promise<void> {
    const { ms, signal } = opts === undefined ? NO_WAIT_SPEC : this.waitOption('put', opts);
    const hub = getHub();
    const pending = hub._checkpoint();
    if (pending !== undefined) return Promise.reject(pending.error);
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.closed) return Promise.reject(this.shutDownError('put'));
    if (this.offer(item)) return RESOLVED;
    const done = park<void>(
      hub,
      this,
      'put',
      this._putters,
      ms,
      FireMode.Value,
      this.fullOnTimeout(ms),
      item,
      signal,
    );
    // On a Channel a parked putter's item is what a peek sees.
    if (this.peekers.size !== 0 && this._putters.size !== 0) this.peekers.fireAll(this.headItem());
    return done;
  }

  /** Put without waiting: throws `QueueFull` or `QueueShutDown`. Not a checkpoint. */
  putNowait(item: T): void {
    if (this.closed) throw this.shutDownError('putNowait');
    if (!this.offer(item)) throw new QueueFull(`${this}: putNowait() on a full queue`);
  }

  /**
   * Remove and return the next item, waiting while the queue is empty. Rejects with `QueueEmpty` if
   * `block` is false or `timeout` passes, with `QueueShutDown` once shut down and drained.
   */
  get(opts?: QueueWaitOptions): Promise<T> {
    const { ms, signal } = opts === undefined ? NO_WAIT_SPEC : this.waitOption('get', opts);
    const hub = getHub();
    const pending = hub._checkpoint();
    if (pending !== undefined) return Promise.reject(pending.error);
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.store.length !== 0 || this._putters.size !== 0) return Promise.resolve(this.take());
    if (this.closed) return Promise.reject(this.shutDownError('get'));
    const onTimeout = this.emptyOnTimeout(ms);
    return park<T>(hub, this, 'get', this._getters, ms, FireMode.Value, onTimeout, undefined, signal);
  }

  /** Get without waiting: throws `QueueEmpty` or `QueueShutDown`. Not a checkpoint. */
  getNowait(): T {
    if (this.store.length !== 0 || this._putters.size !== 0) return this.take();
    if (this.closed) throw this.shutDownError('getNowait');
    throw new QueueEmpty(`${this}: getNowait() on an empty queue`);
  }

  /** The next item without removing it, waiting while the queue is empty. */
  peek(opts?: QueueWaitOptions): Promise<T> {
    const { ms, signal } = opts === undefined ? NO_WAIT_SPEC : this.waitOption('peek', opts);
    const hub = getHub();
    if (signal?.aborted) return checkpointed(hub, Promise.reject(signal.reason));
    if (this.store.length !== 0 || this._putters.size !== 0)
      return checkpointed(hub, Promise.resolve(this.headItem()));
    if (this.closed) return checkpointed(hub, Promise.reject(this.shutDownError('peek')));
    const onTimeout = this.emptyOnTimeout(ms);
    return park<T>(hub, this, 'peek', this.peekers, ms, FireMode.Value, onTimeout, undefined, signal);
  }

  /** The next item without removing it or waiting: throws `QueueEmpty`. */
  peekNowait(): T {
    if (this.store.length !== 0 || this._putters.size !== 0) return this.headItem();
    if (this.closed) throw this.shutDownError('peekNowait');
    throw new QueueEmpty(`${this}: peekNowait() on an empty queue`);
  }

  /** Mark one item got earlier as processed; throws `InvalidStateError` if none is unfinished. */
  taskDone(): void {
    if (this.unfinished <= 0)
      throw new InvalidStateError(`${this}: taskDone() called more times than items were put`);
    if (--this.unfinished === 0) this.joiners.fireAll(true);
  }

  /** Wait until every item put has been marked done: `true`, or `false` if `timeout` passes first. */
  join(timeout?: number | null): Promise<boolean> {
    const ms = checkTimeout(`${this.constructor.name}.join()`, 'timeout', timeout);
    if (this.unfinished === 0) return checkpointed(getHub(), RESOLVED_TRUE);
    return park<boolean>(getHub(), this, 'join', this.joiners, ms, FireMode.True, false);
  }

  /**
   * Close the queue (Python 3.13 semantics): `put` now fails with `QueueShutDown`, waiting putters
   * fail (their items were not added), `get` drains what is left and then fails. With
   * `immediate: true` the remaining items are discarded — and returned, so the caller decides what
   * happens to them — and every waiter fails at once.
   */
  shutdown(opts?: { immediate?: boolean }): T[] {
    checkOptions(`${this.constructor.name}.shutdown()`, 'opts', opts, ['immediate']);
    if (opts?.immediate !== undefined)
      checkBoolean(`${this.constructor.name}.shutdown()`, 'opts.immediate', opts.immediate);
    const discarded = opts?.immediate ? this.store.drain() : [];
    this.closed = true;
    this.unfinished = Math.max(0, this.unfinished - discarded.length);
    failAll(this._putters, () => this.shutDownError('put'));
    if (this.store.length === 0) {
      failAll(this._getters, () => this.shutDownError('get'));
      failAll(this.peekers, () => this.shutDownError('peek'));
    }
    if (this.unfinished === 0) this.joiners.fireAll(true);
    return discarded;
  }

  /** `for await (const item of queue)`: gets items until the queue is shut down and drained. */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for (;;) {
      let item: T;
      try {
        item = await this.get();
      } catch (error) {
        if (error instanceof QueueShutDown) return;
        throw error;
      }
      yield item;
    }
  }

  toString(): string {
    const size = this.maxsize === null ? `${this.qsize()}` : `${this.qsize()}/${this.maxsize}`;
    const waiting = this._getters.size
      ? `, ${this._getters.size} getters waiting`
      : this._putters.size
        ? `, ${this._putters.size} putters waiting`
        : '';
    return `${this.constructor.name}(${size}${waiting}${this.closed ? ', shut down' : ''})`;
  }

  /**
   * Accept `item` without blocking: hand it to a waiting getter, or store it. A put into a queue
   * with room does not yield (gevent): the getter is handed the item now but resumes after the
   * putter's continuation. On a Channel the getter resumes first: a rendezvous switches to the
   * receiver.
   */
  private offer(item: T): boolean {
    const getter = this._getters.shift();
    if (getter !== null) {
      this.unfinished++;
      getter.fire(this.capacity === 0 ? item : Promise.resolve(item));
      return true;
    }
    if (this.store.length >= this.capacity) return false;
    this.store.push(item);
    this.unfinished++;
    if (this.peekers.size !== 0) this.peekers.fireAll(this.store.peek());
    return true;
  }

  /**
   * Remove the next item (the store's head, or a waiting putter's) and admit a waiting putter. The
   * putter is admitted now but resumes after the getter's continuation (gevent: the getter goes
   * on, the putter is switched to later): resolving it with a settled promise costs it two ticks.
   */
  private take(): T {
    const putter = this._putters.shift() as Waiter | null;
    if (this.store.length === 0) {
      // A Channel: the item comes straight from the putter.
      this.unfinished++;
      putter!.fire(RESOLVED);
      return putter!.payload as T;
    }
    const item = this.store.shift() as T;
    if (putter !== null) {
      this.store.push(putter.payload as T);
      this.unfinished++;
      putter.fire(RESOLVED);
    }
    return item;
  }

  private headItem(): T {
    return this.store.length !== 0 ? (this.store.peek() as T) : ((this._putters.head as Waiter).payload as T);
  }

  private waitOption(method: string, opts: QueueWaitOptions): WaitSpec {
    const where = `${this.constructor.name}.${method}()`;
    checkOptions(where, 'opts', opts, OPTIONS);
    let ms = checkTimeout(where, 'opts.timeout', opts.timeout);
    const signal = checkSignal(where, 'opts.signal', opts.signal);
    if (opts.block !== undefined) {
      checkBoolean(where, 'opts.block', opts.block);
      if (!opts.block) ms = 0;
    }
    return { ms, signal };
  }

  private fullOnTimeout(ms: number | null): RejectWith | undefined {
    return ms === null
      ? undefined
      : new RejectWith(
          () => new QueueFull(`${this}: put() timed out after ${ms} ms; the item was not added`),
        );
  }

  private emptyOnTimeout(ms: number | null): RejectWith | undefined {
    return ms === null ? undefined : new RejectWith(() => new QueueEmpty(`${this}: no item within ${ms} ms`));
  }

  private shutDownError(method: string): QueueShutDown {
    return new QueueShutDown(`${this}: ${method}() on a queue that is shut down`);
  }
}

/**
 * A queue that returns the most recently put item first.
 *
 * @example
 * ```ts
 * const stack = new LifoQueue<number>();
 * stack.putNowait(1); stack.putNowait(2);
 * stack.getNowait(); // 2
 * ```
 */
export class LifoQueue<T = unknown> extends Queue<T> {
  constructor(maxsize?: number | null) {
    super(maxsize);
    this.store = new Stack<T>();
  }
}

/**
 * A queue that returns the smallest item first (by `compare`, default natural order, with arrays
 * compared element-wise so `[priority, payload]` pairs work), FIFO among equals.
 *
 * @example
 * ```ts
 * const q = new PriorityQueue<[number, string]>();
 * q.putNowait([2, 'later']); q.putNowait([1, 'sooner']);
 * q.getNowait(); // [1, 'sooner']
 * ```
 */
export class PriorityQueue<T = unknown> extends Queue<T> {
  constructor(maxsize?: number | null, compare: (a: T, b: T) => number = naturalOrder) {
    super(maxsize);
    checkFunction('PriorityQueue()', 'compare', compare);
    this.store = new Heap<T>(compare);
  }
}

/** gevent's name for a queue with `taskDone()`/`join()`; every greenhub queue has them. */
export class JoinableQueue<T = unknown> extends Queue<T> {}

/**
 * A rendezvous: `put` waits until a getter takes the item, `get` waits until a putter offers one.
 * Nothing is stored; `qsize()` counts waiting putters.
 *
 * @example
 * ```ts
 * const ch = new Channel<string>();
 * spawn(async () => { await ch.put('ping'); console.log('taken'); });
 * console.log(await ch.get()); // 'ping', then 'taken'
 * ```
 */
export class Channel<T = unknown> extends Queue<T> {
  constructor() {
    super(null);
    this.capacity = 0;
  }

  /** Putters waiting to hand over an item. */
  override qsize(): number {
    return this._putters.size;
  }

  /** True unless a getter is waiting (a `put` would block). */
  override full(): boolean {
    return this._getters.size === 0;
  }
}
