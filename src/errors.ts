/**
 * Every public error class of greenhub, each with a stable `code` (`ERR_GREENHUB_…`) and a note on
 * whose fault it is.
 *
 * Cancellation is kept apart from failure (as trio and gevent do): {@link GreenletExit} and
 * `Timeout` (in `greenlet/timeout.ts`, because it is also a timer) are how a greenlet is asked to
 * stop; the rest report something that went wrong. Argument errors are the platform's own
 * `TypeError`/`RangeError` subclasses, so `instanceof TypeError` keeps working.
 */

/** The stable codes carried by greenhub errors, as a union for exhaustive `switch`es. */
export type GreenhubErrorCode =
  | 'ERR_GREENHUB_GREENLET_EXIT'
  | 'ERR_GREENHUB_TIMEOUT'
  | 'ERR_GREENHUB_LOOP_EXIT'
  | 'ERR_GREENHUB_DEADLOCK'
  | 'ERR_GREENHUB_QUEUE_EMPTY'
  | 'ERR_GREENHUB_QUEUE_FULL'
  | 'ERR_GREENHUB_QUEUE_SHUT_DOWN'
  | 'ERR_GREENHUB_POOL_FULL'
  | 'ERR_GREENHUB_NO_CURRENT_GREENLET'
  | 'ERR_GREENHUB_NOT_OWNER'
  | 'ERR_GREENHUB_OVER_RELEASE'
  | 'ERR_GREENHUB_INVALID_STATE'
  | 'ERR_GREENHUB_BLOCKING_CALL'
  | 'ERR_GREENHUB_INVALID_ARG_TYPE'
  | 'ERR_GREENHUB_INVALID_ARG_VALUE'
  | 'ERR_GREENHUB_UNKNOWN_OPTION';

/** Give `cls` a prototype `name`, so stack headers read `LoopExit: …` rather than `Error: …`. */
function brand(cls: abstract new (...args: never[]) => Error, name: string): void {
  Object.defineProperty(cls.prototype, 'name', { value: name, writable: true, configurable: true });
}

/**
 * The default exception of {@link Greenlet.kill}. A greenlet that ends with a `GreenletExit` counts
 * as **successful**: its `value` is the `GreenletExit` and its `exception` is `undefined`.
 *
 * Whose fault: nobody's — it is a request to stop.
 *
 * @example
 * ```ts
 * const g = spawn(() => sleep(60_000));
 * await g.kill();            // delivers GreenletExit at the sleep
 * g.successful();            // true
 * g.value instanceof GreenletExit; // true
 * ```
 */
export class GreenletExit extends Error {
  readonly code = 'ERR_GREENHUB_GREENLET_EXIT';
  constructor(message = 'Greenlet killed') {
    super(message);
  }
}
brand(GreenletExit, 'GreenletExit');

/**
 * `This operation would block forever`: the event loop has nothing left that could wake a pending
 * hub wait (no timer, socket, pool task or other ref'd handle), so instead of letting Node exit
 * silently, every such wait rejects with a `LoopExit` whose message lists who waits on what and
 * since when. Code may catch it and go on.
 *
 * Whose fault: the program's — it waits for something nobody will ever do.
 *
 * @example
 * ```ts
 * try { await new Event().wait(); } catch (e) { if (e instanceof LoopExit) console.error(e.message); }
 * ```
 */
export class LoopExit extends Error {
  readonly code = 'ERR_GREENHUB_LOOP_EXIT';
  /** The run info at the moment the loop emptied (also part of `message`). */
  readonly runInfo: string;
  constructor(message: string, runInfo = '') {
    super(runInfo ? `${message}\n${runInfo}` : message);
    this.runInfo = runInfo;
  }
}
brand(LoopExit, 'LoopExit');

/**
 * A wait that would close a cycle in the wait-for graph (A joins B while B waits on a lock A holds;
 * A joins B joins A; a greenlet acquiring a `Lock` it already holds) rejects at once with this
 * error, naming the cycle — even in a live server whose loop never empties.
 *
 * Whose fault: the program's.
 *
 * @example
 * ```ts
 * const lock = new Lock();
 * await lock.acquire();
 * const b = spawn(async () => { await lock.acquire(); });
 * await b.join(); // DeadlockError: Greenlet-1 joins Greenlet-2, which waits on Lock held by Greenlet-1
 * ```
 */
export class DeadlockError extends Error {
  readonly code = 'ERR_GREENHUB_DEADLOCK';
  /** Names of the greenlets in the cycle, starting with the one whose wait was refused. */
  readonly cycle: readonly string[];
  constructor(message: string, cycle: readonly string[]) {
    super(message);
    this.cycle = cycle;
  }
}
brand(DeadlockError, 'DeadlockError');

/**
 * `getNowait()` on an empty queue, or `get({ timeout })` that timed out.
 *
 * Whose fault: nobody's — the caller asked not to wait (longer).
 */
export class QueueEmpty extends Error {
  readonly code = 'ERR_GREENHUB_QUEUE_EMPTY';
  constructor(message = 'Queue is empty') {
    super(message);
  }
}
brand(QueueEmpty, 'QueueEmpty');

/**
 * `putNowait()` on a full queue, or `put(item, { timeout })` that timed out; the item was **not**
 * added and is still the caller's.
 *
 * Whose fault: nobody's — the caller asked not to wait (longer).
 */
