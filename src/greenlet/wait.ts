/**
 * Waiting on several objects at once: `wait`, `iwait`, `joinAll`, `killAll`.
 *
 * One {@link WaitSet} links into every object that is not ready yet and collects them in the order
 * they become ready; a single waiter parks on the set. Links are removed in `finally`, so a wait
 * that times out or is killed leaves nothing registered on the objects.
 */
import { now } from '../internal/natives.js';
import {
  checkInteger,
  checkIterable,
  checkOptions,
  checkSignal,
  checkTimeout,
  typeError,
} from '../internal/validate.js';
import { type BlockingTarget, kBlockers, kWakers } from './deadlock.js';
import { Greenlet, type KillOptions } from './greenlet.js';
import { currentGreenlet, getHub } from './hub.js';
import { Linkable } from './linkable.js';
import {
  CallbackLink,
  checkpointed,
  FireMode,
  Link,
  park,
  parkWaiter,
  Refusal,
  type Waiter,
  WaitList,
} from './waiter.js';

/** Anything `wait`/`iwait` accept: Greenlet, Event, AsyncResult, Semaphore (and their subclasses). */
export type Waitable = Linkable;

/** Options of {@link wait} and {@link iwait}. */
export interface WaitOptions {
  /** Stop waiting after this many milliseconds and return what is ready. */
  timeout?: number | null;
  /** Return as soon as this many objects are ready (default: all). */
  count?: number;
  /** Give up when this signal aborts: the wait rejects with its reason (at once if it already has). */
  signal?: AbortSignal;
}

/** Options of {@link joinAll}. */
export interface JoinAllOptions extends WaitOptions {
  /** Throw the exception of the first greenlet that fails (default false). */
  raiseError?: boolean;
}

const TIMED_OUT: unique symbol = Symbol('timed out');

/**
 * The composite target a multi-object wait parks on, and the one link it puts on every object that
 * is not ready: an object's only link needs no list of its own (linkable.ts), so a `joinAll` of
 * 100k greenlets makes no link object per greenlet. An object that has links already, or gains
 * another while this wait is linked to it, gets a link of its own that reports here. (Its `list`,
 * as a link, names the last object that took it; nothing reads it.)
 */
class WaitSet<T extends Waitable> extends Link implements BlockingTarget {
  /** Where the one waiter parks. */
  readonly waiters = new WaitList();
  /** The objects ready at the start, in input order; the others are appended as they become ready. */
  readonly ready: T[] = [];
  /** Links of this set's own for objects it cannot be the lone link of (see above). */
  private own: CallbackLink[] | null = null;
  /** Links that have not fired yet. */
  private pending = 0;
  /** Greenlets the wait depends on, for deadlock detection (joinAll of all only). */
  blocking = false;

  constructor(
    readonly objects: readonly T[],
    readonly count: number,
    private readonly label: string,
    private readonly onReady: (object: T, set: WaitSet<T>) => void,
  ) {
    super();
    for (let i = 0; i < objects.length; i++) {
      const object = objects[i]!;
      if (object.ready()) {
        this.ready.push(object);
        continue;
      }
      this.pending++;
      object._addLink(object._links === null ? this : this.ownLink());
    }
  }

  /** An object became ready (through this set as its lone link, or through one of {@link own}). */
  override fire(object: unknown): void {
    this.pending--;
    this.onReady(object as T, this);
  }

  override _forList(): Link {
    return this.ownLink();
  }

  private ownLink(): CallbackLink {
    const link = new CallbackLink((object: unknown) => this.fire(object));
    (this.own ??= []).push(link);
    return link;
  }

  /** Unregister from every object that has not fired. */
  unlink(): void {
    if (this.pending === 0) return;
    for (let i = 0; i < this.objects.length; i++) this.objects[i]!._removeLink(this);
    if (this.own !== null) for (const link of this.own) link.list?._removeLink(link);
  }

