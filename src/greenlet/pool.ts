/**
 * Group and Pool: sets of greenlets that are joined, killed and mapped over together.
 *
 * A Pool bounds how many of its greenlets run at once with a FIFO {@link Semaphore} of slots: a
 * greenlet holds its slot from start to death. `spawn` waits for a slot (producers get
 * backpressure); `applyAsync` never waits — its greenlet exists at once and starts when a slot is
 * free (killing it first cancels the reservation).
 *
 * `imap`/`imapUnordered` spawn one greenlet per input item (with the pool's backpressure) through
 * the map engine (map.ts) that the ThreadPool shares.
 */
import { PoolFull } from '../errors.js';
import { now } from '../internal/natives.js';
import {
  checkAnyIterable,
  checkBoolean,
  checkFunction,
  checkInteger,
  checkIterable,
  checkOptions,
  checkTimeout,
  typeError,
} from '../internal/validate.js';
import { kBlockers } from './deadlock.js';
import { Greenlet, type KillOptions } from './greenlet.js';
import { currentGreenlet, getHub } from './hub.js';
import { LinkKind, UserLink } from './linkable.js';
import { mapItems } from './map.js';
import { Semaphore } from './semaphore.js';
import { killAll } from './wait.js';
import { CallbackLink, checkpointed, FireMode, type Link, park, WaitList } from './waiter.js';

const RESOLVED_TRUE: Promise<boolean> = Promise.resolve(true);

/** Options of `imap`/`imapUnordered`. */
export interface ImapOptions {
  /**
   * At most this many tasks are running or finished-but-not-yet-consumed at once: a slow consumer
   * slows the producer instead of buffering without bound.
   */
  maxsize?: number;
}

/** Options of `Group.join`/`Pool.join`. */
export interface GroupJoinOptions {
  timeout?: number | null;
  /** After waiting, throw the exception of the first member (in join-time order) that failed. */
  raiseError?: boolean;
}

type Task<I, R> = (item: I) => R | PromiseLike<R>;

/** What Group and Pool share: membership, join, kill and the map family. */
abstract class GreenletSet implements Iterable<Greenlet> {
  /** Members, each with the link that discards it when it dies. */
  protected readonly members = new Map<Greenlet, Link>();
  /** `applyAsync` greenlets waiting for a slot: already ours, not yet started. */
  protected readonly reserved = new Set<Greenlet>();
  private readonly emptyWaiters = new WaitList();
  private readonly onMemberDeath = (greenlet: Greenlet): void => {
    this.discard(greenlet);
  };

  /** Number of members (running or scheduled greenlets, plus `applyAsync` ones waiting for a slot). */
  get length(): number {
    return this.members.size + this.reserved.size;
  }

  has(greenlet: Greenlet): boolean {
    return this.members.has(greenlet) || this.reserved.has(greenlet);
  }

  [Symbol.iterator](): Iterator<Greenlet> {
    return [...this.members.keys(), ...this.reserved].values();
  }

  /** Stop tracking `greenlet` (it keeps running); a Pool frees its slot. */
  discard(greenlet: Greenlet): void {
    const link = this.members.get(greenlet);
    if (link === undefined) return;
    this.members.delete(greenlet);
    link.list?._removeLink(link);
    this.released(greenlet);
    this.checkEmpty();
  }

  /** Free slots: `Infinity` for a Group or an unbounded Pool. */
  abstract freeCount(): number;

  /** True when `spawn` would wait. */
  full(): boolean {
    return this.freeCount() === 0;
  }

  /** Wait until a slot is free: `true`, or `false` if `timeout` passes first. */
  waitAvailable(timeout?: number | null): Promise<boolean> {
    checkTimeout(`${this.constructor.name}.waitAvailable()`, 'timeout', timeout);
    return checkpointed(getHub(), RESOLVED_TRUE);
  }