export class QueueFull extends Error {
  readonly code = 'ERR_GREENHUB_QUEUE_FULL';
  constructor(message = 'Queue is full') {
    super(message);
  }
}
brand(QueueFull, 'QueueFull');

/**
 * The queue was shut down: `put` always fails, `get` fails once the remaining items are drained
 * (at once after `shutdown({ immediate: true })`).
 *
 * Whose fault: nobody's — the queue's owner closed it.
 */
export class QueueShutDown extends Error {
  readonly code = 'ERR_GREENHUB_QUEUE_SHUT_DOWN';
  constructor(message = 'Queue is shut down') {
    super(message);
  }
}
brand(QueueShutDown, 'QueueShutDown');

/**
 * A `Pool` (or thread pool queue) had no free slot and the caller asked not to wait, or its
 * timeout passed. The work was not started.
 *
 * Whose fault: nobody's — backpressure, by request.
 */
export class PoolFull extends Error {
  readonly code = 'ERR_GREENHUB_POOL_FULL';
  constructor(message = 'Pool is full') {
    super(message);
  }
}
brand(PoolFull, 'PoolFull');

/**
 * An API that needs a current greenlet (such as `Timeout.start()`, which must know whom to
 * interrupt) was called from top-level code.
 *
 * Whose fault: the caller's.
 */
export class NoCurrentGreenletError extends Error {
  readonly code = 'ERR_GREENHUB_NO_CURRENT_GREENLET';
}
brand(NoCurrentGreenletError, 'NoCurrentGreenletError');

/**
 * An owned lock (`RLock`) was released by a greenlet that does not hold it.
 *
 * Whose fault: the caller's.
 */
export class NotOwnerError extends Error {
  readonly code = 'ERR_GREENHUB_NOT_OWNER';
}
brand(NotOwnerError, 'NotOwnerError');

/**
 * A `BoundedSemaphore` or `Lock` was released more times than it was acquired.
 *
 * Whose fault: the caller's.
 */
export class OverReleaseError extends Error {
  readonly code = 'ERR_GREENHUB_OVER_RELEASE';
}
brand(OverReleaseError, 'OverReleaseError');

/**
 * An operation that the object's current state does not allow (`taskDone()` called more times than
 * items were put, `start()` on a finished greenlet…).
 *
 * Whose fault: the caller's.
 */
export class InvalidStateError extends Error {
  readonly code = 'ERR_GREENHUB_INVALID_STATE';
}
brand(InvalidStateError, 'InvalidStateError');

/**
 * With `patchAll({ blocking: 'throw' })` (meant for test suites): a synchronous call from this call
 * site (`fs.readFileSync`, `execSync`, `pbkdf2Sync`, main-thread `Atomics.wait`…) blocked the hub
 * longer than `maxBlockingTime` last time, so its next call is refused before it blocks again.
 *
 * Whose fault: the program's — CPU or synchronous I/O on the hub stalls every greenlet; move it to
 * the thread pool or use the async API.
 *
 * @example
 * ```ts
 * patchAll({ blocking: 'throw', maxBlockingTime: 50 });
 * readConfig(); // fs.readFileSync of a big file: 80 ms, reported
 * try { readConfig(); } catch (e) { if (e instanceof BlockingCallError) console.log(e.api, e.site); }
 * ```
 */
export class BlockingCallError extends Error {
  readonly code = 'ERR_GREENHUB_BLOCKING_CALL';
  /** The blocking API, e.g. `fs.readFileSync`. */
  readonly api: string;
  /** The call site, `function (file:line:column)`. */
  readonly site: string;
  /** How long the previous call from this site blocked, in ms. */
  readonly durationMs: number;
  /** The limit it exceeded (`maxBlockingTime`), in ms. */
  readonly limitMs: number;
  constructor(message: string, api: string, site: string, durationMs: number, limitMs: number) {
    super(message);
    this.api = api;
    this.site = site;
    this.durationMs = durationMs;
    this.limitMs = limitMs;
  }
}
brand(BlockingCallError, 'BlockingCallError');

/**
 * An argument of the wrong type: the message names the argument, the expected form and what came.
 *
 * Whose fault: the caller's.
 */
export class InvalidArgumentTypeError extends TypeError {
  readonly code: 'ERR_GREENHUB_INVALID_ARG_TYPE' | 'ERR_GREENHUB_UNKNOWN_OPTION';
  /** The argument's name, e.g. `timeout` or `opts.maxsize`. */
  readonly argument: string;
  constructor(
    message: string,
    argument: string,
    code: 'ERR_GREENHUB_INVALID_ARG_TYPE' | 'ERR_GREENHUB_UNKNOWN_OPTION' = 'ERR_GREENHUB_INVALID_ARG_TYPE',
  ) {
    super(message);
    this.argument = argument;
    this.code = code;
  }
}
brand(InvalidArgumentTypeError, 'TypeError');

/**
 * An argument of the right type but out of range (a negative size, a `NaN` timeout): the message
 * names the argument, the expected range and what came.
 *
 * Whose fault: the caller's.
 */
export class InvalidArgumentValueError extends RangeError {
  readonly code = 'ERR_GREENHUB_INVALID_ARG_VALUE';
  /** The argument's name, e.g. `timeout` or `opts.maxsize`. */
  readonly argument: string;
  constructor(message: string, argument: string) {
    super(message);
    this.argument = argument;
  }
}
brand(InvalidArgumentValueError, 'RangeError');