  override toString(): string {
    const shown = this.objects.slice(0, 3).map(String).join(', ');
    const more = this.objects.length > 3 ? `, … ${this.objects.length - 3} more` : '';
    return `${this.label}([${shown}${more}])`;
  }

  [kBlockers](): readonly Greenlet[] {
    return this.blocking ? this[kWakers]() : [];
  }

  [kWakers](): readonly Greenlet[] {
    return (this.objects as readonly Waitable[]).filter(
      (o): o is Greenlet => o instanceof Greenlet && !o.dead,
    );
  }
}

function collect<T extends Waitable>(
  where: string,
  objects: Iterable<T>,
  opts: WaitOptions | undefined,
  allowed: readonly string[],
  name = 'objects',
  onlyGreenlets = false,
) {
  checkIterable(where, name, objects);
  checkOptions(where, 'opts', opts, allowed);
  const list = [...objects];
  for (let i = 0; i < list.length; i++) {
    const object = list[i];
    if (object instanceof Greenlet) object._observed = true;
    else if (!(object instanceof Linkable))
      throw typeError(where, `${name}[${i}]`, 'a Greenlet, Event, AsyncResult or Semaphore', object);
    else if (onlyGreenlets) throw typeError(where, `${name}[${i}]`, 'a Greenlet', object);
  }
  const timeoutMs = checkTimeout(where, 'opts.timeout', opts?.timeout);
  if (opts?.count !== undefined) checkInteger(where, 'opts.count', opts.count, 0, 'a non-negative integer');
  const signal = checkSignal(where, 'opts.signal', opts?.signal);
  return { list, timeoutMs, count: Math.min(opts?.count ?? list.length, list.length), signal };
}

/**
 * Wait until `count` (default: all) of `objects` are ready, or `timeout` passes; resolves with the
 * ready objects in the order they became ready (objects ready at the call come first, in input
 * order). Never throws an object's error.
 *
 * @example
 * ```ts
 * const [first] = await wait([fetchA, fetchB], { count: 1, timeout: 500 });
 * ```
 */
export async function wait<T extends Waitable>(objects: Iterable<T>, opts?: WaitOptions): Promise<T[]> {
  const { list, timeoutMs, count, signal } = collect('wait()', objects, opts, ['timeout', 'count', 'signal']);
  return waitFor(list, count, timeoutMs, 'wait', false, signal);
}

/**
 * Wait for greenlets to finish; resolves with them in completion order (see {@link wait}). With
 * `raiseError`, rejects with the exception of the first one that fails.
 *
 * @example
 * ```ts
 * const done = await joinAll(workers, { timeout: 5_000 });
 * if (done.length < workers.length) await killAll(workers);
 * ```
 */
export async function joinAll<T extends Greenlet>(
  greenlets: Iterable<T>,
  opts?: JoinAllOptions,
): Promise<T[]> {
  const { list, timeoutMs, count, signal } = collect(
    'joinAll()',
    greenlets,
    opts,
    ['timeout', 'count', 'raiseError', 'signal'],
    'greenlets',
    true,
  );
  if (opts?.raiseError !== undefined && typeof opts.raiseError !== 'boolean') {
    throw typeError('joinAll()', 'opts.raiseError', 'a boolean', opts.raiseError);
  }
  return waitFor(list, count, timeoutMs, 'joinAll', opts?.raiseError === true, signal);
}