  /**
   * Wait until the set is empty (members spawned meanwhile are waited for too): `true`, or `false`
   * if `timeout` passes first. With `raiseError`, then throw the exception of the first member
   * (present when `join` was called) that failed.
   */
  async join(opts?: GroupJoinOptions): Promise<boolean> {
    const where = `${this.constructor.name}.join()`;
    checkOptions(where, 'opts', opts, ['timeout', 'raiseError']);
    const ms = checkTimeout(where, 'opts.timeout', opts?.timeout);
    if (opts?.raiseError !== undefined) checkBoolean(where, 'opts.raiseError', opts.raiseError);
    const snapshot = [...this];
    for (const g of snapshot) g._observed = true;
    const hub = getHub();
    const emptied =
      this.length === 0
        ? await checkpointed(hub, RESOLVED_TRUE)
        : await park<boolean>(hub, this, 'join', this.emptyWaiters, ms, FireMode.True, false);
    if (opts?.raiseError) {
      const failed = snapshot.find((g) => g._failed);
      if (failed !== undefined) {
        failed._errorDelivered = true;
        throw failed.exception;
      }
    }
    return emptied;
  }

  /**
   * Kill every member (also those spawned while killing); with `block` (the default) wait until the
   * set is empty, at most `timeout` ms.
   */
  async kill(opts?: KillOptions): Promise<void> {
    const where = `${this.constructor.name}.kill()`;
    checkOptions(where, 'opts', opts, ['exception', 'block', 'timeout']);
    const ms = checkTimeout(where, 'opts.timeout', opts?.timeout);
    if (opts?.block !== undefined) checkBoolean(where, 'opts.block', opts.block);
    const deadline = ms === null ? null : now() + ms;
    const hub = getHub();
    for (;;) {
      await killAll([...this], { exception: opts?.exception, block: false });
      if (opts?.block === false || this.length === 0) return;
      const left = deadline === null ? null : Math.max(0, deadline - now());
      if (left === 0) return;
      await park<boolean>(hub, this, 'kill', this.emptyWaiters, left, FireMode.True, false);
      if (this.length === 0) return;
    }
  }

  /** Kill one member (see `Greenlet.kill`). Does nothing if it is not a member. */
  killOne(greenlet: Greenlet, opts?: KillOptions): Promise<void> {
    if (!(greenlet instanceof Greenlet))
      throw typeError(`${this.constructor.name}.killOne()`, 'greenlet', 'a Greenlet', greenlet);
    return this.has(greenlet) ? greenlet.kill(opts) : Promise.resolve();
  }

  /**
   * Run `fn(...args)` in the set and return its result. Called from a greenlet that is already a
   * member, it runs inline (waiting for a slot from inside the pool could deadlock).
   */
  async apply<A extends unknown[], R>(fn: (...args: A) => R | PromiseLike<R>, args?: A): Promise<Awaited<R>> {
    checkFunction(`${this.constructor.name}.apply()`, 'fn', fn);
    const list = (args ?? []) as A;
    if (!Array.isArray(list))
      throw typeError(`${this.constructor.name}.apply()`, 'args', 'an array of arguments', args);
    const current = currentGreenlet();
    if (current !== undefined && this.members.has(current)) return await fn(...list);
    const greenlet = await this.spawnIn(fn, list);
    return greenlet.get() as Promise<Awaited<R>>;
  }

  /**
   * Spawn `fn(...args)` in the set without ever waiting; with `callback`, call it with the result
   * when the greenlet succeeds. Returns the greenlet at once (on a full Pool it starts later).
   */
  applyAsync<A extends unknown[], R>(
    fn: (...args: A) => R | PromiseLike<R>,
    args?: A,
    callback?: (result: Awaited<R>) => void,
  ): Greenlet<Awaited<R>> {
    const where = `${this.constructor.name}.applyAsync()`;
    checkFunction(where, 'fn', fn);
    if (args !== undefined && !Array.isArray(args))
      throw typeError(where, 'args', 'an array of arguments', args);
    if (callback !== undefined) checkFunction(where, 'callback', callback);
    const greenlet = Greenlet._create<Awaited<R>>(fn as unknown as () => Awaited<R>, args ?? []);
    if (callback !== undefined) {
      greenlet._addLink(
        new UserLink((g: Greenlet<Awaited<R>>) => callback(g.value as Awaited<R>), LinkKind.Raw),
      );
    }
    this.startWhenFree(greenlet);
    return greenlet;
  }

  /** Run `fn` on every item (concurrently, within the set's bound); results in input order. */
  async map<I, R>(fn: Task<I, R>, items: Iterable<I> | AsyncIterable<I>): Promise<Awaited<R>[]> {
    const results: Awaited<R>[] = [];
    for await (const result of this.imap(fn, items)) results.push(result);
    return results;
  }

