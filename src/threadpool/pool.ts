/**
 * ThreadPool: real worker threads, on piscina, whose tasks look like greenlets.
 *
 * piscina does the pooling (threads, queue, load balancing, timing histograms); this facade adds
 * what a greenlet program needs around it:
 * - `spawn` returns a {@link Greenlet}: join, get, kill, links, `Timeout`, `joinAll`, `wait` work as
 *   for any greenlet; `apply` registers the task as an operation of the calling greenlet, so a
 *   kill or a Timeout cancels it the same way.
 * - Cancellation in two phases (submission.ts), through a SharedArrayBuffer of per-task cells
 *   (cells.ts) that `greenhub/worker` reads.
 * - Failures that say which and why (failures.ts), errors rebuilt whole (wire-errors.ts), arguments
 *   checked before they leave (cross-mode.ts, clone-check.ts).
 * - `LoopExit` accounting: while a task is in flight the pool holds a hub waker.
 * - Its own queue in front of piscina's, and its own `maxQueue`: every task here carries an abort
 *   signal (cancellation), and piscina handles a queued abortable task on its slow path (each one
 *   that finds no free thread re-runs the balancer over all threads and waits in its "skip queue",
 *   outside `maxQueue`). So the pool hands piscina at most {@link PISCINA_DEPTH} tasks per thread at
 *   a time and keeps the rest in a FIFO of its own, where cancelling a queued task is just dropping
 *   it.
 * - Work never stalls after a crash: piscina replaces a dead thread only up to `minThreads`, so with
 *   `minThreads: 0` queued tasks would wait forever; the pool then asks piscina for a thread.
 *
 * piscina (and comlink, for module proxies) are loaded on first use: importing greenhub does not
 * pay for them.
 */
import { createRequire } from 'node:module';
import type { ResourceLimits } from 'node:worker_threads';
import type { Remote } from 'comlink';
import type { Piscina } from 'piscina';
import { PoolClosedError, PoolFull, UncloneableError, WorkerCrashError } from '../errors.js';
import type { Greenlet } from '../greenlet/greenlet.js';
import { getHub } from '../greenlet/hub.js';
import { Deque } from '../internal/deque.js';
import { nativeClearTimeout, nativeSetImmediate, nativeSetTimeout, now } from '../internal/natives.js';
import { packageFile } from '../internal/own-files.js';
import { onShutdown } from '../internal/shutdown-hooks.js';
import { checkOptions, checkTimeout, typeError } from '../internal/validate.js';
import { PlacementRecorder } from '../metrics/placements.js';
import { DurationRecorder } from '../metrics/recorder.js';
import { registerMetricsSource, type ThreadPoolMetricsSnapshot } from '../metrics/sources.js';
import { TaskDurations } from '../metrics/task-durations.js';
import { SlotTable } from './cells.js';
import { typeName } from './clone-check.js';
import { checkCrossing, markThreadBound } from './cross-mode.js';
import { explainFailure } from './failures.js';
import { Lane, type LaneOptions, LaneScheduler, laneConflict, resolveLaneOptions } from './lanes.js';
import { threadBegan, threadEnded } from './liveness.js';
import { createModuleProxy, type ModuleProxyOptions } from './module-proxy.js';
import { mapped, type PoolImapOptions } from './pool-map.js';
import {
  type CloseOptions,
  resolveOptions,
  summary,
  type ThreadPoolOptions,
  type ThreadPoolStats,
} from './pool-options.js';
import {
  applyTask,
  NO_OPTIONS,
  PoolView,
  resolveTaskOptions,
  runFunction,
  spawnTask,
  type TaskOptions,
  type ViewHost,
} from './pool-view.js';
import { MSG_NOOP, type PoolWorkerData, STATE_QUEUED, STATE_RUNNING, type TaskMessage } from './protocol.js';
import { reportThreadFailure } from './report.js';
import { type CallOptions, Submission, type SubmissionHost } from './submission.js';
import { type AnyTaskRef, TaskRef } from './task.js';

type Fn = (...args: never[]) => unknown;
type Result<F extends Fn> = Awaited<ReturnType<F>>;
type PiscinaModule = { Piscina: typeof Piscina; transferableSymbol: symbol; valueSymbol: symbol };

