/**
 * The hub: one per thread. It owns the run queue, knows the current greenlet, keeps the registry of
 * parked waits, turns "the loop emptied while someone waits" into `LoopExit`, and reports failures
 * that nobody observed.
 *
 * Scheduling model (gevent's, mapped onto Node's loop):
 *
 * - **Starting** a greenlet and **`sleep(0)`** go through the *run queue*, drained in one
 *   `setImmediate` callback: a spawned greenlet starts when its spawner next yields, in FIFO order,
 *   and `sleep(0)` lets every runnable greenlet and every pending I/O callback run first (the check
 *   phase comes after the poll phase). Items queued while draining run in the next round.
 * - **Waking** a parked waiter resolves its promise, so the woken greenlet resumes as a microtask —
 *   the cheapest handoff Node has. Link notifications (a greenlet finished, an Event was set) are
 *   batched into one microtask per batch, so callbacks never run synchronously inside `set()` or
 *   inside the finishing greenlet.
 * - The **current greenlet** is an `AsyncLocalStorage` store: it follows every `await`, timer and
 *   I/O callback started inside the greenlet.
 *
 * `LoopExit`: Node emits `'beforeExit'` when its loop has nothing left to do. If hub waits are
 * parked at that moment, nothing can ever wake them: each is rejected with a `LoopExit` naming who
 * waits on what and since when. Sources of wake-ups that Node does not count as loop work (a pool
 * task on another thread, `Atomics.waitAsync`) register as *wakers* ({@link Hub.holdWaker}); while
 * any is held the hub keeps the loop alive and raises no LoopExit.
 */
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import { DeadlockError, LoopExit } from '../errors.js';
import { linkFirst, nodes, unlink } from '../internal/intrusive-list.js';
import { nativeQueueMicrotask, nativeSetImmediate, nativeSetInterval, now } from '../internal/natives.js';
import { checkFunction, checkInteger, checkOptions, rangeError, typeError } from '../internal/validate.js';
import type { ThreadPool } from '../threadpool/pool.js';
import { findDeadlock, hasBlockers, mayBeWokenByGreenlet } from './deadlock.js';
import type { Greenlet } from './greenlet.js';
import { formatRunInfo, type RunInfo, runInfo } from './run-info.js';
import { Refusal, Waiter, type WaitList, type WaitTarget } from './waiter.js';

/** @internal Who a parked waiter belongs to: a greenlet, or the hub's top-level owner. */
export interface WaitOwner {
  _wfirst: Waiter | null;
  _addWaiter(waiter: Waiter): void;
  _removeWaiter(waiter: Waiter): void;
}

/** @internal Something the run queue runs: a greenlet to start, or a `sleep(0)` waiter to resume. */
export interface Runnable {
  _run(): void;
}

/**
 * @internal
 * What the async context carries: a greenlet, or a {@link Fence} inside one (the body of a
 * `withTimeout`). Both answer the three questions a checkpoint asks.
 */
export interface HubContext {
  /** The greenlet this code belongs to (`getCurrent()`), dead or alive. */
  readonly _greenlet: Greenlet;
  /** The greenlet whose cancellation reaches this code and whose waits it makes; `undefined` once abandoned or dead. */
  _liveOwner(): Greenlet | undefined;
  _hasPendingThrow(): boolean;
  _takePendingThrow(): unknown;
}

const storage = new AsyncLocalStorage<HubContext>();

/**
 * True when AsyncLocalStorage keeps its stores in V8 context frames (Node 24 on; 22 behind a flag)
 * rather than on async resources through async hooks (whose implementation has `_propagate`).
 * There, `run()` builds two frames, a Map each: the store's and one to restore the caller's (see
 * {@link Hub._runAs}). Either way is correct on either implementation; this only picks the cheaper.
 */
const FRAMES = !('_propagate' in AsyncLocalStorage.prototype);

/** The greenlet whose code is running, or `undefined` at top level. Internal, hot. */
export function currentGreenlet(): Greenlet | undefined {
  return storage.getStore()?._greenlet;
}

/**
 * The live greenlet that a patched operation or a wait started here belongs to: `undefined` at top
 * level, in a dead greenlet's leftovers (a timer it started) and in an abandoned continuation.
 */
export function currentOwner(): Greenlet | undefined {
  return storage.getStore()?._liveOwner();
}

/** @internal The async context of the running code (a greenlet or a fence), `undefined` at top level. */
export function currentContext(): HubContext | undefined {
  return storage.getStore();
}

/** @internal Run `fn(arg)` as `context`: everything it starts inherits it. */
export function runAs<A, R>(context: HubContext, fn: (arg: A) => R, arg: A): R {
  return storage.run(context, fn, arg);
}

function enterAndCall<A, R>(context: HubContext, fn: (arg: A) => R, arg: A): R {
  storage.enterWith(context);
  return fn(arg);
}

