/**
 * Timeout: an exception that is also a timer (gevent's `Timeout`).
 *
 * `Timeout.start(ms)` binds to the current greenlet; when the timer fires, the Timeout instance (or
 * the exception it was given) is thrown into that greenlet at its current or next checkpoint, through
 * the same `Greenlet._throw` that `kill()` uses.
 *
 * Guarantees:
 * - Nested timeouts each raise their own instance, so `catch (e) { if (e !== myTimeout) throw e; }`
 *   swallows only its own timer, never an outer one (that is what {@link withTimeout} does).
 * - `cancel()` (or leaving a `using` block) also withdraws a fired-but-undelivered throw, so a
 *   Timeout can never escape the scope that started it.
 * - A Timeout cannot outlive its greenlet: when the greenlet dies, its armed Timeouts are cancelled
 *   (they would otherwise keep the process alive for nothing).
 * - Constructing one does not capture a stack trace (that would cost more than the timer itself);
 *   with `getHub().trackSpawnSites` on, it captures where it was created.
 */
import { NoCurrentGreenletError } from '../errors.js';
import { armTimer, disarmTimer, type Timer } from '../internal/natives.js';
import { checkFunction, checkOptions, checkTimeout } from '../internal/validate.js';
import { Greenlet } from './greenlet.js';
import { currentGreenlet, formatMs, getHub } from './hub.js';

let savedStackTraceLimit = 0;
function withoutStack(message: string): string {
  savedStackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  return message;
}

/**
 * Raised into a greenlet when its time is up. Works as a timer you start and cancel, and as the
 * error you catch.
 *
 * @example
 * ```ts
 * spawn(async () => {
 *   using t = Timeout.start(100);
 *   try {
 *     await fetchSlowly();
 *   } catch (e) {
 *     if (e !== t) throw e; // not ours: an outer Timeout, or a real error
 *     console.log('gave up after 100 ms');
 *   }
 * });
 * ```
 */
export class Timeout extends Error {
  declare readonly code: 'ERR_GREENHUB_TIMEOUT';
  /** The delay in milliseconds; `null` never fires. */
  readonly ms: number | null;
  /** What is thrown when it fires: the given exception, or this Timeout. */
  readonly exception: unknown;
  /** @internal intrusive list of the greenlet's armed Timeouts */
  _prev: Timeout | null = null;
  /** @internal */
  _next: Timeout | null = null;
  private greenlet: Greenlet | null = null;
  private timer: Timer | undefined = undefined;

  /**
   * A Timeout that is not started. `ms` `null`/`undefined` never fires; `exception` (an instance or
   * an Error class) is thrown instead of the Timeout itself.
   */
  constructor(ms?: number | null, exception?: unknown) {
    const delay = checkTimeout('new Timeout()', 'ms', ms);
    super(withoutStack(delay === null ? 'Timeout (never fires)' : `Timed out after ${formatMs(delay)}`));
    Error.stackTraceLimit = savedStackTraceLimit;
    if (getHub().trackSpawnSites) Error.captureStackTrace(this, Timeout);
    this.ms = delay;
    this.exception = exception;
  }

  /**
   * Create a Timeout and start it in the current greenlet.
   *
   * @example
   * ```ts
   * using _ = Timeout.start(5_000); // the rest of this block must finish within 5 s
   * ```
   */
  static start(ms?: number | null, exception?: unknown): Timeout {
    const timeout = new Timeout(ms, exception);
    timeout.start();
    return timeout;
  }

  /** True while the timer is armed and has not fired. */
  get pending(): boolean {
    return this.timer !== undefined;
  }

