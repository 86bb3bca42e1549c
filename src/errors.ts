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
  | 'ERR_GREENHUB_REQUEST_TIMEOUT'
  | 'ERR_GREENHUB_BLOCKING_CALL'
  | 'ERR_GREENHUB_INVALID_ARG_TYPE'
  | 'ERR_GREENHUB_INVALID_ARG_VALUE'
  | 'ERR_GREENHUB_UNKNOWN_OPTION'
  | 'ERR_GREENHUB_WORKER_CRASHED'
  | 'ERR_GREENHUB_UNCLONEABLE'
  | 'ERR_GREENHUB_POOL_CLOSED'
  | 'ERR_GREENHUB_CLOSURE'
  | 'ERR_GREENHUB_TASK_CANCELLED'
  | 'ERR_GREENHUB_THREAD_MODE';

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
 * An `HttpServer` request ran longer than its `requestTimeout`: its greenlet is killed with this
 * error (at its next checkpoint) and the client gets `503` if nothing was sent yet.
 *
 * Whose fault: the handler's, or whatever it waits on — not the client's.
 *
 * @example
 * ```ts
 * const server = new HttpServer(8080, handler, { requestTimeout: 5_000 });
 * // in the handler: catch (e) { if (e instanceof RequestTimeoutError) cleanup(); throw e; }
 * ```
 */
export class RequestTimeoutError extends Error {
  readonly code = 'ERR_GREENHUB_REQUEST_TIMEOUT';
}
brand(RequestTimeoutError, 'RequestTimeoutError');

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

/**
 * The worker thread running a pool task died before the task could finish: the task called
 * `process.exit()` (which ends only its thread), an exception escaped the task's own call stack (a
 * throw in a timer or callback, an unhandled rejection), or the thread ran out of memory under the
 * pool's `resourceLimits`. Only this task fails; the pool replaces the thread. `cause` holds what
 * the thread reported.
 *
 * Whose fault: the task's code (or `resourceLimits` too small for it).
 *
 * @example
 * ```ts
 * try { await pool.apply(parse, hugeInput); }
 * catch (e) { if (e instanceof WorkerCrashError && e.reason === 'out-of-memory') shrinkBatch(); }
 * ```
 */
export class WorkerCrashError extends Error {
  readonly code = 'ERR_GREENHUB_WORKER_CRASHED';
  /** `exit`: the thread exited (`process.exit()`); `uncaught`: an uncaught exception; `out-of-memory`. */
  readonly reason: 'exit' | 'uncaught' | 'out-of-memory';
  /** The thread's exit code, for `reason: 'exit'`. */
  readonly exitCode: number | undefined;
  constructor(
    message: string,
    reason: 'exit' | 'uncaught' | 'out-of-memory',
    opts?: { cause?: unknown; exitCode?: number },
  ) {
    super(message, opts?.cause === undefined ? undefined : { cause: opts.cause });
    this.reason = reason;
    this.exitCode = opts?.exitCode;
  }
}
brand(WorkerCrashError, 'WorkerCrashError');

/**
 * A value cannot cross between threads (structured clone refuses it): a function, a symbol, a
 * socket, a class instance holding native state… `path` says where it sits (`args[1].onDone`,
 * `result.handle`) and `valueType` what it is. Also raised for greenhub objects that belong to one
 * thread (a hub `Event`, a `Greenlet`) when they are passed to another one.
 *
 * Whose fault: the caller's (arguments) or the task's (its return value).
 *
 * @example
 * ```ts
 * await pool.apply(resize, image, () => {}); // UncloneableError: `args[1]` is a function
 * ```
 */
export class UncloneableError extends TypeError {
  readonly code = 'ERR_GREENHUB_UNCLONEABLE';
  /** Where the value sits: `args[1].onDone`, `result`, `target`. */
  readonly path: string;
  /** What it is: `function`, `symbol`, `Socket`, `greenhub Event`… */
  readonly valueType: string;
  constructor(message: string, path: string, valueType: string) {
    super(message);
    this.path = path;
    this.valueType = valueType;
  }
}
brand(UncloneableError, 'UncloneableError');

/**
 * The thread pool is closed (or closing): it takes no new task, and tasks it had to drop when its
 * `close()` timeout passed fail with this error.
 *
 * Whose fault: the caller's — the pool's owner closed it.
 *
 * @example
 * ```ts
 * await pool.close({ timeout: 1_000 });
 * pool.spawn(resize, photo); // throws PoolClosedError
 * ```
 */
export class PoolClosedError extends Error {
  readonly code = 'ERR_GREENHUB_POOL_CLOSED';
}
brand(PoolClosedError, 'PoolClosedError');

/**
 * A function given to `ThreadPool.run()` (or a real `Thread`) used a variable from its
 * surroundings. Only the function's source text reaches the other thread, not its closure, so the
 * variable does not exist there. `variable` names it; pass its value as an argument instead.
 *
 * Whose fault: the caller's.
 *
 * @example
 * ```ts
 * const factor = 3;
 * await pool.run((x) => x * factor, 2);            // ClosureError: … uses `factor` …
 * await pool.run((x, f) => x * f, 2, factor);      // 6
 * ```
 */
export class ClosureError extends ReferenceError {
  readonly code = 'ERR_GREENHUB_CLOSURE';
  /** The outer variable the function used. */
  readonly variable: string;
  constructor(message: string, variable: string, opts?: { cause?: unknown }) {
    super(message, opts?.cause === undefined ? undefined : { cause: opts.cause });
    this.variable = variable;
  }
}
brand(ClosureError, 'ClosureError');

/**
 * Raised *inside* a pool task (by `checkpoint()`, and the reason of `currentSignal()`) when its
 * caller no longer wants the result: the calling greenlet was killed or timed out, or the pool is
 * closing. The task should stop; if it does not within the pool's `cancelGrace`, its thread is
 * terminated and replaced.
 *
 * Whose fault: nobody's — it is a request to stop.
 *
 * @example
 * ```ts
 * // tasks.js, running in the pool
 * import { checkpoint } from 'greenhub/worker';
 * export function crunch(rows) { for (const row of rows) { checkpoint(); work(row); } }
 * ```
 */
export class TaskCancelledError extends Error {
  readonly code = 'ERR_GREENHUB_TASK_CANCELLED';
  /** Why: `kill` (the greenlet was killed), `timeout` (a Timeout fired) or `close` (pool closing). */
  readonly reason: 'kill' | 'timeout' | 'close';
  constructor(reason: 'kill' | 'timeout' | 'close') {
    super(
      reason === 'close'
        ? 'The thread pool is closing and this task was cancelled'
        : `This task was cancelled: its caller ${reason === 'kill' ? 'was killed' : 'timed out'}`,
    );
    this.reason = reason;
  }
}
brand(TaskCancelledError, 'TaskCancelledError');

/**
 * An object of one thread mode was used in the other: a hub primitive (a `Lock`, an `Event`, a
 * `Greenlet`) handed to a `Thread` that runs as a real worker thread (`thread` not patched when it
 * started), which cannot wait on it. The message explains the mode each side is in and the patch
 * order that would make them agree.
 *
 * Whose fault: the caller's (usually the order of `patchAll()` and `Thread.start()`).
 *
 * @example
 * ```ts
 * const lock = new Lock();                        // a hub lock: greenlets only
 * new Thread({ target: work, args: [lock] }).start(); // unpatched: ThreadModeError — use SharedLock
 * ```
 */
export class ThreadModeError extends Error {
  readonly code = 'ERR_GREENHUB_THREAD_MODE';
}
brand(ThreadModeError, 'ThreadModeError');
