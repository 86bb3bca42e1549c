/**
 * greenhub/worker: what a task running in the thread pool can use.
 *
 * A pool task cannot be interrupted from outside while it computes (JavaScript has no preemption
 * across threads), so cancellation is cooperative first: when the calling greenlet is killed or
 * times out, the task's {@link currentSignal} aborts and its next {@link checkpoint} throws a
 * `TaskCancelledError`. A task that ignores both is stopped the hard way after the pool's
 * `cancelGrace`: its thread is terminated and replaced.
 *
 * Outside a task (a unit test calling a task function directly) nothing is ever cancelled: the
 * signal never aborts and `checkpoint()` returns, so task modules stay ordinary functions.
 *
 * @example
 * ```ts
 * // tasks.js
 * import { checkpoint, currentSignal } from 'greenhub/worker';
 *
 * export function sumPrimes(limit) {
 *   let sum = 0;
 *   for (let n = 2; n < limit; n++) {
 *     if (n % 10_000 === 0) checkpoint(); // cheap: one atomic load
 *     if (isPrime(n)) sum += n;
 *   }
 *   return sum;
 * }
 *
 * export async function download(url) {
 *   return (await fetch(url, { signal: currentSignal() })).text();
 * }
 * ```
 */
import { createRequire } from 'node:module';
import { MessagePort } from 'node:worker_threads';
import { TaskCancelledError } from '../errors.js';
import { typeError } from '../internal/validate.js';
import { CANCEL_NONE, reasonOf } from '../threadpool/protocol.js';
import { currentContext, neverAborted } from './context.js';

export { TaskCancelledError };

/**
 * An AbortSignal that aborts when the caller of the current task no longer wants its result (its
 * greenlet was killed or timed out, or the pool is closing); its `reason` is a
 * `TaskCancelledError`. Pass it to anything that accepts a signal (`fetch`, streams, timers).
 * Outside a task it never aborts.
 *
 * @example
 * ```ts
 * export async function poll(url) {
 *   const signal = currentSignal();
 *   while (!signal.aborted) await check(url, { signal });
 * }
 * ```
 */
export function currentSignal(): AbortSignal {
  const context = currentContext();
  return context === null ? neverAborted() : context.signal(TaskCancelledError);
}

/**
 * Throw a `TaskCancelledError` if the current task was cancelled; otherwise return at once. Costs
 * one atomic load: call it in the loops of long computations. Outside a task it never throws.
 *
 * @example
 * ```ts
 * for (const row of rows) { checkpoint(); total += score(row); }
 * ```
 */
export function checkpoint(): void {
  const context = currentContext();
  if (context === null) return;
  const code = context.cancelCode();
  if (code !== CANCEL_NONE) throw new TaskCancelledError(reasonOf(code));
}

/**
 * True when the current task was cancelled (see {@link checkpoint}), for code that prefers to
 * return a partial result over throwing.
 *
 * @example
 * ```ts
 * while (!isCancelled() && improved) improved = refine(solution);
 * return solution;
 * ```
 */
export function isCancelled(): boolean {
  const context = currentContext();
  return context !== null && context.cancelCode() !== CANCEL_NONE;
}

let piscinaMove: ((value: unknown) => unknown) | undefined;

/**
 * Mark an `ArrayBuffer`, a typed array's buffer or a `MessagePort` to be *moved* (transferred)
 * rather than copied when it crosses threads: as a task's return value, or as an argument of
 * `ThreadPool.apply`/`spawn`. The sender loses access to it. (piscina's `move`; typed as the value
 * itself for convenience.)
 *
 * @example
 * ```ts
 * export function render(width, height) {
 *   const pixels = new Uint8Array(width * height * 4);
 *   draw(pixels);
 *   return move(pixels); // no copy of the pixels on the way back
 * }
 * ```
 */
export function move<T extends ArrayBuffer | ArrayBufferView | MessagePort>(value: T): T {
  if (!(value instanceof ArrayBuffer || ArrayBuffer.isView(value) || value instanceof MessagePort)) {
    throw typeError('move()', 'value', 'an ArrayBuffer, a typed array or DataView, or a MessagePort', value);
  }
  piscinaMove ??= (createRequire(import.meta.url)('piscina') as { move: (value: unknown) => unknown }).move;
  return piscinaMove(value) as T;
}