/**
 * Run `fn(a, b)` outside any greenlet: user callbacks (rawlink, `onError`, link greenlets' spawn)
 * must not inherit the context of whichever greenlet happened to trigger them. (`run(undefined)`,
 * because `AsyncLocalStorage.exit()` toggles async hooks on Node 20 and costs ~1 µs.)
 */
export function runOutside<A, B>(fn: (a: A, b: B) => void, a: A, b: B): void {
  if (storage.getStore() === undefined) fn(a, b);
  else storage.run(undefined as unknown as HubContext, fn, a, b);
}

/** The owner of waits made by code outside any greenlet. */
class TopLevel implements WaitOwner {
  _wfirst: Waiter | null = null;
  constructor(private readonly hub: Hub) {}
  _addWaiter(waiter: Waiter): void {
    this._wfirst = linkFirst(this._wfirst, waiter);
    this.hub._waitParked();
  }
  _removeWaiter(waiter: Waiter): void {
    this._wfirst = unlink(this._wfirst, waiter);
    this.hub._waitEnded(false);
  }
  toString(): string {
    return 'top-level code';
  }
}

/** A snapshot of the hub: plain numbers, cheap to take, read by metrics at scrape time (never pushed). */
export interface HubStats {
  greenlets: {
    /** Started and not yet dead. */
    live: number;
    /** Started, waiting in the run queue (or for `startLater`) to run for the first time. */
    scheduled: number;
    /** Running, or awaiting something that is not a hub wait (unpatched I/O, a raw promise). */
    running: number;
    /** Parked in at least one hub wait. */
    waiting: number;
  };
  spawned: number;
  finished: { ok: number; error: number; killed: number };
  /** Greenlet resumptions by the hub: starts plus wake-ups of parked greenlets. */
  switches: number;
  /** Parked waits, including those of top-level code. */
  waiters: number;
  /** Held wakers (pool tasks, cross-thread waits) that keep the loop alive. */
  wakers: number;
  loopExits: number;
  deadlocks: number;
  /** Failures that nobody observed, reported through `onError`. */
  unobservedErrors: number;
  /** Operations in flight outside the hub (pool tasks, patched I/O), by kind. */
  operations: Record<string, number>;
  /**
   * Continuations abandoned because a kill or a `withTimeout` deadline could not reach the promise
   * they awaited: `total` since start, `running` still awaiting it (their results will be discarded).
   */
  abandoned: { total: number; running: number };
  /** Times the blocking monitor saw the hub blocked longer than its `maxBlockingTime`. */
  blockingEvents: number;
  /** Total duration of those blocks, in milliseconds. */
  blockedMs: number;
  /** That duration by blocking API (`fs.readFileSync`…, set by the patch layer); `none` when no API was known. */
  blockedMsByApi: Record<string, number>;
  /**
   * That duration by API and by the blocked greenlet's metric name (its name, e.g. the route
   * `GET /report` of a request greenlet, else its function's name; `none` outside any greenlet).
   */
  blockedMsByApiAndName: { api: string; name: string; ms: number }[];
}

/** Operations of one kind in flight (see operation.ts). */
export interface OperationCounter {
  inFlight: number;
}

/** An abandoned continuation, as shown in run info (fence.ts). */
export interface AbandonedRecord {
  /** `"GET /x" (Greenlet-4) killed`, `withTimeout(50 ms) in Greenlet-4`. */
  describe(): string;
  /** When it was abandoned (`now()` clock). */
  readonly abandonedAt: number;
}

/** A held waker, as shown in run info. */
export interface WakerRecord {
  readonly label: string;
  readonly since: number;
}

/**
 * The default `onError`: print the failure, its greenlet and (when tracked) where it was spawned.
 * LoopExits of one round share their run info: the first is printed whole, the others are counted
 * in one line after it (100k greenlets waiting on one Event must not print 100k reports).
 */
export function printError(error: unknown, greenlet: Greenlet | null): void {
  if (error instanceof LoopExit && error.runInfo !== '' && error.runInfo === loopExitRound) {
    if (sameRoundSuppressed++ === 0) nativeSetImmediate(printSameRoundSummary);
    return;
  }
  if (error instanceof LoopExit) loopExitRound = error.runInfo;
  const stack = error instanceof Error ? (error.stack ?? String(error)) : String(error);
  const site = greenlet?.spawnSite ? `\n  spawned at:\n${greenlet.spawnSite}` : '';
  const what =
    greenlet === null
      ? 'a callback run by the hub threw'
      : `${greenlet} failed and nobody received the error`;
  process.stderr.write(`greenhub: ${what}:\n${stack}${site}\n`);
}

let loopExitRound: string | null = null;
let sameRoundSuppressed = 0;

function printSameRoundSummary(): void {
  const n = sameRoundSuppressed;
  sameRoundSuppressed = 0;
  process.stderr.write(
    `greenhub: … and ${n} more greenlet${n === 1 ? '' : 's'} failed with LoopExit in the same round (see the run info above)\n`,
  );
}

