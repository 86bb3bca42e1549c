/**
 * The hub's internal facade: what the other folders of greenhub (patch, threadpool, metrics,
 * server) may use of `greenlet/` beyond its public API. Nothing outside `greenlet/` reaches a `_x`
 * member of the hub, a greenlet or a primitive; it calls these functions instead (`npm run lint`
 * checks it: scripts/check-internals.mjs), so the hub's representation can change behind them.
 *
 * Prior art: effection's `Scope` (public) beside `ScopeInternal`; piscina keeping its pool behind a
 * `#private` field.
 */
import type { Greenlet } from './greenlet.js';
import { getHub } from './hub.js';
import type { Linkable } from './linkable.js';
import type { Link } from './waiter.js';

/**
 * The checkpoint of a call that completes without blocking: the current greenlet's pending kill or
 * Timeout, taken (it is thrown by the caller), or `undefined`. One comparison when none is pending.
 */
export function checkpoint(): { error: unknown } | undefined {
  return getHub()._checkpoint();
}

/**
 * Interrupt `greenlet` with `exception` where it waits (its hub waits, its operations), or keep it
 * for its next checkpoint. `isKill`: a kill replaces a pending Timeout, never the reverse.
 */
export function throwInto(greenlet: Greenlet, exception: unknown, isKill: boolean): void {
  greenlet._throw(exception, isKill);
}

/** True when `greenlet` holds a kill or Timeout for its next checkpoint. */
export function hasPendingThrow(greenlet: Greenlet): boolean {
  return greenlet._hasPendingThrow();
}

/** Start `greenlet` and run its first slice now, inside the caller's code (see `Greenlet._startNow`). */
export function startNow(greenlet: Greenlet): void {
  greenlet._startNow();
}

/** Someone takes care of `greenlet`'s failure: the hub does not report it as unobserved. */
export function markObserved(greenlet: Greenlet): void {
  greenlet._observed = true;
}

/** True when `greenlet` died with an exception (a default kill is a success). */
export function hasFailed(greenlet: Greenlet): boolean {
  return greenlet._failed;
}

/** Register an internal link (a `CallbackLink`) on a greenlet or primitive; fired once it is ready. */
export function addLink(target: Linkable, link: Link): void {
  target._addLink(link);
}

/** Report an error through the hub's `onError` (`greenlet`: whose, or null); never throws. */
export function report(error: unknown, greenlet: Greenlet | null): void {
  getHub()._report(error, greenlet);
}

/** The name greenlet metrics group `greenlet` under: its name if set, else its function's name. */
export function metricName(greenlet: Greenlet): string {
  return greenlet._metricName();
}

/** The live greenlets (started, not dead), newest first: a snapshot, safe to use while they die. */
export function liveGreenlets(): Greenlet[] {
  return [...getHub()._liveGreenlets()];
}

/** Called when a greenlet that ran dies, with how long it ran (ms). */
export type GreenletEndHook = (greenlet: Greenlet, ms: number) => void;
/** Called after a greenlet's first synchronous segment with its metric name and the segment's length (ms). */
export type RunSegmentHook = (name: string, ms: number) => void;

/** The greenlet-durations hook (metrics), or null when durations are not measured. */
export function greenletEndHook(): GreenletEndHook | null {
  return getHub()._onGreenletEnd;
}

/** Install (or with null, remove) the greenlet-durations hook. */
export function setGreenletEndHook(hook: GreenletEndHook | null): void {
  getHub()._onGreenletEnd = hook;
}

/** The loop-time-by-greenlet hook (metrics), or null. */
export function runSegmentHook(): RunSegmentHook | null {
  return getHub()._onRunSegment;
}

/** Install (or with null, remove) the loop-time-by-greenlet hook. */
export function setRunSegmentHook(hook: RunSegmentHook | null): void {
  getHub()._onRunSegment = hook;
}

/** @internal */
export { Completion } from './greenlet.js';
// What the other folders use of the hub's modules beyond the public API, in one place: they import
// these from here, never from the module that defines them (scripts/check-internals.mjs).
/** @internal */
export {
  currentGreenlet,
  currentOwner,
  defaultPool,
  formatMs,
  printError,
  runAs,
  runOutside,
} from './hub.js';
/** @internal */
export { Linkable } from './linkable.js';
/** @internal */
export { mapItems } from './map.js';
/** @internal */
export { countBlock } from './monitor.js';
/** @internal */
export { registerOperation } from './operation.js';
// Public in the declarations: a class of the thread pool's shared primitives implements it.
export type { WaitTarget } from './waiter.js';
/** @internal */
export {
  CallbackLink,
  checkpointed,
  FireMode,
  parkWaiter,
  Refusal,
  type Waiter,
  WaitList,
} from './waiter.js';