  /** Like {@link map}, as an async iterator: each result as soon as it and all before it are done. */
  imap<I, R>(
    fn: Task<I, R>,
    items: Iterable<I> | AsyncIterable<I>,
    opts?: ImapOptions,
  ): AsyncIterableIterator<Awaited<R>> {
    return this.mapped('imap', fn, items, opts, true);
  }

  /** Like {@link imap}, results in completion order. */
  imapUnordered<I, R>(
    fn: Task<I, R>,
    items: Iterable<I> | AsyncIterable<I>,
    opts?: ImapOptions,
  ): AsyncIterableIterator<Awaited<R>> {
    return this.mapped('imapUnordered', fn, items, opts, false);
  }

  toString(): string {
    return `${this.constructor.name}(${this.length} greenlets)`;
  }

  /** @internal deadlock detection: joining the set depends on every member */
  [kBlockers](): readonly Greenlet[] {
    return [...this.members.keys()];
  }

  /** Spawn `fn(...args)` as a member, waiting for a slot if the set has a bound. */
  protected abstract spawnIn<A extends unknown[], R>(
    fn: (...args: A) => R | PromiseLike<R>,
    args: A,
  ): Promise<Greenlet<Awaited<R>>>;

  /** Make `greenlet` (not started) a member and start it as soon as a slot is free. */
  protected abstract startWhenFree(greenlet: Greenlet): void;

  /** Hook: a member left (a Pool frees its slot). */
  protected released(_greenlet: Greenlet): void {}

  /** Track `greenlet` as a member until it dies. */
  protected track(greenlet: Greenlet): void {
    if (this.members.has(greenlet)) return;
    const link = new CallbackLink(this.onMemberDeath);
    this.members.set(greenlet, link);
    greenlet._addLink(link);
  }

  protected checkEmpty(): void {
    if (this.length === 0) this.emptyWaiters.fireAll(true);
  }

  private mapped<I, R>(
    method: string,
    fn: Task<I, R>,
    items: Iterable<I> | AsyncIterable<I>,
    opts: ImapOptions | undefined,
    ordered: boolean,
  ): AsyncIterableIterator<Awaited<R>> {
    const where = `${this.constructor.name}.${method}()`;
    checkFunction(where, 'fn', fn);
    checkAnyIterable(where, 'items', items);
    checkOptions(where, 'opts', opts, ['maxsize']);
    if (opts?.maxsize !== undefined)
      checkInteger(where, 'opts.maxsize', opts.maxsize, 1, 'a positive integer');
    return mapItems(
      {
        producerName: `${this.constructor.name} map producer`,
        start: (item) => this.spawnIn(fn, [item as I]),
        onEnd: (g, callback) => g._addLink(new CallbackLink(callback)),
        result: greenletResult<Awaited<R>>,
        stop: (gs) => killAll(gs),
      },
      items,
      opts?.maxsize,
      ordered,
    );
  }
}

/** A map task's value, or its exception (counted as observed), once it has ended. */
async function greenletResult<R>(g: Greenlet<R>): Promise<R> {
  await g.join();
  if (g._failed) {
    g._errorDelivered = true;
    throw g.exception;
  }
  return g.value as R;
}

/**
 * An unbounded set of greenlets to join, kill and map over together.
 *
 * @example
 * ```ts
 * const group = new Group();
 * for (const url of urls) group.spawn(fetchAndStore, url);
 * await group.join({ timeout: 10_000, raiseError: true });
 * ```
 */
export class Group extends GreenletSet {
  /** A group holding `greenlets` (optional). */
  constructor(greenlets?: Iterable<Greenlet>) {
    super();
    if (greenlets !== undefined) {
      checkIterable('new Group()', 'greenlets', greenlets);
      for (const g of greenlets) this.add(g);
    }
  }

  /** Spawn `fn(...args)` as a member (see the module `spawn`). */
  spawn<A extends unknown[], R>(fn: (...args: A) => R | PromiseLike<R>, ...args: A): Greenlet<Awaited<R>> {
    checkFunction('Group.spawn()', 'fn', fn);
    const greenlet = Greenlet._create<Awaited<R>>(fn as unknown as () => Awaited<R>, args);
    this.track(greenlet);
    greenlet.start();
    return greenlet;
  }

  /** Track an existing greenlet until it dies. */
  add(greenlet: Greenlet): void {
    if (!(greenlet instanceof Greenlet)) throw typeError('Group.add()', 'greenlet', 'a Greenlet', greenlet);
    this.track(greenlet);
  }

