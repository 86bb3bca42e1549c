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
 * - A Timeout that fired is never lost. When the greenlet awaits something greenhub does not see
 *   (an unpatched promise), the exception is pending: it is raised at the greenlet's next
 *   checkpoint, when its body returns (the greenlet ends with it, not with the late value), or — at
 *   the latest — when a `using` block disposes of the Timeout. An explicit `cancel()` withdraws it:
 *   the caller said it no longer wants it.
 * - A bare Timeout cannot resume such an await early; {@link withTimeout} can: it keeps the
 *   deadline at the caller and abandons the body (see fence.ts).
 * - A Timeout cannot outlive its greenlet: when the greenlet dies, its armed Timeouts are cancelled
 *   (they would otherwise keep the process alive for nothing).
 * - Constructing one costs about what an ordinary object does: it is not a V8 native error (see
 *   `ErrorPrototype` below), captures no stack trace (with `getHub().trackSpawnSites` on, it
 *   captures where it was created), and its message is formatted when read.
 * - Its timer is a deadline on the hub's timer heap (timers.ts), not a Node timer of its own:
 *   starting and cancelling one never touches Node's timer lists, yet a started Timeout keeps the
 *   process alive as a `setTimeout` would, and a cancelled one does not.
 */
import { NoCurrentGreenletError } from '../errors.js';
import { linkFirst, unlink } from '../internal/intrusive-list.js';
import { checkFunction, checkOptions, checkSignal, checkTimeout } from '../internal/validate.js';
import { Fence } from './fence.js';
import { Greenlet } from './greenlet.js';
import { currentContext, formatMs, getHub, type HubContext, runAs } from './hub.js';
import { type Deadline, schedule, unschedule } from './timers.js';

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
export class Timeout extends Error implements Deadline {
  declare readonly code: 'ERR_GREENHUB_TIMEOUT';
  /** The delay in milliseconds; `null` never fires. */
  readonly ms: number | null;
  /** What is thrown when it fires: the given exception, or this Timeout. */
  readonly exception: unknown;
  /** @internal intrusive list of the greenlet's armed Timeouts */
  _prev: Timeout | null = null;
  /** @internal */
  _next: Timeout | null = null;
  /**
   * @internal Set by {@link withTimeout}: called when the Timeout fires and nothing could deliver it
   * (the body awaits something greenhub does not see); returns true when it kept the deadline.
   */
  _onUndelivered: ((exception: unknown) => boolean) | null = null;
  private greenlet: Greenlet | null = null;
  /** The context that started it (the greenlet, or a `withTimeout` body inside it). */
  private context: HubContext | null = null;
  /** @internal the timer heap's (timers.ts) */
  _dueAt = 0;
  /** @internal */
  _seq = 0;
  /** @internal position in the timer heap, -1 while not armed */
  _slot = -1;

  /**
   * A Timeout that is not started. `ms` `null`/`undefined` never fires; `exception` (an instance or
   * an Error class) is thrown instead of the Timeout itself.
   */
  constructor(ms?: number | null, exception?: unknown) {
    const delay = checkTimeout('new Timeout()', 'ms', ms);
    // An ordinary object on Error's prototype chain (see ErrorPrototype below), not V8's error.
    super();
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
    return this._slot >= 0;
  }

  /**
   * Arm the timer, bound to the current greenlet. Does nothing while already pending. Throws
   * `NoCurrentGreenletError` in top-level code (use {@link withTimeout} there).
   */
  start(): void {
    if (this._slot >= 0) return;
    const context = currentContext();
    if (context === undefined) {
      throw new NoCurrentGreenletError(
        'Timeout.start() needs a current greenlet to interrupt, and top-level code is not one; ' +
          'call it inside a greenlet, or use withTimeout(ms, fn), which runs fn in a greenlet when needed',
      );
    }
    const greenlet = context._greenlet;
    this.greenlet = greenlet;
    this.context = context;
    if (this.ms === null) return;
    schedule(this, this.ms);
    greenlet._timeouts = linkFirst(greenlet._timeouts, this);
  }

  /** Disarm the timer, and withdraw its throw if it fired but was not delivered yet. Idempotent. */
  cancel(): void {
    this.stop();
  }

  /**
   * `using t = Timeout.start(ms)` cancels at the end of the block — and if the Timeout fired while
   * the block awaited something greenhub does not see, raises it there (a deadline is never lost).
   */
  [Symbol.dispose](): void {
    if (this.stop()) throw this.thrown();
  }

  /** @internal the timer heap's: the deadline passed; fire in the context that started it */
  _expire(): void {
    runAs(this.context!, fire, this);
  }

  /** @internal the timer fired */
  _fire(): void {
    const greenlet = this.greenlet!;
    this.unlink(greenlet);
    // The context that started it was abandoned (fence.ts) or its greenlet died: nothing to interrupt.
    if (this.context!._liveOwner() !== greenlet) return;
    const exception = this.thrown();
    // Raised now: an own `stack`, which Node needs to report an unhandled rejection with this
    // Timeout's message rather than as a bare value (error-like means an own `stack`).
    if (exception === this && !Object.hasOwn(this, 'stack')) this.stack = `${this.name}: ${this.message}`;
    if (greenlet._deliver(exception)) return;
    if (this._onUndelivered?.(exception) === true) return;
    greenlet._setPending(exception, false);
  }

