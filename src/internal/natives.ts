/**
 * Originals of everything `greenhub/patch` may replace, captured when greenhub is first loaded.
 *
 * The hub must never call a patched API: a patched timer would account the hub's
 * own timers to the greenlet that happens to be current, and a patched timer that checks for
 * cancellation would recurse into the hub. Every internal timer goes through these bindings. They
 * are plain `const` captures, not ESM live bindings, so `module.syncBuiltinESMExports()` after a
 * patch cannot reach them.
 */
import { performance } from 'node:perf_hooks';
import { originalOf } from '../patch/registry.js';

/**
 * The original of a global, also when the preload's stand-in (patch/registry.ts's `Shell`) is at
 * its place while this module loads.
 */
function original<K extends keyof typeof globalThis>(name: K): (typeof globalThis)[K] {
  return originalOf(globalThis, name) as (typeof globalThis)[K];
}

export const nativeSetTimeout: typeof globalThis.setTimeout = original('setTimeout');
export const nativeClearTimeout: typeof globalThis.clearTimeout = original('clearTimeout');
export const nativeSetInterval: typeof globalThis.setInterval = original('setInterval');
export const nativeClearInterval: typeof globalThis.clearInterval = original('clearInterval');
export const nativeSetImmediate: typeof globalThis.setImmediate = original('setImmediate');
export const nativeQueueMicrotask: typeof globalThis.queueMicrotask = original('queueMicrotask');

/** Monotonic milliseconds (`performance.now()`), for "waiting since" and durations. */
export const now: () => number = performance.now.bind(performance);

/** Node's timers cannot be longer than 2^31-1 ms; longer ones fire after 1 ms. */
export const MAX_TIMER_MS = 2_147_483_647;

/** A timer armed by {@link armTimer}: Node's own handle, or a re-arming chain for very long delays. */
export type Timer = ReturnType<typeof setTimeout> | LongTimer<unknown>;

class LongTimer<A> {
  handle: ReturnType<typeof setTimeout>;
  private readonly deadline: number;
  constructor(
    private readonly fn: (arg: A) => void,
    ms: number,
    private readonly arg: A,
  ) {
    this.deadline = now() + ms;
    this.handle = this.arm();
  }
  private arm(): ReturnType<typeof setTimeout> {
    const left = this.deadline - now();
    return left <= MAX_TIMER_MS
      ? nativeSetTimeout(this.fn, Math.max(0, left), this.arg)
      : nativeSetTimeout(() => {
          this.handle = this.arm();
        }, MAX_TIMER_MS);
  }
}

/**
 * `setTimeout` on the captured original that honours delays beyond Node's 24.8-day limit by
 * re-arming, instead of silently firing after 1 ms. Ordinary delays cost no extra allocation.
 */
export function armTimer<A>(fn: (arg: A) => void, ms: number, arg: A): Timer {
  return ms <= MAX_TIMER_MS
    ? nativeSetTimeout(fn, ms, arg)
    : (new LongTimer(fn, ms, arg) as LongTimer<unknown>);
}

export function disarmTimer(timer: Timer): void {
  nativeClearTimeout(timer instanceof LongTimer ? timer.handle : timer);
}