/**
 * @internal How the hub makes its default thread pool. Installed by `threadpool/default-pool.ts`,
 * which both `greenhub` and `greenhub/threadpool` load, so that the hub itself does not import the
 * pool (nor piscina, which the pool loads on first use).
 */
export const defaultPool: {
  create: (() => ThreadPool) | undefined;
  isPool: (value: unknown) => value is ThreadPool;
} = { create: undefined, isPool: (_value: unknown): _value is ThreadPool => false };

/**
 * The hub of this thread; get it with {@link getHub}.
 *
 * @example
 * ```ts
 * const hub = getHub();
 * hub.onError = (err, g) => logger.error({ err, greenlet: g?.name });
 * console.log(hub.stats().greenlets, hub.formatRunInfo());
 * ```
 */
export class Hub {
  /**
   * Called once for every greenlet failure that nobody observed (no `join`, `get`, link or `wait`
   * by the turn after it died), for a greenlet ended by a `LoopExit` or `DeadlockError` whose error
   * nobody received (through `get()` or a link), and for errors thrown by `rawlink` callbacks. Defaults to printing
   * on stderr. A reported `LoopExit` also sets `process.exitCode` to 1, whatever the handler.
   */
  get onError(): (error: unknown, greenlet: Greenlet | null) => void {
    return this.errorHandler;
  }
  set onError(handler: (error: unknown, greenlet: Greenlet | null) => void) {
    checkFunction('Hub.onError', 'onError', handler);
    this.errorHandler = handler;
  }
  private errorHandler: (error: unknown, greenlet: Greenlet | null) => void = printError;

  /**
   * The switch interval, in milliseconds (gevent's `setswitchinterval`, default 5): a turn of the
   * run queue — starting spawned greenlets, resuming `sleep(0)`s — that has run this long stops,
   * lets Node's loop poll I/O and run due callbacks, and goes on in the next turn. A smaller value
   * favours I/O latency under a busy run queue, a larger one throughput.
   *
   * @example
   * ```ts
   * getHub().switchIntervalMs = 2; // a latency-sensitive service with many CPU-heavy greenlets
   * ```
   */
  get switchIntervalMs(): number {
    return this.switchMs;
  }
  set switchIntervalMs(ms: number) {
    if (typeof ms !== 'number')
      throw typeError('Hub.switchIntervalMs', 'switchIntervalMs', 'a number of milliseconds', ms);
    if (!(ms > 0 && ms < Number.POSITIVE_INFINITY))
      throw rangeError(
        'Hub.switchIntervalMs',
        'switchIntervalMs',
        'a positive, finite number of milliseconds',
        ms,
      );
    this.switchMs = ms;
  }

  /**
   * Capture each greenlet's spawn site (a stack trace, shown in run info and error reports). Costs
   * a few microseconds per spawn, so it is off unless `GREENHUB_SPAWN_SITES=1` is set or this is
   * turned on.
   */
  trackSpawnSites: boolean = process.env.GREENHUB_SPAWN_SITES === '1';

  /**
   * The default thread pool (`greenhub/threadpool`), sized to `os.availableParallelism()`, created
   * on first use (and again after it was closed). Assign a `ThreadPool` to use another one.
   *
   * @example
   * ```ts
   * const sum = await getHub().threadpool.run((n: number) => { let s = 0; for (let i = 0; i < n; i++) s += i; return s; }, 1e8);
   * ```
   */
  get threadpool(): ThreadPool {
    const pool = this.pool;
    if (pool !== undefined && !pool.closed) return pool;
    if (defaultPool.create === undefined) throw new Error('greenhub: the thread pool module is not loaded');
    this.pool = defaultPool.create();
    return this.pool;
  }
  set threadpool(pool: ThreadPool) {
    if (!defaultPool.isPool(pool)) throw typeError('Hub.threadpool', 'threadpool', 'a ThreadPool', pool);
    this.pool = pool;
  }
  private pool: ThreadPool | undefined = undefined;

  /** @internal */ readonly _top: TopLevel = new TopLevel(this);
  /**
   * @internal Greenlets holding a pending throw; 0 lets non-blocking fast paths skip the check.
   * Read anywhere; changed only through {@link _pendingThrowSet}/{@link _pendingThrowTaken}.
   */
  _pendingThrows = 0;
  /**
   * @internal Set by greenhub/metrics while greenlet durations are collected: called when a greenlet
   * that ran dies, with how long it ran (ms, from its first switch-in to its death).
   */
  _onGreenletEnd: ((greenlet: Greenlet, ms: number) => void) | null = null;
  /**
   * @internal Set by greenhub/metrics while loop time by greenlet is collected (metrics/loop-time.ts):
   * called after a greenlet's first synchronous segment with the greenlet's metric name (read before
   * it ran: it may finish in it) and the segment's length (ms). Later segments run as async
   * callbacks, which that module times through async_hooks.
   */
  _onRunSegment: ((name: string, ms: number) => void) | null = null;
  /** @internal the clock a starting greenlet records while `_onGreenletEnd` is set (see drainReady) */
  _runClock = 0;