  freeCount(): number {
    return Number.POSITIVE_INFINITY;
  }

  protected spawnIn<A extends unknown[], R>(
    fn: (...args: A) => R | PromiseLike<R>,
    args: A,
  ): Promise<Greenlet<Awaited<R>>> {
    return Promise.resolve(this.spawn(fn, ...args));
  }

  protected startWhenFree(greenlet: Greenlet): void {
    this.track(greenlet);
    greenlet.start();
  }
}

/**
 * A Group with at most `size` greenlets running at once. `spawn` resolves once a slot is free, so a
 * producer spawning into a full pool slows down instead of queueing without bound.
 *
 * @example
 * ```ts
 * const pool = new Pool(10);
 * for (const id of ids) await pool.spawn(processRecord, id); // at most 10 at a time
 * await pool.join();
 * for await (const thumb of pool.imap(makeThumbnail, images)) save(thumb);
 * ```
 */
export class Pool extends GreenletSet {
  /** The bound; `null` for an unbounded pool. */
  readonly size: number | null;
  private readonly slots: Semaphore | null;

  /** `size`: a positive integer, or `null`/`undefined` for no bound. */
  constructor(size?: number | null) {
    super();
    if (size !== undefined && size !== null)
      checkInteger('Pool()', 'size', size, 1, 'a positive integer, null or undefined');
    this.size = size ?? null;
    this.slots = this.size === null ? null : new Semaphore(this.size);
  }

  freeCount(): number {
    return this.slots === null ? Number.POSITIVE_INFINITY : this.slots.counter;
  }

  override waitAvailable(timeout?: number | null): Promise<boolean> {
    if (this.slots === null) return super.waitAvailable(timeout);
    return this.slots.wait(timeout);
  }

  /** Spawn `fn(...args)` once a slot is free; resolves with the started greenlet. */
  spawn<A extends unknown[], R>(
    fn: (...args: A) => R | PromiseLike<R>,
    ...args: A
  ): Promise<Greenlet<Awaited<R>>> {
    checkFunction('Pool.spawn()', 'fn', fn);
    return this.spawnIn(fn, args);
  }

  /**
   * Add a greenlet (started or not) as a member, waiting for a slot; throws `PoolFull` if `blocking`
   * is false or `timeout` passes first.
   */
  async add(greenlet: Greenlet, opts?: { blocking?: boolean; timeout?: number | null }): Promise<void> {
    if (!(greenlet instanceof Greenlet)) throw typeError('Pool.add()', 'greenlet', 'a Greenlet', greenlet);
    if (this.has(greenlet)) return;
    if (this.slots !== null && !(await this.slots.acquire(opts))) {
      throw new PoolFull(`${this}: no free slot${opts?.timeout != null ? ` within ${opts.timeout} ms` : ''}`);
    }
    this.track(greenlet);
  }

  override toString(): string {
    return `Pool(${this.members.size}/${this.size ?? '∞'} running${this.reserved.size ? `, ${this.reserved.size} waiting for a slot` : ''})`;
  }

  protected async spawnIn<A extends unknown[], R>(
    fn: (...args: A) => R | PromiseLike<R>,
    args: A,
  ): Promise<Greenlet<Awaited<R>>> {
    if (this.slots !== null) await this.slots.acquire();
    const greenlet = Greenlet._create<Awaited<R>>(fn as unknown as () => Awaited<R>, args);
    this.track(greenlet);
    greenlet.start();
    return greenlet;
  }

  protected startWhenFree(greenlet: Greenlet): void {
    if (this.slots === null) {
      this.track(greenlet);
      greenlet.start();
      return;
    }
    this.reserved.add(greenlet);
    const reservation = this.slots._acquireThen(() => {
      this.reserved.delete(greenlet);
      if (greenlet.dead) {
        this.slots!.release();
        this.checkEmpty();
        return;
      }
      this.track(greenlet);
      greenlet.start();
    });
    if (reservation === null) return;
    // Killed before a slot came: withdraw the reservation.
    greenlet._addLink(
      new CallbackLink(() => {
        if (reservation.list === null) return;
        reservation.list._removeLink(reservation);
        this.reserved.delete(greenlet);
        this.checkEmpty();
      }),
    );
  }

  protected override released(_greenlet: Greenlet): void {
    this.slots?.release();
  }
}