const require = createRequire(import.meta.url);
let piscinaModule: PiscinaModule | undefined;
// worker-entry.ts, built as one CommonJS file (scripts/build.mjs says why).
const ENTRY = packageFile('dist/threadpool/worker-entry.cjs');
let poolCount = 0;

/**
 * How many tasks per thread the pool hands piscina at a time: the one a thread runs and the next,
 * which piscina posts to it in the same turn as the reply of the first comes in. With one, the next
 * task leaves only after the reply's promise reactions ran, and the thread, idle meanwhile, has
 * parked in `Atomics.wait` and must be woken: 0.78–0.84× raw piscina's throughput for a front
 * queue alone, 0.84–0.95× with two (trivial tasks, 2 threads, 100 in flight).
 */
const PISCINA_DEPTH = 2;

/** See `stats()`: piscina 5 reports utilization in thousandths. */
const PISCINA_UTILIZATION_SCALE = 1000;

/**
 * A pool of worker threads for CPU-heavy work, whose tasks are handled like greenlets: `spawn`
 * returns a Greenlet (join, get, kill, links, Timeout); killing or timing out a task removes it from
 * the queue, or asks it to stop and, after `cancelGrace`, terminates and replaces its thread.
 *
 * @example
 * ```ts
 * import { task, ThreadPool } from 'greenhub/threadpool';
 * import { withTimeout } from 'greenhub';
 *
 * const resize = task<typeof import('./images.js').resize>(new URL('./images.js', import.meta.url), 'resize');
 * await using pool = new ThreadPool({ maxThreads: 4, maxQueue: 100 });
 *
 * const g = pool.spawn(resize, photo, 800);             // a Greenlet
 * const thumb = await withTimeout(2_000, () => g.get(), { fallback: null }); // stops the wait only
 * if (thumb === null) await g.kill(); // the task ran on (as gevent's get(timeout)): this cancels it
 * const quick = await pool.withOptions({ timeout: 2_000 }).apply(resize, photo, 800); // cancelled at 2 s
 * for await (const t of pool.imapUnordered(resize, photos)) save(t);
 * ```
 */
export class ThreadPool implements SubmissionHost, ViewHost {
  readonly name: string;
  readonly maxThreads: number;
  readonly minThreads: number;
  readonly maxQueue: number;
  readonly idleTimeout: number;
  readonly cancelGrace: number;
  readonly niceIncrement: number;
  readonly resourceLimits: ResourceLimits | undefined;
  private piscina: Piscina | null = null;
  private slots: SlotTable | null = null;
  private inFlight = 0;
  private releaseWaker: (() => void) | null = null;
  private closing: Promise<void> | null = null;
  private drained: (() => void) | null = null;
  /**
   * The tasks in flight, by slot (what a close that times out cancels). Not a `Set`: a Set that
   * gains and loses an entry per task keeps finished tasks alive through V8's young-generation
   * collections (see patch/http-server.ts, which measured it).
   */
  private readonly live: (Submission | undefined)[] = [];
  private readonly counts = { ok: 0, error: 0, cancelled: 0, crashed: 0 };
  private terminated = 0;
  /** The no-op task `kick` sent, until it is done (close waits for it before destroying). */
  private kicking: Promise<void> | null = null;
  private offShutdown: (() => void) | null = null;
  private offMetrics: (() => void) | null = null;
  /** Per task: time on its thread, and the rest of its time from submission to result (metrics). */
  private readonly runTimes = new DurationRecorder();
  private readonly waitTimes = new DurationRecorder();
  /** The same, by task name (bounded), for `greenhub_threadpool_{wait,run}_seconds{task}`. */
  private readonly taskTimes = new TaskDurations();
  /** Placements of the `hybrid()` functions that use this pool, by function name, for metrics. */
  private readonly hybrids = new Map<string, PlacementRecorder>();
  /** Tasks handed to piscina and not settled yet. */
  private posted = 0;
  /** Tasks waiting for one of those to settle (a dropped one stays until shifted, finished). */
  private readonly waiting = new Deque<Waiting>();
  private waitingCount = 0;
  /** Priority lanes (lanes.ts), created by the first `lane()`. */
  private lanes: LaneScheduler | null = null;