  // The hub's counters and its list of live greenlets: changed here only, by the methods below
  // that greenlets, waits and the blocking monitor call.
  /** Live greenlets, newest first (see internal/intrusive-list.ts). */
  private liveFirst: Greenlet | null = null;
  private live = 0;
  private scheduled = 0;
  /** Greenlets parked in at least one wait or operation. */
  private waiting = 0;
  /** All parked waits. */
  private parked = 0;
  private spawned = 0;
  private finishedOk = 0;
  private finishedError = 0;
  private finishedKilled = 0;
  /**
   * Greenlet resumptions (starts plus wake-ups), in a typed array so that the blocking monitor's
   * watchdog thread can read it while this thread is busy: the monitor has it moved into shared
   * memory (see {@link _moveSwitchCounter}). A Float64Array holds exact integers up to 2^53.
   */
  private switchCounter: Float64Array<ArrayBufferLike> = new Float64Array(1);
  private blockingEvents = 0;
  private blockedMs = 0;
  /** Blocked ms by API (`none`: no patched API in progress) and greenlet metric name: `api` NUL `name` → ms. */
  private readonly blockedMsByKey = new Map<string, number>();
  private loopExits = 0;
  private deadlocks = 0;
  private unobserved = 0;
  /** Continuations abandoned at a deadline or kill (fence.ts). */
  private abandonedTotal = 0;

  private ready: Runnable[] = [];
  /** The batch being drained (see drainReady), and how far. */
  private batch: Runnable[] = NO_RUNNABLES;
  private batchAt = 0;
  /** When this turn (until the next drainReady: the previous one) began. */
  private sliceStart = 0;
  private stepStart = 0;
  private chunk = 1;
  private lastChunk = 1;
  /** How many items the previous turn ran (see drainReady). */
  private lastTurnItems = 0;
  private switchMs = 5;
  private reporting: readonly Greenlet[] = NO_FAILURES;
  /** Set while a chunk of the run queue runs; the turn's scope, created by its first start (see _runAs). */
  private inTurn = false;
  private turnScope: AsyncResource | undefined = undefined;
  /** Without context frames: a start of this chunk entered its greenlet's store; the store to restore. */
  private entered = false;
  private outerContext: HubContext | undefined = undefined;
  private drainQueued = false;
  /** The queued items include some the switch interval pushed back: due timers go first then. */
  private readyCarried = false;
  private notifyQueue: (WaitList | unknown)[] = [];
  private notifyDrainQueued = false;
  private failed: Greenlet[] = [];
  private readonly wakers = new Set<WakerRecord>();
  private readonly operations = new Map<string, OperationCounter>();
  private keepAlive: ReturnType<typeof setInterval> | undefined;

  constructor() {
    process.on('beforeExit', this.onBeforeExit);
  }

  /** A snapshot of counters and states. */
  stats(): HubStats {
    return {
      greenlets: {
        live: this.live,
        scheduled: this.scheduled,
        running: this.live - this.scheduled - this.waiting,
        waiting: this.waiting,
      },
      spawned: this.spawned,
      finished: { ok: this.finishedOk, error: this.finishedError, killed: this.finishedKilled },
      switches: this.switchCounter[0]!,
      waiters: this.parked,
      wakers: this.wakers.size,
      loopExits: this.loopExits,
      deadlocks: this.deadlocks,
      unobservedErrors: this.unobserved,
      operations: Object.fromEntries([...this.operations].map(([kind, c]) => [kind, c.inFlight])),
      abandoned: { total: this.abandonedTotal, running: this.abandoned.size },
      blockingEvents: this.blockingEvents,
      blockedMs: this.blockedMs,
      ...this.blocksByApi(),
    };
  }

  /** @internal the live greenlets, newest first: the one walk of the live list */
  _liveGreenlets(): Generator<Greenlet, void, undefined> {
    return nodes(this.liveFirst);
  }

  /** @internal `greenlet` was started: it is live and scheduled */
  _greenletStarted(greenlet: Greenlet): void {
    this.spawned++;
    this.live++;
    this.scheduled++;
    this.liveFirst = linkFirst(this.liveFirst, greenlet);
  }

  /** @internal a scheduled greenlet runs for the first time */
  _greenletRuns(): void {
    this.scheduled--;
    this.switchCounter[0]++;
  }

  /** @internal a started greenlet died (`scheduled`: before it ever ran) */
  _greenletDied(greenlet: Greenlet, scheduled: boolean, outcome: 'ok' | 'error' | 'killed'): void {
    this.live--;
    if (scheduled) this.scheduled--;
    this.liveFirst = unlink(this.liveFirst, greenlet);
    if (outcome === 'killed') this.finishedKilled++;
    else if (outcome === 'error') this.finishedError++;
    else this.finishedOk++;
  }

