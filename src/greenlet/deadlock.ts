/**
 * Deadlock detection over the wait-for graph (beyond gevent, which only notices when the whole loop
 * empties).
 *
 * Nodes are greenlets; a greenlet has an edge to every greenlet whose progress its wait depends on:
 * the greenlet it joins, the owner of the lock it acquires, the greenlets a `joinAll` still waits
 * for. A wait object exposes those greenlets through {@link kBlockers}.
 *
 * When an **unbounded** wait (no timeout of its own) is about to begin, we follow edges from its
 * blockers; if the path comes back to the waiting greenlet, the wait can never end and is refused
 * with `DeadlockError`, at once — this works in a live server whose loop never empties, where
 * `LoopExit` cannot help.
 *
 * To stay free of false positives, edges are followed only through greenlets that have exactly one
 * parked wait, without a timer, a signal or an armed Timeout (a greenlet waiting on several things
 * at once, e.g. under `Promise.race`, may be woken by another of them; a bounded wait ends). The search costs nothing for waits whose target
 * has no blockers (Event, Queue, Semaphore) and walks a short chain otherwise.
 */
import { DeadlockError } from '../errors.js';
import type { Greenlet } from './greenlet.js';
import type { Waiter, WaitTarget } from './waiter.js';

/** Implemented by wait targets whose waits depend on particular greenlets. */
export const kBlockers: unique symbol = Symbol('greenhub.blockers');

export interface BlockingTarget extends WaitTarget {
  /** The greenlets this wait depends on, or an empty array when it depends on none right now. */
  [kBlockers](): readonly Greenlet[];
}

export function hasBlockers(on: WaitTarget): on is BlockingTarget {
  return (on as Partial<BlockingTarget>)[kBlockers] !== undefined;
}

/**
 * Implemented by wait targets that a greenlet's progress may wake even when the wait does not
 * need all of them (`wait([...], { count: 1 })`); defaults to {@link kBlockers}. LoopExit uses it
 * to reject first the waits that nothing alive can wake.
 */
export const kWakers: unique symbol = Symbol('greenhub.wakers');

/** True when a live greenlet could still end this wait (by finishing, or releasing a lock). */
export function mayBeWokenByGreenlet(on: WaitTarget): boolean {
  const target = on as Partial<BlockingTarget> & { [kWakers]?: () => readonly Greenlet[] };
  const wakers = target[kWakers]?.() ?? target[kBlockers]?.();
  return wakers?.some((g) => !g.dead) === true;
}

/**
 * The single wait of `greenlet` whose target has blockers and that nothing but those blockers can
 * end — or null. A wait with a timer, a caller's signal, or in a greenlet with an armed Timeout (a
 * `withTimeout`) is bounded: it cannot close a cycle that never ends.
 */
function soleBlockingWait(greenlet: Greenlet): Waiter | null {
  const w = greenlet._wfirst;
  if (w === null || w._next !== null || w.timer !== undefined || w.signal !== null) return null;
  if (greenlet._timeouts !== null || !hasBlockers(w.on)) return null;
  return w;
}

function describeEdge(op: string, on: WaitTarget): string {
  return op === 'join' || op === 'get' ? `${op}s ${String(on)}` : `waits in ${op}() on ${String(on)}`;
}

/**
 * If `waiter` (the current greenlet) waiting on `on` would close a cycle, the DeadlockError to
 * refuse the wait with; otherwise null.
 */
export function findDeadlock(waiter: Greenlet, on: BlockingTarget, op: string): DeadlockError | null {
  // Depth-first search; `path` holds the greenlets from the first blocker to the current node.
  const path: Greenlet[] = [];
  const seen = new Set<Greenlet>();
  const search = (targets: readonly Greenlet[]): boolean => {
    for (const g of targets) {
      if (g === waiter) return true;
      if (seen.has(g)) continue;
      seen.add(g);
      const w = soleBlockingWait(g);
      if (w === null) continue;
      path.push(g);
      if (search((w.on as BlockingTarget)[kBlockers]())) return true;
      path.pop();
    }
    return false;
  };
  if (!search(on[kBlockers]())) return null;

  const steps = [`${waiter} ${describeEdge(op, on)}`];
  for (const g of path) steps.push(`${g} ${describeEdge(g._wfirst!.op, g._wfirst!.on)}`);
  const cycle = [waiter, ...path].map(String);
  return new DeadlockError(`Deadlock: ${steps.join('; ')}: a cycle of waits that can never end`, cycle);
}