  /**
   * A pool; its threads start on first use.
   *
   * @example
   * ```ts
   * const pool = new ThreadPool({ maxThreads: 2, maxQueue: 64, name: 'thumbnails' });
   * ```
   */
  constructor(opts?: ThreadPoolOptions) {
    const resolved = resolveOptions(opts);
    this.name = resolved.name ?? `pool-${++poolCount}`;
    this.maxThreads = resolved.maxThreads;
    this.minThreads = resolved.minThreads;
    this.maxQueue = resolved.maxQueue;
    this.idleTimeout = resolved.idleTimeout;
    this.cancelGrace = resolved.cancelGrace;
    this.niceIncrement = resolved.niceIncrement;
    this.resourceLimits = resolved.resourceLimits;
  }

  /** True once {@link close} was called: the pool takes no new task. */
  get closed(): boolean {
    return this.closing !== null;
  }

  /**
   * Run `task(...args)` on a thread, in a new {@link Greenlet} whose value is the task's result. The
   * task is queued at once; killing the greenlet (or a Timeout in it) cancels it. Throws `PoolFull`
   * at once when `maxQueue` tasks are already waiting, `PoolClosedError` after `close()`, and
   * `UncloneableError` for an argument that cannot cross threads.
   *
   * @example
   * ```ts
   * const gs = files.map((f) => pool.spawn(hashFile, f));
   * await joinAll(gs, { timeout: 5_000 });
   * await killAll(gs.filter((g) => !g.dead)); // the slow ones: cancelled on their threads
   * ```
   */
  spawn<F extends Fn>(task: TaskRef<F>, ...args: Parameters<F>): Greenlet<Result<F>> {
    return spawnTask(this, 'ThreadPool.spawn()', task as AnyTaskRef, args, NO_OPTIONS);
  }

  /**
   * Run `task(...args)` on a thread and return its result. Inside a greenlet the task is part of the
   * greenlet's cancellation: a kill or a Timeout cancels it at once.
   *
   * @example
   * ```ts
   * const digest = await pool.apply(sha256, buffer);
   * const quick = await withTimeout(100, () => pool.apply(score, doc), { fallback: 0 });
   * ```
   */
  apply<F extends Fn>(task: TaskRef<F>, ...args: Parameters<F>): Promise<Result<F>> {
    return applyTask(this, 'ThreadPool.apply()', task, args, NO_OPTIONS);
  }