async function waitFor<T extends Waitable>(
  list: T[],
  count: number,
  timeoutMs: number | null,
  label: string,
  raiseError: boolean,
  signal?: AbortSignal,
): Promise<T[]> {
  const hub = getHub();
  if (signal?.aborted) return checkpointed(hub, Promise.reject(signal.reason));
  const set = new WaitSet<T>(list, count, label, (object, s) => {
    s.ready.push(object);
    const waiter = s.waiters.head as Waiter | null;
    if (waiter === null) return;
    if (raiseError && object instanceof Greenlet && object._failed) {
      object._errorDelivered = true;
      waiter.fail(object.exception);
    } else if (s.ready.length >= s.count) waiter.fire(undefined);
  });
  const failed = raiseError
    ? set.ready.find((o): o is T & Greenlet => o instanceof Greenlet && o._failed)
    : undefined;
  if (failed !== undefined || set.ready.length >= count) {
    set.unlink();
    if (failed === undefined) return checkpointed(hub, Promise.resolve(set.ready.slice(0, count)));
    failed._errorDelivered = true;
    return checkpointed(hub, Promise.reject(failed.exception));
  }
  set.blocking = label === 'joinAll' && count === list.length;
  try {
    await park(hub, set, label, set.waiters, timeoutMs, FireMode.Value, TIMED_OUT, undefined, signal);
  } finally {
    set.unlink();
  }
  // Objects that became ready after the count was reached are left out.
  return set.ready.length === count ? set.ready : set.ready.slice(0, count);
}

/**
 * Iterate over `objects` as they become ready, until `count` (default: all) were yielded or
 * `timeout` (for the whole iteration) passes. Yields the objects themselves — for greenlets, the
 * greenlet, not its value.
 *
 * @example
 * ```ts
 * for await (const g of iwait(downloads)) console.log(g.name, g.successful());
 * ```
 */
export function iwait<T extends Waitable>(
  objects: Iterable<T>,
  opts?: WaitOptions,
): AsyncIterableIterator<T> {
  const { list, timeoutMs, count } = collect('iwait()', objects, opts, ['timeout', 'count']);
  return iterate(list, count, timeoutMs);
}

async function* iterate<T extends Waitable>(
  list: T[],
  count: number,
  timeoutMs: number | null,
): AsyncGenerator<T, void, undefined> {
  const hub = getHub();
  const deadline = timeoutMs === null ? null : now() + timeoutMs;
  const set = new WaitSet<T>(list, count, 'iwait', (object, s) => {
    s.ready.push(object);
    s.waiters.head?.fire(undefined);
  });
  let yielded = 0;
  try {
    while (yielded < count) {
      if (yielded < set.ready.length) {
        yield set.ready[yielded++] as T;
        continue;
      }
      const left = deadline === null ? null : Math.max(0, deadline - now());
      const waiter =
        left === 0 ? null : parkWaiter(hub, set, 'iwait', set.waiters, left, FireMode.Value, TIMED_OUT);
      if (waiter === null) return;
      if (waiter instanceof Refusal) throw waiter.error;
      if ((await waiter.promise) === TIMED_OUT) return;
    }
  } finally {
    set.unlink();
  }
}

/**
 * Kill every greenlet (see `Greenlet.kill`); with `block` (the default) wait until all are dead, at
 * most `timeout` ms.
 *
 * @example
 * ```ts
 * await killAll(group, { timeout: 1_000 });
 * ```
 */
export async function killAll(greenlets: Iterable<Greenlet>, opts?: KillOptions): Promise<void> {
  checkIterable('killAll()', 'greenlets', greenlets);
  checkOptions('killAll()', 'opts', opts, ['exception', 'block', 'timeout']);
  const timeoutMs = checkTimeout('killAll()', 'opts.timeout', opts?.timeout);
  if (opts?.block !== undefined && typeof opts.block !== 'boolean')
    throw typeError('killAll()', 'opts.block', 'a boolean', opts.block);
  const list = [...greenlets];
  list.forEach((g, i) => {
    if (!(g instanceof Greenlet)) throw typeError('killAll()', `greenlets[${i}]`, 'a Greenlet', g);
  });
  // The calling greenlet, if listed, is killed last: killing it throws here.
  const me = currentGreenlet();
  for (const g of list) if (g !== me) await g.kill({ exception: opts?.exception, block: false });
  if (me !== undefined && list.includes(me)) await me.kill({ exception: opts?.exception, block: false });
  // Waiting for our own kills to land does not count as observing the greenlets' outcomes.
  if (opts?.block !== false) await waitFor(list, list.length, timeoutMs, 'killAll', false);
}