  /**
   * Arm the timer, bound to the current greenlet. Does nothing while already pending. Throws
   * `NoCurrentGreenletError` in top-level code (use {@link withTimeout} there).
   */
  start(): void {
    if (this.timer !== undefined) return;
    const greenlet = currentGreenlet();
    if (greenlet === undefined) {
      throw new NoCurrentGreenletError(
        'Timeout.start() needs a current greenlet to interrupt, and top-level code is not one; ' +
          'call it inside a greenlet, or use withTimeout(ms, fn), which runs fn in a greenlet when needed',
      );
    }
    this.greenlet = greenlet;
    if (this.ms === null) return;
    this.timer = armTimer(fire, this.ms, this);
    const head = greenlet._timeouts;
    this._next = head;
    if (head !== null) head._prev = this;
    greenlet._timeouts = this;
  }

  /** Disarm the timer, and withdraw its throw if it fired but was not delivered yet. Idempotent. */
  cancel(): void {
    const greenlet = this.greenlet;
    if (greenlet === null) return;
    if (this.timer !== undefined) {
      disarmTimer(this.timer);
      this.timer = undefined;
      this.unlink(greenlet);
    }
    greenlet._dropPendingThrow(this.thrown());
    this.greenlet = null;
  }

  /** `using t = Timeout.start(ms)` cancels at the end of the block. */
  [Symbol.dispose](): void {
    this.cancel();
  }

  /** @internal the timer fired */
  _fire(): void {
    const greenlet = this.greenlet!;
    this.timer = undefined;
    this.unlink(greenlet);
    greenlet._throw(this.thrown(), false);
  }

  /** What firing throws (an Error class given as `exception` is instantiated once). */
  private thrown(): unknown {
    const exception = this.exception;
    if (exception === undefined) return this;
    if (typeof exception === 'function' && exception.prototype instanceof Error) {
      const instance = new (exception as new () => Error)();
      (this as { exception: unknown }).exception = instance;
      return instance;
    }
    return exception;
  }

  private unlink(greenlet: Greenlet): void {
    if (this._prev === null) greenlet._timeouts = this._next;
    else this._prev._next = this._next;
    if (this._next !== null) this._next._prev = this._prev;
    this._prev = this._next = null;
  }
}
Object.defineProperty(Timeout.prototype, 'name', { value: 'Timeout', writable: true, configurable: true });
Object.defineProperty(Timeout.prototype, 'code', {
  value: 'ERR_GREENHUB_TIMEOUT',
  writable: true,
  configurable: true,
});

function fire(timeout: Timeout): void {
  timeout._fire();
}

/** Options of {@link withTimeout}. */
export interface WithTimeoutOptions<T> {
  /** Returned instead of throwing when this call's own Timeout fires. */
  fallback?: T;
}

/**
 * Run `fn` with a deadline: if `ms` passes first, its Timeout is raised inside it at the next
 * checkpoint and `withTimeout` throws it — or returns `opts.fallback` when one is given. Only its
 * own Timeout is turned into the fallback; an outer Timeout or a real error passes through. In
 * top-level code, `fn` runs in a new greenlet (a Timeout needs a greenlet to interrupt).
 *
 * If `fn` finishes after the deadline without reaching a checkpoint (it awaited only unpatched
 * I/O), its result is returned: the work completed (trio's rule).
 *
 * @example
 * ```ts
 * const body = await withTimeout(2_000, () => fetchBody(url), { fallback: null });
 * ```
 */
export async function withTimeout<T>(
  ms: number | null | undefined,
  fn: () => T | PromiseLike<T>,
  opts?: WithTimeoutOptions<T>,
): Promise<T> {
  const delay = checkTimeout('withTimeout()', 'ms', ms);
  checkFunction('withTimeout()', 'fn', fn);
  checkOptions('withTimeout()', 'opts', opts, ['fallback']);
  if (currentGreenlet() === undefined) {
    const greenlet = new Greenlet<T>(withTimeout as never, delay, fn, opts);
    greenlet.name = 'withTimeout';
    greenlet.start();
    return greenlet.get();
  }
  const timeout = new Timeout(delay);
  timeout.start();
  try {
    return await fn();
  } catch (error) {
    if (error === timeout && opts !== undefined && 'fallback' in opts) return opts.fallback as T;
    throw error;
  } finally {
    timeout.cancel();
  }
}