  /** @internal a live greenlet became parked (in a wait or an operation), or stopped being so */
  _greenletBlocked(blocked: boolean): void {
    this.waiting += blocked ? 1 : -1;
  }

  /** @internal a wait was parked */
  _waitParked(): void {
    this.parked++;
  }

  /** @internal a parked wait ended; `resumes`: its greenlet runs again (a switch) */
  _waitEnded(resumes: boolean): void {
    this.parked--;
    if (resumes) this.switchCounter[0]++;
  }

  /** @internal a greenlet (or fence) now holds a pending throw */
  _pendingThrowSet(): void {
    this._pendingThrows++;
  }

  /** @internal a pending throw was delivered or withdrawn */
  _pendingThrowTaken(): void {
    this._pendingThrows--;
  }

  /** @internal the number of switches so far (read by the blocking monitor's probe) */
  _switches(): number {
    return this.switchCounter[0]!;
  }

  /**
   * @internal Count switches in `counter` from now on (the blocking monitor's shared memory, or
   * back in the hub's own array), carrying the count over; returns the array used until now.
   */
  _moveSwitchCounter(counter: Float64Array<ArrayBufferLike>): Float64Array<ArrayBufferLike> {
    const previous = this.switchCounter;
    counter[0] = previous[0]!;
    this.switchCounter = counter;
    return previous;
  }

  /**
   * @internal Add one block of the hub to its totals (`stats()`: `blockingEvents`, `blockedMs`,
   * `blockedMsByApi`, `blockedMsByApiAndName`; `api` null: no known API; `name` the blocked
   * greenlet's metric name, null outside any greenlet). At most {@link MAX_BLOCKING_KEYS} pairs
   * are kept apart; the rest count under `other`.
   */
  _countBlock(durationMs: number, api: string | null, name: string | null): void {
    this.blockingEvents++;
    this.blockedMs += durationMs;
    let key = `${api ?? 'none'}\0${name ?? 'none'}`;
    const byKey = this.blockedMsByKey;
    if (!byKey.has(key) && byKey.size >= MAX_BLOCKING_KEYS) key = 'other\0other';
    byKey.set(key, (byKey.get(key) ?? 0) + durationMs);
  }

  private blocksByApi(): Pick<HubStats, 'blockedMsByApi' | 'blockedMsByApiAndName'> {
    const byApi: Record<string, number> = {};
    const byApiAndName: HubStats['blockedMsByApiAndName'] = [];
    for (const [key, ms] of this.blockedMsByKey) {
      const cut = key.indexOf('\0');
      const api = key.slice(0, cut);
      byApi[api] = (byApi[api] ?? 0) + ms;
      byApiAndName.push({ api, name: key.slice(cut + 1), ms });
    }
    return { blockedMsByApi: byApi, blockedMsByApiAndName: byApiAndName };
  }

  /** @internal see operation.ts: the in-flight counter of `kind`, kept by the operations themselves */
  _operationCounter(kind: string): OperationCounter {
    if (kind === this.lastKind) return this.lastCounter!;
    let counter = this.operations.get(kind);
    if (counter === undefined) this.operations.set(kind, (counter = { inFlight: 0 }));
    this.lastKind = kind;
    return (this.lastCounter = counter);
  }
  /** Operations come in runs of one kind (a batch of timers): the last counter, looked up once. */
  private lastKind: string | undefined = undefined;
  private lastCounter: OperationCounter | undefined = undefined;

  /** Every live greenlet as a spawn tree, plus top-level waits and held wakers. */
  runInfo(): RunInfo {
    return runInfo(this);
  }

  /**
   * {@link runInfo} as indented text: id, name, state, what each greenlet waits on and for how long,
   * and its spawn site when {@link trackSpawnSites} is on. `limit` bounds the number of lines.
   */
  formatRunInfo(opts?: { limit?: number }): string {
    const where = 'Hub.formatRunInfo()';
    checkOptions(where, 'opts', opts, ['limit']);
    if (opts?.limit !== undefined) checkInteger(where, 'opts.limit', opts.limit, 0, 'a non-negative integer');
    return formatRunInfo(this, opts?.limit ?? 1000);
  }

  /**
   * Register a source of wake-ups that Node's loop does not see (a task running on another thread,
   * an `Atomics.waitAsync`). While any waker is held the hub keeps the loop alive and raises no
   * `LoopExit`. Returns the release function (idempotent); release in `finally`.
   *
   * @example
   * ```ts
   * const release = getHub().holdWaker('pool task fib(40)');
   * try { return await runOnThread(); } finally { release(); }
   * ```
   */
  holdWaker(label: string): () => void {
    const record: WakerRecord = { label, since: now() };
    this.wakers.add(record);
    // One interval for the hub's lifetime, ref'd while a waker is held: a pool that goes idle and
    // busy for every task pays a ref()/unref(), not a timer's creation and removal.
    if (this.keepAlive === undefined) this.keepAlive = nativeSetInterval(noop, 1 << 30);
    else if (this.wakers.size === 1) this.keepAlive.ref();
    return () => {
      if (!this.wakers.delete(record)) return;
      if (this.wakers.size === 0) this.keepAlive?.unref();
    };
  }

