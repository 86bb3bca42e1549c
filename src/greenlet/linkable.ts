/**
 * The shared "wait until ready, then notify links in order" core (gevent's AbstractLinkable) behind
 * Greenlet, Event and AsyncResult.
 *
 * Links live in a {@link WaitList}: parked waiters (`join`, `wait`, `get`) and callbacks (`rawlink`,
 * internal bookkeeping) in registration order. When the object becomes ready the *current* list is
 * handed to the hub whole and a fresh one starts, so:
 * - links fire in registration order, in a microtask, never synchronously inside `set()` or inside
 *   the finishing greenlet;
 * - a link registered after the object is ready fires too, in a later microtask, still after every
 *   link registered before it;
 * - `Event.set(); Event.clear()` still wakes everyone who was waiting at `set()` time (as Python's
 *   `threading.Event` does): they were handed over already.
 */
import { checkFunction } from '../internal/validate.js';
import { getHub, runOutside } from './hub.js';
import {
  CallbackLink,
  type FireMode,
  type Link,
  type LinkOwner,
  park,
  WaitList,
  type WaitTarget,
} from './waiter.js';

/** @internal How a user link reacts to its source becoming ready. */
export enum LinkKind {
  /** `rawlink`: call directly in the notification microtask. */
  Raw = 0,
  /** `link`: call in a greenlet of its own. */
  Spawn = 1,
  /** `linkValue`: spawn, only when the source succeeded. */
  Value = 2,
  /** `linkException`: spawn, only when the source failed. */
  Exception = 3,
}

/** Implemented by whoever can run a link callback in a greenlet (greenlet.ts registers it). */
let spawnLink: (fn: (source: unknown) => unknown, source: unknown) => void = () => {
  throw new Error('greenhub: greenlet module not loaded');
};
/** @internal */
export function setLinkSpawner(fn: typeof spawnLink): void {
  spawnLink = fn;
}

function callRawLink(fn: (source: unknown) => void, source: unknown): void {
  try {
    fn(source);
  } catch (error) {
    getHub()._report(error, null);
  }
}

/**
 * @internal A callback registered through the public link API. It runs outside any greenlet (like gevent's
 * hub callbacks), whichever greenlet's action notified it; its errors go to the hub's `onError`.
 */
export class UserLink extends CallbackLink {
  constructor(
    fn: (source: never) => unknown,
    readonly kind: LinkKind,
  ) {
    super(fn as (arg: never) => void);
  }
  override get runsUserCode(): boolean {
    return true;
  }

  override fire(source: unknown): void {
    const kind = this.kind;
    if (kind === LinkKind.Raw) {
      runOutside(callRawLink, this.fn as (source: unknown) => void, source);
      return;
    }
    if (kind !== LinkKind.Spawn) {
      const failed = (source as { _failed: boolean })._failed;
      if ((kind === LinkKind.Value) === failed) return;
    }
    runOutside(spawnLink, this.fn as (source: unknown) => unknown, source);
  }
}

/**
 * Base of everything that becomes ready and tells its links: `rawlink`, `unlink`, and the parked
 * waits of subclasses. A Linkable *has* a {@link WaitList} of its links, created on first use: a
 * greenlet that nobody joins or links (most of them, created by the hundred thousand) carries one
 * empty field, not a list.
 *
 * Notification order: ready-once objects (Greenlet, AsyncResult) fire their list in place — links
 * added later fire in a later notification. Objects that can become not-ready again (Event,
 * Semaphore) hand the current list over as a batch and start a new one on the next link, so that
 * a link added after `clear()` is not fired by a notification that was meant for earlier links.
 */
export abstract class Linkable implements WaitTarget, LinkOwner {
  /**
   * @internal The links not yet notified: `null` until the first one; a lone internal link is kept
   * as it is, without a list (a greenlet in one joinAll, or tracked by one Pool, carries no list).
   */
  _links: WaitList | Link | null = null;

  /** True when waiting on this object would not block. */
  abstract ready(): boolean;

  /**
   * Call `callback(this)` when this object is ready — directly, in the notification microtask (use
   * `link` on a Greenlet to run it in a greenlet of its own). If it is ready already, the callback
   * still runs later, never synchronously. Errors thrown by the callback go to `getHub().onError`.
   */
  rawlink(callback: (source: this) => void): void {
    checkFunction(`${this.constructor.name}.rawlink()`, 'callback', callback);
    this._addLink(new UserLink(callback, LinkKind.Raw));
  }

  /** Remove every link registered with `callback` that has not fired yet. */
  unlink(callback: (source: this) => void): void {
    const links = this._links;
    if (!(links instanceof WaitList)) return; // a lone link is never a user's
    for (let link = links.head; link !== null; ) {
      const next = link.next;
      if (link instanceof UserLink && link.fn === (callback as unknown)) links.remove(link);
      link = next;
    }
  }

  /** @internal register a link; if ready, queue its notification */
  _addLink(link: Link): void {
    if (this._links === null && !link.runsUserCode) {
      this._links = link;
      link.list = this;
    } else this.linkList().push(link);
    if (this.ready()) this._notifyLinks();
  }

  /** @internal LinkOwner: a lone link is taken out */
  _removeLink(link: Link): void {
    if (this._links !== link) return;
    this._links = null;
    link.list = null;
  }

  /** The links as a list, a lone link first in it. */
  private linkList(): WaitList {
    const links = this._links;
    if (links instanceof WaitList) return links;
    const list = new WaitList();
    if (links !== null) list.push(links._forList());
    this._links = list;
    return list;
  }

  /**
   * @internal Notify the current links. Without user callbacks: now (waiters resume in microtasks
   * anyway; internal links run no user code). With user callbacks: all in one microtask, in
   * registration order.
   */
  _notifyLinks(): void {
    const links = this._links;
    if (links === null) return;
    if (!(links instanceof WaitList)) {
      this._links = null;
      links.list = null;
      links.fire(this);
      return;
    }
    if (links.size === 0) return;
    if (this.handsOverLinks) this._links = null;
    if (links.hasUserLinks) getHub()._notify(links, this);
    else links.fireAll(this);
  }

  /** @internal park the caller until this object notifies its links */
  _park<T>(
    op: string,
    timeoutMs: number | null,
    mode: FireMode,
    onTimeout: unknown,
    signal?: AbortSignal,
  ): Promise<T> {
    return park<T>(getHub(), this, op, this.linkList(), timeoutMs, mode, onTimeout, undefined, signal);
  }

  /**
   * True (the default) when a notification hands the current links over as a batch and the next
   * link starts a new list; false for objects that are ready for good, whose links fire in place.
   */
  protected get handsOverLinks(): boolean {
    return true;
  }
}
