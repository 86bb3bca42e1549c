import { checkOptions, checkSignal, checkTimeout } from '../internal/validate.js';
import { getHub } from './hub.js';
import { FireMode, park, parkWaiter, Refusal, type WaitTarget } from './waiter.js';

const TIMER: WaitTarget = { toString: () => 'a timer' };

/** Options of {@link sleep}. */
export interface SleepOptions {
  /** Wake early: the sleep rejects with the signal's reason when it aborts (as `timers/promises`). */
  signal?: AbortSignal;
}

/**
 * Pause the current greenlet for `ms` milliseconds; a checkpoint where kill and Timeout land.
 *
 * `sleep(0)` (the default) yields: every other runnable greenlet, and every I/O callback that is
 * already due, runs before it returns — gevent's `sleep(0)`. `sleep(Infinity)` parks until killed
 * (and raises `LoopExit` if nothing else can ever happen). With `opts.signal`, an abort ends the
 * sleep with the signal's reason (at once if it is already aborted).
 *
 * @example
 * ```ts
 * spawn(async () => { console.log('a1'); await sleep(0); console.log('a2'); });
 * spawn(async () => { console.log('b1'); await sleep(0); console.log('b2'); });
 * // a1 b1 a2 b2
 * ```
 */
export function sleep(ms = 0, opts?: SleepOptions): Promise<void> {
  const delay = checkTimeout('sleep()', 'ms', ms);
  let signal: AbortSignal | undefined;
  if (opts !== undefined) {
    checkOptions('sleep()', 'opts', opts, ['signal']);
    signal = checkSignal('sleep()', 'opts.signal', opts.signal);
  }
  const hub = getHub();
  if (delay !== 0)
    return park<void>(hub, TIMER, 'sleep', null, delay, FireMode.Value, undefined, undefined, signal);
  const waiter = parkWaiter(hub, TIMER, 'sleep', null, null, FireMode.Value, undefined, undefined, signal);
  if (waiter instanceof Refusal) return Promise.reject(waiter.error);
  hub._schedule(waiter);
  return waiter.promise as Promise<void>;
}