  /** @internal the held wakers, for run info */
  _wakerRecords(): Iterable<WakerRecord> {
    return this.wakers;
  }

  /**
   * @internal Run `fn(arg)` as `context` (a greenlet's first slice), as {@link runAs} does, with
   * less work when it is a start in a turn of the run queue (see stepChunk):
   * - where AsyncLocalStorage keeps context frames, the greenlet's frame is entered from the turn's
   *   scope, which restores the turn's frame afterwards: one frame (a Map) per greenlet instead of
   *   `run()`'s two (the store's, and one more to restore the caller's);
   * - where it keeps stores on async resources, entering is one property write on the turn's
   *   resource, restored once when the chunk ends.
   * The greenlet sees the same context either way: the turn's, with itself as the store.
   */
  _runAs<A, R>(context: HubContext, fn: (arg: A) => R, arg: A): R {
    if (!this.inTurn) return storage.run(context, fn, arg);
    if (FRAMES) {
      this.turnScope ??= new AsyncResource('greenhub.Hub');
      return this.turnScope.runInAsyncScope(enterAndCall, undefined, context, fn, arg) as R;
    }
    if (!this.entered) {
      this.entered = true;
      this.outerContext = storage.getStore();
    }
    storage.enterWith(context);
    return fn(arg);
  }

  /** @internal queue a greenlet start or a `sleep(0)` resumption */
  _schedule(item: Runnable): void {
    this.ready.push(item);
    if (!this.drainQueued) {
      this.drainQueued = true;
      nativeSetImmediate(this.drainReady);
    }
  }

  /**
   * @internal Run `fn(arg)` now or, when greenlet starts or `sleep(0)` resumptions are queued, right
   * after the turn that runs them (a check-phase callback queued behind it: same loop iteration).
   * Expiring timers go through here, so that a deadline never overtakes what was queued before it
   * fired — as in gevent, whose hub runs its callbacks before its timers: `spawn(f); await
   * sleep(5)` then finds `f` started even when the loop reached its timers late. Not when the
   * queue holds work the switch interval pushed back: a busy run queue yields to due timers after
   * one interval, as gevent's does. Once only: the deferred call runs whatever is queued by then.
   */
  _afterQueued<A>(fn: (arg: A) => void, arg: A): void {
    if (this.drainQueued && !this.readyCarried) nativeSetImmediate(fn, arg);
    else fn(arg);
  }

  /** @internal fire every link of `list` with `source`, in a microtask; once per list per batch */
  _notify(list: WaitList, source: unknown): void {
    if (list.notifyQueued) return;
    list.notifyQueued = true;
    this.notifyQueue.push(list, source);
    if (!this.notifyDrainQueued) {
      this.notifyDrainQueued = true;
      nativeQueueMicrotask(this.drainNotify);
    }
  }

  /** @internal a greenlet died with an error; report it next turn unless someone observes it */
  _failedLater(greenlet: Greenlet): void {
    this.failed.push(greenlet);
    if (!this.drainQueued) {
      this.drainQueued = true;
      nativeSetImmediate(this.drainReady);
    }
  }

  /** @internal report an error through `onError` without ever throwing */
  _report(error: unknown, greenlet: Greenlet | null): void {
    if (error instanceof LoopExit) process.exitCode ||= 1;
    runOutside(this.callErrorHandler, error, greenlet);
  }

  private readonly callErrorHandler = (error: unknown, greenlet: Greenlet | null): void => {
    try {
      this.errorHandler(error, greenlet);
    } catch (handlerError) {
      printError(handlerError, null);
    }
  };

  /**
   * @internal the owner for a wait about to begin — or a Refusal carrying the error to reject with:
   * the current greenlet's pending kill/Timeout (every blocking call is a checkpoint), or a
   * DeadlockError when an unbounded wait would close a cycle of joins and owned locks.
   */
  _ownerForWait(on: WaitTarget, op: string, timeoutMs: number | null): WaitOwner | Refusal {
    const context = storage.getStore();
    if (context === undefined) return this._top;
    if (this._pendingThrows !== 0 && context._hasPendingThrow())
      return new Refusal(context._takePendingThrow());
    // Leftovers of a dead greenlet and abandoned continuations wait as top-level code does.
    const greenlet = context._liveOwner();
    if (greenlet === undefined) return this._top;
    // A wait that a Timeout of its greenlet will end cannot be part of a cycle that never ends.
    if (timeoutMs === null && greenlet._timeouts === null && hasBlockers(on)) {
      const deadlock: DeadlockError | null = findDeadlock(greenlet, on, op);
      if (deadlock !== null) {
        this.deadlocks++;
        return new Refusal(deadlock);
      }
    }
    return greenlet;
  }

