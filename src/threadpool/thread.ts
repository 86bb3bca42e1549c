/**
 * Thread: Python's `threading.Thread`, in greenhub's two modes.
 *
 * - **`thread` patched** (after `patchAll()`, the default as in gevent): a Thread is a greenlet.
 *   Its target runs on the hub, can use closures and hub primitives, and must not hog the CPU.
 * - **`thread` not patched** (before patching, or `patchAll({ thread: false })`): a Thread is a real
 *   worker thread of its own, for CPU work that must not stall the hub. Its target is a module
 *   export (`task(url, name)`) or a self-contained function, its arguments are data or Shared
 *   primitives, and the hub tracks it: `isAlive()`, `join(timeout)` (a cooperative wait that keeps
 *   `LoopExit` away while the thread runs), `daemon` (an unjoined daemon thread does not keep the
 *   process alive; a non-daemon one does, as in Python).
 *
 * The mode is read once, at `start()`: a Thread created before a patch change and started after it
 * follows the mode in force when it started, and `isAlive()` is right in both modes (gevent's bug
 * of a thread created before patching that reports alive forever cannot happen: each Thread has
 * exactly one body, chosen at start). Hub primitives passed to a real thread fail with a
 * `ThreadModeError` that explains the patch order.
 *
 * A failure of the target is reported through the hub's `onError` (Python prints it from
 * `threading.excepthook`): `join()` does not throw it, and nothing is lost silently.
 */

import { Worker } from 'node:worker_threads';
import { InvalidStateError, UncloneableError } from '../errors.js';
import { Event } from '../greenlet/event.js';
import { Greenlet } from '../greenlet/greenlet.js';
import { getHub } from '../greenlet/hub.js';
import { checkpointed, hasFailed, markObserved } from '../greenlet/internal.js';
import { packageFile } from '../internal/own-files.js';
import { isThreadPatched } from '../internal/thread-mode.js';
import { checkBoolean, checkOptions, checkString, checkTimeout, typeError } from '../internal/validate.js';
import { describeUncloneable, locateUncloneable, typeName } from './clone-check.js';
import { checkCrossing, markThreadBound } from './cross-mode.js';
import { threadBegan, threadEnded } from './liveness.js';
import type { ThreadOutcome, ThreadWorkerData } from './protocol.js';
import { reportThreadFailure } from './report.js';
import { type AnyTaskRef, explainClosure, sourceRef, TaskRef } from './task.js';
import { fromWire, isWireError } from './wire-errors.js';

type Fn = (...args: never[]) => unknown;

/** Options of {@link Thread}. */
export interface ThreadOptions<F extends Fn> {
  /** What the thread runs: a module export (`task(url, name)`) or a function (self-contained in a real thread). */
  target: TaskRef<F> | F;
  args?: Parameters<F>;
  /** Default `Thread-<n>`. */
  name?: string;
  /** A daemon thread does not keep the process alive unless someone joins it. Default false. */
  daemon?: boolean;
}

const ENTRY = packageFile('dist/threadpool/thread-entry.js');
const PATCH_ORDER =
  ' This Thread runs as a real worker thread because `thread` was not patched when start() was called. ' +
  'If it should be a greenlet (sharing hub objects and closures), patch first: call patchAll() before ' +
  'starting threads, or preload it with `node --import greenhub/register app.js`.';
let threadCount = 0;

/**
 * A thread of control: a greenlet when `thread` is patched, a real worker thread when it is not
 * (see the module comment). Start it with `start()`, wait for it with `join()`.
 *
 * @example
 * ```ts
 * import { Thread, task, SharedEvent } from 'greenhub/threadpool';
 *
 * const done = new SharedEvent();
 * const t = new Thread({ target: task(new URL('./index-builder.js', import.meta.url), 'build'), args: [dir, done] });
 * t.start();
 * while (!(await t.join(1_000))) console.log('still indexing…', t.isAlive());
 * ```
 */
export class Thread<F extends Fn = Fn> {
  name: string;
  private readonly target: TaskRef<F> | F;
  private readonly args: Parameters<F>;
  private isDaemon: boolean;
  private chosen: 'greenlet' | 'thread' | null = null;
  private greenlet: Greenlet | null = null;
  private worker: Worker | null = null;
  private readonly exited = new Event();
  private failure: unknown = undefined;

  constructor(opts: ThreadOptions<F>) {
    const where = 'new Thread()';
    if (typeof opts !== 'object' || opts === null)
      throw typeError(where, 'opts', 'an options object ({ target, args, name, daemon })', opts);
    checkOptions(where, 'opts', opts, ['target', 'args', 'name', 'daemon']);
    if (!(opts.target instanceof TaskRef) && typeof opts.target !== 'function')
      throw typeError(where, 'opts.target', 'a TaskRef (task(url, name)) or a function', opts.target);
    if (opts.args !== undefined && !Array.isArray(opts.args))
      throw typeError(where, 'opts.args', 'an array', opts.args);
    if (opts.name !== undefined) checkString(where, 'opts.name', opts.name);
    if (opts.daemon !== undefined) checkBoolean(where, 'opts.daemon', opts.daemon);
    this.target = opts.target;
    this.args = (opts.args ?? []) as Parameters<F>;
    this.name = opts.name ?? `Thread-${++threadCount}`;
    this.isDaemon = opts.daemon ?? false;
  }