  /**
   * Run a self-contained function on a thread, no module file needed. Only its source text crosses
   * the thread boundary: a function that uses a variable from its surroundings fails with a
   * `ClosureError` naming the variable (pass the value as an argument instead). Each distinct
   * function is compiled once per thread.
   *
   * Security: the worker *evaluates the function's source text* (`fn.toString()`), as `eval`
   * would. Pass only functions written in your program, never a function built from untrusted
   * input; anything that is not a function is refused with a `TypeError`
   * (`ERR_GREENHUB_INVALID_ARG_TYPE`), so a string of code cannot be run this way.
   *
   * @example
   * ```ts
   * const primes = await pool.run((limit: number) => {
   *   const sieve = new Uint8Array(limit); let count = 0;
   *   for (let i = 2; i < limit; i++) if (!sieve[i]) { count++; for (let j = i * i; j < limit; j += i) sieve[j] = 1; }
   *   return count;
   * }, 10_000_000);
   * ```
   */
  run<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): Promise<Awaited<R>> {
    return runFunction(this, 'ThreadPool.run()', fn, args, NO_OPTIONS, 'pool.run((…, NAME) => …, …, NAME)');
  }

  /**
   * `task(item)` for every item, on the pool's threads; the results in input order. At most
   * `2 × maxThreads` tasks are in flight at once; the first error stops the rest.
   *
   * @example
   * ```ts
   * const sizes = await pool.map(measure, files);
   * ```
   */
  async map<F extends (item: never) => unknown>(
    task: TaskRef<F>,
    items: Iterable<Parameters<F>[0]> | AsyncIterable<Parameters<F>[0]>,
  ): Promise<Result<F>[]> {
    const results: Result<F>[] = [];
    for await (const result of mapped<Result<F>>(
      this,
      'ThreadPool.map()',
      task,
      items,
      undefined,
      true,
      NO_OPTIONS,
    ))
      results.push(result);
    return results;
  }

  /**
   * Like {@link map}, as an async iterator: each result as soon as it and all before it are done. A
   * consumer that stops early (break, error, kill) cancels the tasks still in flight.
   *
   * @example
   * ```ts
   * for await (const page of pool.imap(renderPage, pages, { maxsize: 8 })) stream.write(page);
   * ```
   */
  imap<F extends (item: never) => unknown>(
    task: TaskRef<F>,
    items: Iterable<Parameters<F>[0]> | AsyncIterable<Parameters<F>[0]>,
    opts?: PoolImapOptions,
  ): AsyncIterableIterator<Result<F>> {
    return mapped(this, 'ThreadPool.imap()', task, items, opts, true, NO_OPTIONS);
  }

  /**
   * Like {@link imap}, results in completion order.
   *
   * @example
   * ```ts
   * for await (const hash of pool.imapUnordered(hashFile, files)) index.add(hash);
   * ```
   */
  imapUnordered<F extends (item: never) => unknown>(
    task: TaskRef<F>,
    items: Iterable<Parameters<F>[0]> | AsyncIterable<Parameters<F>[0]>,
    opts?: PoolImapOptions,
  ): AsyncIterableIterator<Result<F>> {
    return mapped(this, 'ThreadPool.imapUnordered()', task, items, opts, false, NO_OPTIONS);
  }

  /**
   * The pool's calls (`spawn`, `apply`, `run`, `map`, `imap`, `imapUnordered`) with per-call
   * options: each task is cancelled when `opts.signal` aborts or `opts.timeout` milliseconds after
   * its call, exactly as a kill cancels it (a queued task leaves the queue; a running one sees
   * `currentSignal()` abort, and its thread is terminated after `cancelGrace` if it does not stop),
   * and the call rejects with `signal.reason` or a `Timeout`. The options are checked here, once:
   * `opts.signal` must be an AbortSignal, `opts.timeout` a number of milliseconds. The pool's own
   * methods never take options: every argument after the task goes to the task.
   *
   * @example
   * ```ts
   * const controller = new AbortController();
   * const calls = pool.withOptions({ signal: controller.signal, timeout: 2_000 });
   * const g = calls.spawn(resize, photo, 800);
   * controller.abort(); // or 2 s pass: the task is cancelled on its thread; g fails with the reason
   * ```
   */
  withOptions(opts: TaskOptions): PoolView {
    return new PoolView(
      this,
      resolveTaskOptions('ThreadPool.withOptions()', opts),
      'ThreadPool.withOptions()',
    );
  }

  /**
   * A typed proxy of a module: calling any exported function runs it on the pool's threads (through
   * comlink). Calls are pool tasks: inside a greenlet, a kill or a Timeout cancels them; a call
   * whose thread dies rejects with a `WorkerCrashError`; errors keep name, message, stack, code and
   * cause. `opts.timeout` bounds every call (it then rejects with a `Timeout`).
   *
   * @example
   * ```ts
   * const images = pool.module<typeof import('./images.js')>(new URL('./images.js', import.meta.url));
   * const thumb = await images.resize(photo, 200); // typed: (Buffer, number) => Promise<Buffer>
   * ```
   */
  module<M>(url: URL | string, opts?: ModuleProxyOptions): Remote<M> {
    return createModuleProxy<M>(this, url, opts);
  }

  /**
   * A snapshot of the pool: threads, tasks by state and outcome, wait and run times.
   *
   * @example
   * ```ts
   * const { queued, running, tasks } = pool.stats();
   * ```
   */
  stats(): ThreadPoolStats {
    const piscina = this.piscina;
    const queued = (piscina === null ? 0 : piscina.queueSize) + this.waitingCount + (this.lanes?.queued ?? 0);
    return {
      name: this.name,
      closed: this.closed,
      threads: piscina === null ? 0 : piscina.threads.length,
      idleThreads: piscina === null ? 0 : piscina.idleThreads,
      minThreads: this.minThreads,
      maxThreads: this.maxThreads,
      maxQueue: this.maxQueue,
      inFlight: this.inFlight,
      queued,
      running: Math.max(0, this.inFlight - queued),
      tasks: { ...this.counts },
      terminatedThreads: this.terminated,
      waitTime: summary(piscina?.histogram.waitTime),
      runTime: summary(piscina?.histogram.runTime),
      // piscina 5's `utilization` divides its run-time mean (already in ms) by 1000 once more: it
      // reads 1000 times too low (0.0009 for a pool busy 90% of the time). Undo it, bounded.
      utilization: piscina === null ? 0 : Math.min(1, piscina.utilization * PISCINA_UTILIZATION_SCALE),
      lanes: this.lanes === null ? [] : [...this.lanes.lanes.values()].map((lane) => lane.stats()),
    };
  }

  /**
   * Stop taking tasks, let those in flight finish (at most `timeout` ms; then they are cancelled and
   * fail with `PoolClosedError`), and stop the threads. Idempotent: a second call returns the same
   * promise.
   *
   * @example
   * ```ts
   * process.once('SIGTERM', () => pool.close({ timeout: 5_000 }));
   * ```
   */
  close(opts?: CloseOptions): Promise<void> {
    checkOptions('ThreadPool.close()', 'opts', opts, ['timeout']);
    const timeout = checkTimeout('ThreadPool.close()', 'opts.timeout', opts?.timeout);
    this.closing ??= this.shutdown(timeout);
    return this.closing;
  }

  /** `await using pool = new ThreadPool()` closes it (waiting for its tasks) at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  toString(): string {
    return `ThreadPool "${this.name}" (${this.inFlight} in flight, max ${this.maxThreads} threads)`;
  }

  /**
   * @internal Queue `task(...args)`: validate, take a slot, post it to piscina. Throws at once for
   * what the caller can fix now (bad arguments, a full queue, a closed pool). With an aborted
   * `options.signal` the task is not sent: the Submission is already failed with its reason.
   */
  _submit<R>(
    where: string,
    task: unknown,
    args: unknown[],
    flags: number,
    transfer?: unknown[],
    options: CallOptions = NO_OPTIONS,
  ): Submission<R> {
    if (!(task instanceof TaskRef)) {
      throw typeError(where, 'task', 'a TaskRef (from task(url, exportName))', task);
    }
    if (this.closing !== null) throw new PoolClosedError(`${where}: ThreadPool "${this.name}" is closed`);
    checkCrossing(where, args, 'A pool task runs on another thread');
    const piscina = this.piscina ?? this.start();
    let transferList: unknown[] | undefined =
      transfer !== undefined && transfer.length > 0 ? transfer : undefined;
    for (let i = 0; i < args.length; i++) {
      const arg = args[i];
      if (typeof arg === 'function' || typeof arg === 'symbol') {
        throw new UncloneableError(
          `${where}: argument ${i} of task ${task.label} cannot be sent to a worker thread: it is a ` +
            `${typeName(arg)}. Only data crosses threads; to run code there, export it from the task's module`,
          `args[${i}]`,
          typeName(arg),
        );
      }
      if (typeof arg === 'object' && arg !== null && piscinaModule!.valueSymbol in arg) {
        const movable = arg as Record<symbol, unknown>;
        args[i] = movable[piscinaModule!.valueSymbol];
        transferList ??= [];
        transferList.push(movable[piscinaModule!.transferableSymbol]);
      }
    }
    if (options.signal?.aborted) return Submission.refused<R>(this, task, where, options.signal.reason);
    const slots = this.slots!;
    const slot = slots.take();
    if (slot < 0) {
      throw new PoolFull(
        `${where}: ThreadPool "${this.name}" is full: ${this.maxThreads} threads busy and ${this.maxQueue} ` +
          'tasks queued (maxQueue); retry later, or raise maxQueue',
      );
    }
    const submission = new Submission<R>(this, task, args, slot, where);
    if (this.inFlight++ === 0) this.becameBusy();
    this.live[slot] = submission as Submission;
    const message: TaskMessage = [
      task._kind,
      task._target,
      task.exportName,
      args,
      slot,
      slots.generations[slot]!,
      flags,
      task._id,
    ];
    if (options.lane === undefined) {
      if (this.piscinaHasRoom() && this.waiting.length === 0)
        this.post(piscina, submission as Submission, message, transferList);
      else this.enqueue(submission as Submission, message, transferList);
    } else
      options.lane.admit({
        submission: submission as Submission,
        dispatch: () => this.post(piscina, submission as Submission, message, transferList),
        drop: (reason) => this.finished(submission as Submission, reason, true),
      });
    if (options !== NO_OPTIONS) submission.watch(options);
    return submission;
  }

  /** Hand the task to piscina; `finished` runs when piscina settles it. */
  private post(
    piscina: Piscina,
    submission: Submission,
    message: TaskMessage,
    transferList: unknown[] | undefined,
  ): Promise<void> {
    this.posted++;
    return piscina
      .run(
        message,
        transferList === undefined
          ? { signal: submission }
          : { signal: submission, transferList: transferList as never },
      )
      .then(
        (value: unknown) => this.settled(submission, value, false),
        (error: unknown) => this.settled(submission, error, true),
      );
  }

  private settled(submission: Submission, outcome: unknown, failed: boolean): void {
    this.posted--;
    this.finished(submission, outcome, failed);
    this.admit();
  }

  /**
   * Queue a task until piscina has a thread for it. Cancelled while it waits (its Submission aborts,
   * see submission.ts), it is settled at once and left in the queue as finished, to be skipped.
   */
  private enqueue(submission: Submission, message: TaskMessage, transferList: unknown[] | undefined): void {
    this.waiting.push({ submission, message, transferList });
    this.waitingCount++;
    submission.addEventListener('abort', () => {
      this.waitingCount--;
      this.finished(submission, submission.reason, true);
    });
  }

  /** Fewer than {@link PISCINA_DEPTH} tasks per thread are in piscina's hands. */
  private piscinaHasRoom(): boolean {
    return this.posted < this.maxThreads * PISCINA_DEPTH;
  }

  /** Hand piscina the queued tasks it has room for, oldest first. */
  private admit(): void {
    while (this.piscinaHasRoom() && this.waiting.length > 0) {
      const next = this.waiting.shift()!;
      if (next.submission.finished) continue;
      this.waitingCount--;
      this.post(this.piscina!, next.submission, next.message, next.transferList);
    }
  }

  /**
   * A lane of this pool: the pool's calls (`spawn`, `apply`, `run`, `map`, `imap`,
   * `imapUnordered`), admitted to the threads by priority. piscina's own queue is FIFO; a lane's
   * tasks wait in front of it, in one p-queue per pool ordered by `priority` (higher first), so that
   * a latency-sensitive lane is not stuck behind batch work. `concurrency` bounds the lane's tasks
   * admitted or running at once; `intervalCap` per `interval` ms limits its rate. A task killed or
   * timed out while it waits leaves the queue, and its caller sees the kill. Calls on the pool
   * itself are not ordered against lanes: put every kind of work in a lane. The same name returns
   * the same lane; other options for an existing name are refused.
   *
   * @example
   * ```ts
   * const batch = pool.lane('batch', { priority: 0, concurrency: 2 });
   * const interactive = pool.lane('interactive', { priority: 10 });
   * void batch.map(reindex, documents);               // keeps the threads busy
   * const html = await interactive.apply(render, page); // the next free thread is its
   * pool.stats().lanes; // [{ name: 'batch', queued, running, waitP99Ms, … }, …]
   * ```
   */
  lane(name: string, opts?: LaneOptions): PoolView {
    const where = 'ThreadPool.lane()';
    const resolved = resolveLaneOptions(where, name, opts);
    if (this.closing !== null) throw new PoolClosedError(`${where}: ThreadPool "${this.name}" is closed`);
    this.lanes ??= new LaneScheduler(this.maxThreads);
    let lane = this.lanes.lanes.get(name);
    if (lane === undefined) this.lanes.lanes.set(name, (lane = new Lane(this.lanes, name, resolved)));
    else if (opts !== undefined && !lane.sameOptions(resolved)) throw laneConflict(where, this.name, name);
    return new PoolView(this, { lane }, `ThreadPool.lane("${name}")`);
  }

  /** @internal SubmissionHost */
  _taskState(slot: number): number {
    return this.slots!.state(slot);
  }

  /** @internal SubmissionHost */
  _askToStop(slot: number, code: number): void {
    this.slots!.cancel(slot, code);
  }

  /**
   * @internal The placement counter of the `hybrid()` functions named `name` that use this pool:
   * one per name, however many functions carry it, so the pool holds no function.
   */
  _placements(name: string): PlacementRecorder {
    let placed = this.hybrids.get(name);
    if (placed === undefined) this.hybrids.set(name, (placed = new PlacementRecorder()));
    return placed;
  }

  /** @internal SubmissionHost */
  _cancelled(): void {
    this.counts.cancelled++;
  }

  private start(): Piscina {
    piscinaModule ??= require('piscina') as PiscinaModule;
    const slots = new SlotTable(this.maxThreads + this.maxQueue);
    const workerData: PoolWorkerData = {
      greenhub: { cells: slots.cells.buffer, capacity: slots.cells.capacity },
    };
    const piscina = new piscinaModule.Piscina({
      filename: ENTRY,
      name: 'default',
      maxThreads: this.maxThreads,
      minThreads: this.minThreads,
      idleTimeout: this.idleTimeout,
      maxQueue: Number.POSITIVE_INFINITY,
      concurrentTasksPerWorker: 1,
      niceIncrement: this.niceIncrement,
      workerData,
      ...(this.resourceLimits === undefined ? {} : { resourceLimits: this.resourceLimits }),
    });
    piscina.on('error', (error: unknown) => this.idleThreadDied(error));
    piscina.on('workerDestroy', () => {
      if (this.closing === null) nativeSetImmediate(this.kick);
    });
    this.slots = slots;
    this.piscina = piscina;
    // A graceful shutdown (greenhub/patch's signal handling) closes the pool once greenlets are done.
    this.offShutdown = onShutdown(() => this.close());
    this.offMetrics = registerMetricsSource({
      kind: 'threadpool',
      name: this.name,
      metricsSnapshot: () => this.metricsSnapshot(),
    });
    return piscina;
  }

  /** What `greenhub/metrics` reads at scrape time (`greenhub_threadpool_*{pool}`). */
  private metricsSnapshot(): ThreadPoolMetricsSnapshot {
    const stats = this.stats();
    return {
      threads: { busy: stats.threads - stats.idleThreads, idle: stats.idleThreads },
      queueSize: stats.queued,
      tasks: stats.tasks,
      waitSeconds: this.waitTimes.snapshot(),
      runSeconds: this.runTimes.snapshot(),
      byTask: this.taskTimes.snapshot(),
      maxThreads: this.maxThreads,
      hybrid: Object.fromEntries([...this.hybrids].map(([name, p]) => [name, p.snapshot()])),
      lanes:
        this.lanes === null
          ? {}
          : Object.fromEntries([...this.lanes.lanes].map(([name, lane]) => [name, lane.metricsSnapshot()])),
    };
  }

  /**
   * piscina replaces a dead thread only up to `minThreads`: tasks queued behind a crash would wait
   * forever. A no-op task makes piscina start a thread, which then takes the queue.
   */
  private readonly kick = (): void => {
    const piscina = this.piscina;
    if (piscina === null || this.closing !== null || this.kicking !== null || piscina.queueSize === 0) return;
    if (piscina.threads.length >= this.maxThreads) return;
    const noop: TaskMessage = [MSG_NOOP, '', '', [], -1, 0, 0, 0];
    this.kicking = piscina.run(noop).then(ignore, ignore);
    this.kicking.then(() => {
      this.kicking = null;
    });
  };

  private idleThreadDied(error: unknown): void {
    // The reply of a task whose thread was just terminated (cancelGrace): piscina no longer knows
    // the task. Nothing died that the pool did not stop itself.
    if (error instanceof Error && error.message.startsWith('Unexpected message from Worker')) return;
    reportThreadFailure(
      error,
      `ThreadPool "${this.name}": an idle worker thread died from an uncaught exception, thrown by code ` +
        'that a finished task left running (a timer, a callback); the pool replaces the thread',
    );
  }

  private finished(submission: Submission, outcome: unknown, settledFailed: boolean): void {
    submission.markFinished();
    const slots = this.slots!;
    const state = slots.state(submission.slot);
    // A task that no thread took cannot have succeeded: piscina settles a task whose sending threw
    // `null` (an argument's getter did) as a success without a value.
    const failed = settledFailed || state === STATE_QUEUED;
    if (submission.onRunMs !== null) {
      const ms = slots.runMs(submission.slot);
      if (ms >= 0) submission.onRunMs(ms);
    }
    const runMs = slots.taskMs(submission.slot);
    if (runMs >= 0) {
      const waitMs = Math.max(0, now() - submission.submittedAt - runMs);
      this.runTimes.observeMs(runMs);
      this.waitTimes.observeMs(waitMs);
      this.taskTimes.observe(submission.ref.label, waitMs, runMs);
    }
    slots.give(submission.slot);
    this.live[submission.slot] = undefined;
    if (--this.inFlight === 0) this.becameIdle();
    if (submission.aborted && state === STATE_RUNNING) this.terminated++;
    if (submission.cancelledWith !== undefined) return;
    if (!failed) {
      this.counts.ok++;
      submission.succeed(outcome);
      return;
    }
    let error: unknown;
    try {
      error = explainFailure(outcome, {
        where: submission.where,
        pool: this.name,
        task: submission.ref.label,
        state,
        args: submission.args,
        closing: this.closing !== null,
        resourceLimits: this.resourceLimits,
      });
    } catch {
      // Explaining must never cost the caller its answer (this runs in piscina's callback, where a
      // throw would be an unhandled rejection and the caller would wait forever): the raw outcome.
      error = outcome;
    }
    if (error instanceof WorkerCrashError) this.counts.crashed++;
    else this.counts.error++;
    submission.fail(error);
  }

  private becameBusy(): void {
    this.releaseWaker = getHub().holdWaker(`ThreadPool "${this.name}" (tasks in flight)`);
    threadBegan();
  }

  private becameIdle(): void {
    this.releaseWaker?.();
    this.releaseWaker = null;
    threadEnded();
    this.drained?.();
  }

  private async shutdown(timeout: number | null): Promise<void> {
    if (this.inFlight > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const drained = new Promise<boolean>((resolve) => {
        this.drained = () => resolve(true);
        if (timeout !== null) timer = nativeSetTimeout(resolve, timeout, false);
      });
      const finished = await drained;
      if (timer !== undefined) nativeClearTimeout(timer);
      if (!finished) {
        const reason = new PoolClosedError(
          `ThreadPool "${this.name}" was closed and its tasks did not finish within ${timeout} ms`,
        );
        for (const submission of this.live.filter((s) => s !== undefined)) submission.cancel(reason);
        if (this.inFlight > 0) {
          await new Promise<void>((resolve) => {
            this.drained = resolve;
            nativeSetTimeout(resolve, this.cancelGrace + 50).unref();
          });
        }
      }
      this.drained = null;
    }
    await this.kicking;
    await this.piscina?.destroy();
    this.offShutdown?.();
    this.offMetrics?.();
  }
}
markThreadBound(ThreadPool);

/** A task in the pool's own queue, ready to be handed to piscina. */
interface Waiting {
  submission: Submission;
  message: TaskMessage;
  transferList: unknown[] | undefined;
}

function ignore(): void {}

/**
 * A value marked by `move()` as the calling thread sees it: the value itself (a task run inline by
 * hybrid() returns the marker, which no thread boundary unwrapped).
 */
export function unmove(value: unknown): unknown {
  const symbols = piscinaModule;
  if (symbols === undefined || typeof value !== 'object' || value === null || !(symbols.valueSymbol in value))
    return value;
  return (value as Record<symbol, unknown>)[symbols.valueSymbol];
}
