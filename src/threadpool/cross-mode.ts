/**
 * Objects that belong to one thread and must not be handed to another: hub primitives (an
 * `Event`, a `Lock`, a `Greenlet`…), pools and threads. Structured clone would not refuse them: it
 * would deliver a lifeless copy (fields without behaviour), and a worker waiting on a copied Event
 * waits forever. gevent's version of this bug is a lock created before `monkey.patch_all()` that
 * blocks the whole hub; here the error names the object, and for real `Thread`s the patch order.
 *
 * Only top-level arguments are checked (a test of the prototype, then a few `instanceof`): deep
 * inspection on every task would cost more than most tasks.
 */

import { ThreadModeError, UncloneableError } from '../errors.js';
import { Event } from '../greenlet/event.js';
import { Hub } from '../greenlet/hub.js';
import { Linkable } from '../greenlet/internal.js';
import { Local } from '../greenlet/local.js';
import { Group, Pool } from '../greenlet/pool.js';
import { Queue } from '../greenlet/queue.js';
import { Lock, RLock, Semaphore } from '../greenlet/semaphore.js';

type Constructor = abstract new (...args: never[]) => object;

/** Thread-bound classes, most specific first, with the Shared primitive to use instead. */
const bound: [Constructor, string | null][] = [
  [Event, 'SharedEvent'],
  [Lock, 'SharedLock'],
  [RLock, 'SharedLock'],
  [Semaphore, 'SharedSemaphore'],
  [Linkable, null],
  [Queue, null],
  [Group, null],
  [Pool, null],
  [Local, null],
  [Hub, null],
];

/** Register another thread-bound class (ThreadPool, Thread). */
export function markThreadBound(cls: Constructor): void {
  bound.push([cls, null]);
}

function boundClass(value: unknown): [string, string | null] | null {
  if (typeof value !== 'object' || value === null) return null;
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === Array.prototype || proto === null) return null;
  for (const [cls, shared] of bound) {
    if (value instanceof cls) return [(value as object).constructor.name, shared];
  }
  return null;
}

/**
 * Throw if a top-level argument is thread-bound: an UncloneableError, or with `hint` (the patch
 * order, for a real `Thread`) a ThreadModeError. `destination` says where the value would go.
 */
export function checkCrossing(where: string, args: readonly unknown[], destination: string, hint = ''): void {
  for (let i = 0; i < args.length; i++) {
    const found = boundClass(args[i]);
    if (found === null) continue;
    const [name, shared] = found;
    const instead =
      shared === null
        ? 'Pass plain data instead'
        : `Share a ${shared} (greenhub/threadpool) instead: it works across threads`;
    const message =
      `${where}: argument ${i} is a greenhub ${name}, which belongs to the thread that created it: only ` +
      `greenlets of that thread can use it. ${destination}, where it would be a lifeless copy. ${instead}.${hint}`;
    throw hint === ''
      ? new UncloneableError(message, `args[${i}]`, `greenhub ${name}`)
      : new ThreadModeError(message);
  }
}