  /**
   * @internal the checkpoint of a call that completes without blocking: the current greenlet's
   * pending kill/Timeout, or `undefined`. Costs one comparison when nothing is pending anywhere.
   */
  _checkpoint(): { error: unknown } | undefined {
    if (this._pendingThrows === 0) return undefined;
    const context = storage.getStore();
    return context?._hasPendingThrow() ? { error: context._takePendingThrow() } : undefined;
  }

  /**
   * @internal A kill could not be delivered: `greenlet` awaits something greenhub does not see.
   * Once the microtasks of this turn have run (a greenlet woken in this turn resumes and meets its
   * checkpoint there), a greenlet still holding that kill is fenced (see fence.ts).
   */
  _fenceLater(greenlet: Greenlet): void {
    this.toFence.push(greenlet);
    if (this.toFence.length === 1) nativeSetImmediate(this.drainFence);
  }

  private toFence: Greenlet[] = [];

  private readonly drainFence = (): void => {
    const batch = this.toFence;
    this.toFence = [];
    for (const greenlet of batch) greenlet._fenceIfStillPending();
  };

  /** @internal a continuation was abandoned (its greenlet fenced, or its `withTimeout` gave up) */
  _abandoned(record: AbandonedRecord): void {
    this.abandoned.add(record);
    this.abandonedTotal++;
  }

  /** @internal an abandoned continuation settled: its result was discarded */
  _abandonedSettled(record: AbandonedRecord): void {
    this.abandoned.delete(record);
  }

  /** @internal the abandoned continuations still running, for run info */
  _abandonedRecords(): Iterable<AbandonedRecord> {
    return this.abandoned;
  }

  private readonly abandoned = new Set<AbandonedRecord>();

  /**
   * Start the queued greenlets and resume the `sleep(0)`s, in FIFO order — within the switch
   * interval. A greenlet's slice (its code up to its next wait) runs in a microtask after its
   * `_run()`, so the batch is run in chunks, each followed by a microtask step that comes after the
   * chunk's slices: when the batch has used `switchIntervalMs`, the rest waits for the next turn
   * and the poll phase runs first (gevent's switch interval: I/O is not starved by a busy run
   * queue). The chunk adapts to the measured cost per item, so cheap batches (100k trivial spawns)
   * pay one clock read per chunk of 256, not one microtask per greenlet, and a small cheap turn
   * pays one clock read.
   */
  private readonly drainReady = (): void => {
    this.drainQueued = false;
    this.readyCarried = false;
    this.turnScope = undefined;
    // Failures from earlier turns: whoever was going to join/get/link them has had a turn to do so.
    if (this.failed.length !== 0) {
      this.reporting = this.failed;
      this.failed = [];
    }
    const batch = this.ready;
    this.batch = batch;
    // A fresh array: emptying a drained one (`length = 0`) frees its store all the same, and costs more.
    this.ready = [];
    this.batchAt = 0;
    // The first chunk's size comes from the time since the previous turn began per item it ran (its
    // slices, and whatever else the loop did meanwhile: an overestimate, on the safe side). A
    // turn of cheap items (two greenlets trading sleep(0)s) runs in one go: one clock read and no
    // microtask more than a plain loop; a turn of heavy ones starts in small chunks.
    const t = now();
    if (this.lastTurnItems !== 0) this.chunk = this.chunkFor((t - this.sliceStart) / this.lastTurnItems);
    this.lastTurnItems = 0; // set when the turn ends: the items it ran
    this.sliceStart = this.stepStart = t;
    this.stepChunk(t);
  };

  /** How many items fit in a quarter of the switch interval at `perItemMs` each. */
  private chunkFor(perItemMs: number): number {
    if (perItemMs <= 0) return MAX_CHUNK;
    return Math.max(1, Math.min(MAX_CHUNK, Math.floor(this.switchMs / 4 / perItemMs)));
  }

  private readonly step = (): void => {
    const t = now();
    const batch = this.batch;
    const at = this.batchAt;
    if (t - this.sliceStart >= this.switchMs) {
      // Out of time: the `sleep(0)` resumptions left run next turn, after I/O, before anything
      // queued since. Greenlet starts left still run in this turn, in order: a request's handler
      // must not start after the next poll of its socket (its client's FIN, a pipelined request's
      // successor) when plain Node would have run it at once — the transparency rule outranks the
      // interval for starts, as it does not for a greenlet that itself asked to yield.
      this.lastTurnItems = at;
      const deferred: Runnable[] = [];
      const starts: Runnable[] = [];
      for (let i = at; i < batch.length; i++) {
        const item = batch[i]!;
        (item instanceof Waiter ? deferred : starts).push(item);
      }
      if (deferred.length !== 0) this.readyCarried = true;
      const newer = this.ready;
      for (let i = 0; i < newer.length; i++) deferred.push(newer[i]!);
      this.ready = deferred;
      if (deferred.length !== 0 && !this.drainQueued) {
        this.drainQueued = true;
        nativeSetImmediate(this.drainReady);
      }
      if (starts.length !== 0) {
        this.batch = starts;
        this.batchAt = 0;
        this.chunk = starts.length;
        this.stepChunk(t);
        return;
      }
      this.batch = NO_RUNNABLES;
      this.reportFailures();
      return;
    }
    // The next chunk: as many items as fit in a quarter of the interval at the last chunk's cost.
    this.chunk = this.chunkFor((t - this.stepStart) / this.lastChunk);
    this.stepStart = t;
    this.stepChunk(t);
  };