  /** Disarm; true when a fired, undelivered throw was withdrawn. */
  private stop(): boolean {
    const greenlet = this.greenlet;
    if (greenlet === null) return false;
    if (this._slot >= 0) {
      unschedule(this);
      this.unlink(greenlet);
    }
    this.greenlet = this.context = null;
    this._onUndelivered = null;
    return this.ms !== null && greenlet._dropPendingThrow(this.thrown());
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
    greenlet._timeouts = unlink(greenlet._timeouts, this);
  }
}
Object.defineProperty(Timeout.prototype, 'name', { value: 'Timeout', writable: true, configurable: true });
Object.defineProperty(Timeout.prototype, 'message', {
  get(this: Timeout): string {
    return this.ms === null ? 'Timeout (never fires)' : `Timed out after ${formatMs(this.ms)}`;
  },
  set(this: Timeout, message: string) {
    Object.defineProperty(this, 'message', { value: message, writable: true, configurable: true });
  },
  configurable: true,
});
Object.defineProperty(Timeout.prototype, 'stack', {
  get(this: Timeout): string {
    return `${this.name}: ${this.message}`;
  },
  set(this: Timeout, stack: string) {
    Object.defineProperty(this, 'stack', { value: stack, writable: true, configurable: true });
  },
  configurable: true,
});
/**
 * What `super()` in Timeout's constructor calls: a constructor whose instances inherit from
 * `Error.prototype` without V8's native error construction. A Timeout is created for every
 * `withTimeout` and `Timeout.start()`, and nearly always cancelled; V8's `Error` constructor (a
 * runtime call, ~0.7 µs even without a stack trace) cost more than the rest of a start and a
 * cancel together. A Timeout is still `instanceof Error` and `instanceof Timeout`, has `name`,
 * `message`, `code` and `stack`, and is the very object that is thrown; what it is not is a
 * native error: `Error.isError()` (Node 24) and `util.types.isNativeError()` say false, and
 * `structuredClone` copies it as a plain object.
 */
function ErrorPrototype(): void {}
ErrorPrototype.prototype = Error.prototype;
Object.setPrototypeOf(ErrorPrototype, Error);
Object.setPrototypeOf(Timeout, ErrorPrototype);
// `Object.prototype.toString` says `[object Error]`, as for a native error (lodash's isError, …).
Object.defineProperty(Timeout.prototype, Symbol.toStringTag, { value: 'Error', configurable: true });
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
  /** Also give up when this signal aborts: `withTimeout` throws its `reason`. */
  signal?: AbortSignal;
}

const WITH_TIMEOUT_OPTIONS = ['fallback', 'signal'] as const;

/**
 * Run `fn` with a deadline kept at the caller: when `ms` passes first, `withTimeout` throws its
 * Timeout on time — or returns `opts.fallback` when one is given — whatever `fn` awaits. Only its
 * own Timeout is turned into the fallback; an outer Timeout, a kill or a real error passes through.
 * In top-level code, `fn` runs in a new greenlet (a Timeout needs a greenlet to interrupt).
 *
 * Where `fn` waits in a hub wait or patched I/O, the Timeout is raised there, `fn` unwinds (its
 * `finally` blocks run) and `withTimeout` returns once it has. Where `fn` awaits something greenhub
 * does not see (an unpatched promise), `withTimeout` returns at the deadline and abandons `fn`'s
 * continuation: when its await resumes, its result is discarded and its next checkpoint throws the
 * Timeout (see `getHub().stats().abandoned`). With `opts.signal`, an abort ends the wait the same
 * way, with the signal's reason.
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
  checkOptions('withTimeout()', 'opts', opts, WITH_TIMEOUT_OPTIONS);
  const signal = checkSignal('withTimeout()', 'opts.signal', opts?.signal);
  const context = currentContext();
  if (context === undefined || context._liveOwner() === undefined) {
    // Top level, or the leftovers of a finished greenlet: there is no greenlet to interrupt.
    const greenlet = new Greenlet<T>(withTimeout as never, delay, fn, opts);
    greenlet.name = 'withTimeout';
    greenlet.start();
    return greenlet.get();
  }
  if (signal?.aborted) throw signal.reason;
  const timeout = new Timeout(delay);
  timeout.start();
  const fence = new Fence(context, `withTimeout(${delay === null ? 'never' : formatMs(delay)})`);
  try {
    const result = runAs(fence, callBody, fn);
    if (!isThenable(result)) return result;
    return await keepDeadline(timeout, fence, result, signal);
  } catch (error) {
    if (error === timeout && opts !== undefined && 'fallback' in opts) return opts.fallback as T;
    throw error;
  } finally {
    timeout.cancel();
  }
}

function callBody<T>(fn: () => T): T {
  return fn();
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}

/**
 * The body's outcome — or, when its Timeout fires and nothing could deliver it (or `signal`
 * aborts), that exception at once, the body abandoned behind a fence.
 */
function keepDeadline<T>(
  timeout: Timeout,
  fence: Fence,
  work: PromiseLike<T>,
  signal: AbortSignal | undefined,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let open = true;
    const giveUp = (exception: unknown): boolean => {
      if (!open) return false;
      open = false;
      signal?.removeEventListener('abort', onAbort);
      fence.abandon(exception);
      reject(exception);
      return true;
    };
    // An abort is delivered like the Timeout: where the body waits, else at the caller.
    const onAbort = (): void => {
      if (!fence._greenlet._deliver(signal!.reason)) giveUp(signal!.reason);
    };
    timeout._onUndelivered = giveUp;
    signal?.addEventListener('abort', onAbort, { once: true });
    Promise.resolve(work).then(
      (value) => {
        fence.settled();
        if (!open) return;
        open = false;
        signal?.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        fence.settled();
        if (!open) return;
        open = false;
        signal?.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