  /** A daemon thread does not keep the process alive unless joined. Settable until `start()`. */
  get daemon(): boolean {
    return this.isDaemon;
  }
  set daemon(value: boolean) {
    checkBoolean('Thread.daemon', 'daemon', value);
    if (this.chosen !== null) throw new InvalidStateError(`${this}: daemon cannot be changed once started`);
    this.isDaemon = value;
  }

  /** `greenlet` or `thread` once started (fixed at `start()`), `null` before. */
  get mode(): 'greenlet' | 'thread' | null {
    return this.chosen;
  }

  /** The greenlet's id or the worker's `threadId` once started; `null` before. */
  get ident(): number | null {
    if (this.greenlet !== null) return this.greenlet.id;
    return this.worker?.threadId ?? null;
  }

  /** What the target threw, once the thread ended with an error. */
  get exception(): unknown {
    return this.failure;
  }

  /**
   * Start the thread, in the mode in force now. Throws `InvalidStateError` on a second call (as
   * Python does), `ThreadModeError` for a hub object passed to a real thread, `UncloneableError`
   * for other arguments that cannot cross.
   */
  start(): void {
    if (this.chosen !== null) throw new InvalidStateError(`${this}: threads can only be started once`);
    if (isThreadPatched()) this.startGreenlet();
    else this.startWorker();
  }

  /** True from `start()` until the target has returned (greenlet) or the worker exited (thread). */
  isAlive(): boolean {
    return this.chosen !== null && !this.exited.isSet();
  }

  /**
   * Wait until the thread ends: `true`, or `false` if `timeout` ms pass first. A cooperative wait
   * (a checkpoint; kill and Timeout apply). Never throws the target's error (see `exception`).
   */
  join(timeout?: number | null): Promise<boolean> {
    const ms = checkTimeout('Thread.join()', 'timeout', timeout);
    if (this.chosen === null)
      return Promise.reject(new InvalidStateError(`${this}: cannot join a thread before it is started`));
    if (this.exited.isSet()) return checkpointed(getHub(), Promise.resolve(true));
    if (this.chosen === 'greenlet') return this.exited.wait(ms);
    // A real thread: Node's loop does not see us waiting for it (a daemon thread is unref'd).
    const release = getHub().holdWaker(`${this} (joined)`);
    return this.exited.wait(ms).finally(release);
  }

  toString(): string {
    return `Thread "${this.name}"${this.chosen === null ? '' : ` (${this.chosen})`}`;
  }

  private startGreenlet(): void {
    this.chosen = 'greenlet';
    const greenlet = new Greenlet(runTarget, this.target, this.args);
    greenlet.name = this.name;
    markObserved(greenlet); // its failure is reported below, once
    greenlet.rawlink((g: Greenlet) => {
      if (hasFailed(g)) {
        this.failure = g.exception;
        reportThreadFailure(g.exception, `${this} failed`);
      }
      this.exited.set();
    });
    this.greenlet = greenlet;
    greenlet.start();
  }

  private startWorker(): void {
    const where = 'Thread.start()';
    const ref: AnyTaskRef = this.target instanceof TaskRef ? this.target : sourceRef(where, this.target);
    const args = this.args as unknown[];
    checkCrossing(where, args, 'A real thread runs apart from the hub', PATCH_ORDER);
    const data: ThreadWorkerData = {
      greenhubThread: { kind: ref._kind, target: ref._target, exportName: ref.exportName, args },
    };
    let worker: Worker;
    try {
      worker = new Worker(ENTRY, { workerData: data, name: this.name });
    } catch (error) {
      throw cloneFailure(where, error, args);
    }
    this.chosen = 'thread';
    this.worker = worker;
    threadBegan();
    worker.on('message', (outcome: ThreadOutcome) => {
      if (outcome.ok || outcome.error === undefined) return;
      const error = isWireError(outcome.error) ? fromWire(outcome.error) : outcome.error;
      this.fail(explainClosure(error, ref, `${this}`, 'new Thread({ target, args: [..., NAME] })'));
    });
    worker.on('error', (error: unknown) => this.fail(error));
    worker.once('exit', () => {
      threadEnded();
      this.exited.set();
    });
    // After the listeners: a 'message' listener refs the worker's port again.
    if (this.isDaemon) worker.unref();
  }

  private fail(error: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    reportThreadFailure(error, `${this} failed`);
  }
}
markThreadBound(Thread);

async function runTarget(
  target: AnyTaskRef | ((...args: unknown[]) => unknown),
  args: unknown[],
): Promise<unknown> {
  const fn = target instanceof TaskRef ? ((await target._load()) as (...args: unknown[]) => unknown) : target;
  return fn(...args);
}

function cloneFailure(where: string, error: unknown, args: unknown[]): unknown {
  if ((error as { name?: unknown } | null)?.name !== 'DataCloneError') return error;
  for (let i = 0; i < args.length; i++) {
    const bad = locateUncloneable(args[i], `args[${i}]`);
    if (bad !== null) {
      return new UncloneableError(
        `${where}: argument ${i} cannot be sent to a real thread: ${describeUncloneable(bad)}.${PATCH_ORDER}`,
        bad.path,
        bad.type,
      );
    }
  }
  return new UncloneableError(
    `${where}: the arguments cannot be sent to a real thread (${typeName(error)})`,
    'args',
    'unknown',
  );
}