  private stepChunk(t: number): void {
    const batch = this.batch;
    let i = this.batchAt;
    const end = Math.min(batch.length, i + this.chunk);
    this.lastChunk = end - i;
    // While greenlet durations are measured, starting greenlets read the clock of their chunk
    // instead of reading it each (a clock read costs about as much as a trivial greenlet's
    // bookkeeping).
    if (this._onGreenletEnd !== null) this._runClock = t;
    this.inTurn = true;
    for (; i < end; i++) {
      try {
        batch[i]!._run();
      } catch (error) {
        this._report(error, null);
      }
    }
    this.inTurn = false;
    if (this.entered) {
      this.entered = false;
      storage.enterWith(this.outerContext as HubContext);
      this.outerContext = undefined;
    }
    this.batchAt = i;
    if (i < batch.length) {
      nativeQueueMicrotask(this.step);
      return;
    }
    this.lastTurnItems = batch.length;
    this.batch = NO_RUNNABLES;
    this._runClock = 0; // greenlets started outside a batch (startLater) read the clock themselves
    this.reportFailures();
  }

  private reportFailures(): void {
    const failed = this.reporting;
    if (failed.length === 0) return;
    this.reporting = NO_FAILURES;
    for (const greenlet of failed) {
      // A LoopExit or DeadlockError nobody caught means the program is stuck: it is reported even
      // if someone joined the greenlet, since join() does not hand over the error.
      const stuck = greenlet._result instanceof LoopExit || greenlet._result instanceof DeadlockError;
      if (!greenlet._observed || (stuck && !greenlet._errorDelivered)) {
        this.unobserved++;
        this._report(greenlet.exception, greenlet);
      }
    }
  }

  private readonly drainNotify = (): void => {
    const queue = this.notifyQueue;
    for (let i = 0; i < queue.length; i += 2) {
      const list = queue[i] as WaitList;
      list.notifyQueued = false;
      list.fireAll(queue[i + 1]);
    }
    queue.length = 0;
    this.notifyDrainQueued = false;
  };

  /**
   * The loop ran dry. Reject, with LoopExit, the parked waits that nothing alive can wake; waits
   * on live greenlets (join/get, a lock such a greenlet holds) are left for the next round — the
   * greenlet may catch its own LoopExit and finish — unless there is nothing else to reject.
   */
  private readonly onBeforeExit = (): void => {
    if (this.wakers.size !== 0 || this.parked === 0) return;
    const waiters: Waiter[] = [];
    for (const w of nodes(this._top._wfirst)) waiters.push(w);
    for (const g of this._liveGreenlets()) for (const w of nodes(g._wfirst)) waiters.push(w);
    if (waiters.length === 0) return;
    const leaves = waiters.filter((w) => !mayBeWokenByGreenlet(w.on));
    this.loopExits++;
    const info = formatRunInfo(this, 50);
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      for (const waiter of leaves.length !== 0 ? leaves : waiters) {
        const who = waiter.owner === this._top ? 'top-level code' : String(waiter.owner);
        const error = new LoopExit(
          `This operation would block forever: ${who} waits in ${waiter.op}() on ${String(waiter.on)} ` +
            `since ${formatMs(now() - waiter.since)} ago, and nothing left in the event loop can wake it.`,
          info,
        );
        waiter.fail(error);
      }
    } finally {
      Error.stackTraceLimit = limit;
    }
  };
}

function noop(): void {}

const NO_FAILURES: readonly Greenlet[] = [];
/** At most this many distinct (API, greenlet name) pairs of blocks are counted apart; later ones as `other`. */
const MAX_BLOCKING_KEYS = 100;
const NO_RUNNABLES: Runnable[] = [];
/** The most queued items started between two looks at the clock (see drainReady). */
const MAX_CHUNK = 256;

/** `12 ms`, `1.5 s`: for humans reading run info and LoopExit messages. */
export function formatMs(ms: number): string {
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

let theHub: Hub | undefined;

/**
 * The hub of this thread (each worker thread has its own), created on first use.
 *
 * @example
 * ```ts
 * import { getHub } from 'greenhub';
 * getHub().trackSpawnSites = true;
 * ```
 */
export function getHub(): Hub {
  return (theHub ??= new Hub());
}
