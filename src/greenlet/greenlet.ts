/**
 * Greenlet: a named, joinable, killable task over a plain (async) function.
 *
 * Life cycle: `new` → `start()` puts it on the hub's run queue (*scheduled*) → the hub runs its
 * function inside the greenlet's own async context (*running*; *waiting* while parked in a hub
 * wait) → *dead* with a value or an exception.
 *
 * Cancellation is delivered through {@link Greenlet._throw}, the only place that interrupts a
 * greenlet: it fails the greenlet's parked waits (the wait's promise rejects, so the exception
 * surfaces at the `await`), or, when the greenlet is not parked — running, or awaiting something the
 * hub does not see — keeps it pending for its next checkpoint. `kill()` and `Timeout` both use it.
 *
 * A Greenlet is deliberately not thenable: `await pool.spawn(fn)` yields the greenlet itself. Use
 * `await g.get()` for its value.
 */
import { GreenletExit } from '../errors.js';
import { linkFirst, unlink } from '../internal/intrusive-list.js';
import { armTimer, disarmTimer, now, type Timer } from '../internal/natives.js';
import {
  checkBoolean,
  checkDelay,
  checkFunction,
  checkOptions,
  checkSignal,
  checkString,
  checkTimeout,
} from '../internal/validate.js';
import { kBlockers } from './deadlock.js';
import { type AbandonedRecord, currentGreenlet, getHub, type Hub, runAs } from './hub.js';
import { Linkable, LinkKind, setLinkSpawner, UserLink } from './linkable.js';
import { abortOperations, type Operation } from './operation.js';
import { Timeout } from './timeout.js';
import { checkpointed, FireMode, RejectWith, type Waiter } from './waiter.js';

enum State {
  New = 0,
  Scheduled = 1,
  Running = 2,
  Dead = 3,
}

/** Marks "no pending throw" (`undefined` is a legitimate thing to throw). */
const NONE: unique symbol = Symbol('none');

const RESOLVED_TRUE: Promise<boolean> = Promise.resolve(true);
const NO_ARGS: unknown[] = [];

interface Extras {
  /** A kill or Timeout kept for the next checkpoint (see _setPending); {@link NONE} when none. */
  pendingThrow: unknown;
  killException: unknown;
  startTimer: Timer | undefined;
  site: { stack?: string } | undefined;
  /** Behind {@link Greenlet.signal}, created on first read, replaced once aborted. */
  controller: AbortController | undefined;
  /** Set when a kill fenced the greenlet while its body still awaited (see fence.ts). */
  abandoned: AbandonedBody | undefined;
}

/** The body of a greenlet that a kill declared dead while it awaited (see fence.ts). */
class AbandonedBody implements AbandonedRecord {
  readonly abandonedAt = now();
  /** Named now: the greenlet's id is reused once it is dead. */
  private readonly what: string;
  constructor(greenlet: Greenlet) {
    this.what = `body of ${greenlet}, killed while awaiting something greenhub does not see`;
  }
  describe(): string {
    return this.what;
  }
}
const RESOLVED_VOID: Promise<void> = Promise.resolve();

// Small ids, reused once their greenlet is dead (gevent's minimal_ident). Assigned at start (or on
// first read, for a greenlet that is not started), so that they follow spawn order.
const freeIds: number[] = [];
let nextId = 1;

/** Options of {@link Greenlet.kill} and `killAll`. */
export interface KillOptions {
  /** What to deliver: an instance, or an Error class to instantiate. Default: a new {@link GreenletExit}. */
  exception?: unknown;
  /** Wait until the greenlet is dead (default `true`, as in gevent). */
  block?: boolean;
  /** With `block`, wait at most this many milliseconds. */
  timeout?: number | null;
}

/** Options of {@link Greenlet.get}. */
export interface GetOptions {
  /** `false`: do not wait; throw `Timeout` at once if not ready. Default `true`. */
  block?: boolean;
  /** Wait at most this many milliseconds, then throw `Timeout`. */
  timeout?: number | null;
  /** Give up when this signal aborts: `get()` rejects with its reason (at once if it already has). */
  signal?: AbortSignal;
}

// The greenlet's yes/no facts, in one small integer (a field each would be 8 bytes of every greenlet).
const FAILED = 1;
const OBSERVED = 2;
const ERROR_DELIVERED = 4;
/** Counted among the hub's waiting greenlets (see syncBlocked). */
const BLOCKED = 8;

const KILL_OPTIONS = ['exception', 'block', 'timeout'] as const;
const GET_OPTIONS = ['block', 'timeout', 'signal'] as const;

/** The state names shown in run info and stats. */
export type GreenletState = 'new' | 'scheduled' | 'running' | 'waiting' | 'dead';

/**
 * A cooperative task. Create and start one with {@link spawn}; wait for it with `join`/`get`; stop
 * it with `kill`.
 *
 * @example
 * ```ts
 * const g = spawn(async (url: string) => (await fetch(url)).status, 'http://127.0.0.1:8080/');
 * g.name = 'probe';
 * if (!(await g.join(1000))) await g.kill();
 * console.log(g.successful() ? g.value : g.exception);
 * ```
 */
export class Greenlet<T = unknown> extends Linkable {
  /** The greenlet that spawned this one, `null` at top level (and once this one is dead). */
  parent: Greenlet | null;
  /** @internal value or exception once dead */ _result: unknown = undefined;
  /** @internal first parked waiter (owner list) */ _wfirst: Waiter | null = null;
  /** @internal the hub's live list (internal/intrusive-list.ts) */ _prev: Greenlet | null = null;
  /** @internal */ _next: Greenlet | null = null;
  /** @internal Timeouts started by this greenlet and still armed (intrusive list) */
  _timeouts: Timeout | null = null;
  /** @internal operations in flight outside the hub (intrusive list) */
  _operations: Operation | null = null;
  /** @internal when it first ran (ms, `now()` clock), recorded only while durations are measured */
  _ranAt = 0;
  /** @internal the body, cleared at death */
  _fn: ((...args: never[]) => T | PromiseLike<T>) | undefined;
  /** @internal */
  _args: unknown[] | undefined;
  private phase: State = State.New;
  /** FAILED, OBSERVED, ERROR_DELIVERED, BLOCKED. */
  private bits = 0;
  private ident = 0;
  private label: string | null = null;
  /**
   * Rarely needed state, allocated on first use: a pending kill or Timeout, kill bookkeeping, the
   * startLater timer, the spawn site.
   */
  private extra: Extras | null = null;

  /** @internal dead with an exception (a default kill is a success) */
  get _failed(): boolean {
    return (this.bits & FAILED) !== 0;
  }
  /** @internal someone joined, got, linked or waited on this greenlet */
  get _observed(): boolean {
    return (this.bits & OBSERVED) !== 0;
  }
  /** @internal */
  set _observed(_: true) {
    this.bits |= OBSERVED;
  }
  /** @internal its exception was handed to someone (get(), a link, raiseError) */
  get _errorDelivered(): boolean {
    return (this.bits & ERROR_DELIVERED) !== 0;
  }
  /** @internal */
  set _errorDelivered(_: true) {
    this.bits |= ERROR_DELIVERED;
  }

  /**
   * A greenlet that will run `fn(...args)`; not started (see {@link start}).
   *
   * @example
   * ```ts
   * const g = new Greenlet(async (n: number) => n * 2, 21);
   * g.start();
   * await g.get(); // 42
   * ```
   */
  constructor(fn: (...args: never[]) => T | PromiseLike<T>, ...args: unknown[]) {
    super();
    checkFunction('new Greenlet()', 'fn', fn);
    this._fn = fn;
    this._args = args.length === 0 ? NO_ARGS : args;
    this.parent = currentGreenlet() ?? null;
    const hub = getHub();
    if (hub.trackSpawnSites) {
      const site = {};
      Error.captureStackTrace(site, Greenlet);
      this.extras().site = site;
    }
  }

  /** Create a greenlet and start it: same as {@link spawn}. */
  static spawn<A extends unknown[], R>(fn: (...args: A) => R | PromiseLike<R>, ...args: A): Greenlet<R> {
    return spawn(fn, ...args);
  }

  /** Create a greenlet and start it after `ms`: same as {@link spawnLater}. */
  static spawnLater<A extends unknown[], R>(
    ms: number,
    fn: (...args: A) => R | PromiseLike<R>,
    ...args: A
  ): Greenlet<R> {
    return spawnLater(ms, fn, ...args);
  }

  /** Small integer, unique among live greenlets (reused after death). */
  get id(): number {
    if (this.ident === 0) this.ident = freeIds.length !== 0 ? freeIds.pop()! : nextId++;
    return this.ident;
  }

  /** `Greenlet-<id>` unless set. */
  get name(): string {
    return this.label ?? `Greenlet-${this.id}`;
  }
  set name(value: string) {
    checkString('Greenlet.name', 'name', value);
    this.label = value;
  }

  /** True from `start()`/`startLater()` until the greenlet is dead (gevent: false once dead). */
  get started(): boolean {
    return this.phase === State.Scheduled || this.phase === State.Running;
  }

  /**
   * An `AbortSignal` for signal-aware libraries (`fetch`, undici, drivers that take `signal`): it
   * aborts, with the exception as its `reason`, when the greenlet is killed or one of its Timeouts
   * (or `withTimeout` deadlines) fires. Created on first read; once aborted, the next read gives a
   * fresh signal, so a Timeout that was caught does not poison later calls.
   *
   * @example
   * ```ts
   * const g = spawn(async () => {
   *   const res = await db.query('select 1', { signal: getCurrent()!.signal });
   *   return res.rows;
   * });
   * await g.kill(); // the query is aborted through its own signal
   * ```
   */
  get signal(): AbortSignal {
    const extra = this.extras();
    return (extra.controller ??= new AbortController()).signal;
  }

  /** True once the greenlet has finished, or was killed before it started. */
  get dead(): boolean {
    return this.phase === State.Dead;
  }

  /** `new`, `scheduled`, `running`, `waiting` (parked in a hub wait) or `dead`. */
  get state(): GreenletState {
    switch (this.phase) {
      case State.New:
        return 'new';
      case State.Scheduled:
        return 'scheduled';
      case State.Running:
        return (this.bits & BLOCKED) !== 0 ? 'waiting' : 'running';
      default:
        return 'dead';
    }
  }

  /** True when dead (a join would not block). */
  ready(): boolean {
    return this.phase === State.Dead;
  }

  /** True when dead without an exception (a default kill counts as success). */
  successful(): boolean {
    return this.phase === State.Dead && !this._failed;
  }

  /** The return value once dead and successful (a {@link GreenletExit} after a default kill). */
  get value(): T | undefined {
    return this.phase === State.Dead && !this._failed ? (this._result as T) : undefined;
  }

  /** The exception once dead and failed; `undefined` otherwise. */
  get exception(): unknown {
    return this.phase === State.Dead && this._failed ? this._result : undefined;
  }

  /** Where `spawn`/`new Greenlet` was called, when `getHub().trackSpawnSites` was on. */
  get spawnSite(): string | undefined {
    const stack = this.extra?.site?.stack;
    return stack === undefined ? undefined : stack.slice(stack.indexOf('\n') + 1);
  }

  /** Schedule the greenlet to run when the current code next yields. Idempotent. */
  start(): void {
    if (this.phase !== State.New) return;
    const hub = getHub();
    this.becomeLive(hub);
    hub._schedule(this);
  }

  /** Schedule the greenlet to run after `ms` milliseconds. Idempotent. */
  startLater(ms: number): void {
    const delay = checkDelay('Greenlet.startLater()', 'ms', ms);
    if (this.phase !== State.New) return;
    this.becomeLive(getHub());
    this.extras().startTimer = armTimer(runLater, delay, this);
  }

  /**
   * Wait until the greenlet is dead. Resolves `true` when it is, `false` when `timeout` passed first.
   * Never throws the greenlet's error (read `exception`, or use `get()`).
   */
  join(timeout?: number | null): Promise<boolean> {
    const ms = checkTimeout('Greenlet.join()', 'timeout', timeout);
    this._observed = true;
    if (this.phase === State.Dead) return checkpointed(getHub(), RESOLVED_TRUE);
    return this._park<boolean>('join', ms, FireMode.True, false);
  }

  /**
   * The greenlet's value, waiting for it if needed; throws its exception if it failed, or `Timeout`
   * when `timeout` passes (or at once with `block: false`).
   */
  get(opts?: GetOptions): Promise<T> {
    checkOptions('Greenlet.get()', 'opts', opts, GET_OPTIONS);
    const ms = checkTimeout('Greenlet.get()', 'opts.timeout', opts?.timeout);
    if (opts?.block !== undefined) checkBoolean('Greenlet.get()', 'opts.block', opts.block);
    const signal = checkSignal('Greenlet.get()', 'opts.signal', opts?.signal);
    this._observed = true;
    this._errorDelivered = true;
    if (signal?.aborted) return checkpointed(getHub(), Promise.reject(signal.reason));
    if (this.phase === State.Dead) {
      return checkpointed(
        getHub(),
        this._failed ? Promise.reject(this._result) : Promise.resolve(this._result as T),
      );
    }
    const wait = opts?.block === false ? 0 : ms;
    return this._park<T>('get', wait, FireMode.Result, new RejectWith(() => new Timeout(wait)), signal);
  }

  /**
   * Kill the greenlet: if it never started it never runs; if it runs, `exception` (default a
   * {@link GreenletExit}) is raised where it waits — a hub wait, or the patched I/O it awaits — and
   * it unwinds. If it awaits something greenhub cannot see, the kill is kept here instead: once the
   * microtasks of this turn have run, the greenlet is declared dead with `exception`, and its
   * continuation is abandoned (its result discarded, its next checkpoint throws `exception`). With
   * `block` (the default), wait until it is dead, at most `timeout` ms. Killing a dead greenlet does
   * nothing; a non-blocking kill of the current greenlet lands at its next checkpoint.
   */
  kill(opts?: KillOptions): Promise<void> {
    checkOptions('Greenlet.kill()', 'opts', opts, KILL_OPTIONS);
    const ms = checkTimeout('Greenlet.kill()', 'opts.timeout', opts?.timeout);
    if (opts?.block !== undefined) checkBoolean('Greenlet.kill()', 'opts.block', opts.block);
    if (this.phase === State.Dead) return RESOLVED_VOID;
    const exception = makeException(opts?.exception);
    this.extras().killException = exception;
    if (this.phase === State.Running) {
      if (currentGreenlet() === this) {
        // Killing yourself: raised at once when awaited (block), else at the next checkpoint.
        if (opts?.block !== false) return Promise.reject(exception);
        this._setPending(exception, true);
        return RESOLVED_VOID;
      }
      if (!this._deliver(exception)) {
        // It awaits something greenhub does not see: once this turn's microtasks ran, if it still
        // has not met a checkpoint, it is declared dead (fenced) and its continuation abandoned.
        this._setPending(exception, true);
        getHub()._fenceLater(this);
      }
    } else {
      // Never started, or scheduled but not yet run: it dies now and never runs.
      this.settle(!(exception instanceof GreenletExit), exception);
    }
    if (opts?.block === false || (this.phase as State) === State.Dead) return RESOLVED_VOID;
    // Waiting for our own kill to land does not count as observing the outcome.
    return this._park<boolean>('join', ms, FireMode.True, false).then(ignore);
  }

  /** Run `callback(this)` in a new greenlet when this one dies (also if it is dead already). */
  link(callback: (greenlet: this) => unknown): void {
    this.addUserLink(callback, LinkKind.Spawn, 'link');
  }

  /** Like {@link link}, only if this greenlet succeeds. */
  linkValue(callback: (greenlet: this) => unknown): void {
    this.addUserLink(callback, LinkKind.Value, 'linkValue');
  }

  /** Like {@link link}, only if this greenlet fails. */
  linkException(callback: (greenlet: this) => unknown): void {
    this.addUserLink(callback, LinkKind.Exception, 'linkException');
  }

  override rawlink(callback: (greenlet: this) => void): void {
    this.addUserLink(callback, LinkKind.Raw, 'rawlink');
  }

  /** Ready for good once dead: links are notified in place. */
  protected override get handsOverLinks(): boolean {
    return false;
  }

  override toString(): string {
    return this.label === null ? `Greenlet-${this.id}` : `"${this.label}" (Greenlet-${this.id})`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Greenlet<${this.toString()}, ${this.state}>`;
  }

  /** @internal deadlock detection: joining this greenlet depends on this greenlet */
  [kBlockers](): readonly Greenlet[] {
    return this.phase === State.Dead ? [] : [this];
  }

  /** @internal the hub starts the greenlet */
  _run(): void {
    if (this.phase !== State.Scheduled) return;
    this.runFirstSlice(getHub(), false);
  }

  /**
   * @internal Start and run the first slice now, inside the caller's code, where plain Node would
   * have run the body: a request's handler inside `emit('request')` (patch/http-server.ts). No hop
   * through the run queue, and the handler runs at the same point of the event loop as without
   * greenhub.
   */
  _startNow(): void {
    if (this.phase !== State.New) return;
    const hub = getHub();
    this.becomeLive(hub);
    this.runFirstSlice(hub, true);
  }

  /**
   * `eager`: outside the run queue's turn — maybe inside another greenlet's synchronous code, whose
   * context must be back when this slice returns, so through `runAs()`, never the turn's shortcut.
   */
  private runFirstSlice(hub: Hub, eager: boolean): void {
    this.phase = State.Running;
    hub._greenletRuns();
    if (hub._onGreenletEnd !== null) this._ranAt = (eager ? 0 : hub._runClock) || now();
    const segment = hub._onRunSegment;
    if (segment === null) this.enter(hub, eager);
    else {
      const name = this._metricName();
      const t0 = now();
      this.enter(hub, eager);
      segment(name, now() - t0);
    }
  }

  private enter(hub: Hub, eager: boolean): void {
    if (eager) runAs(this, runBody, this);
    else hub._runAs(this, runBody, this);
  }

  /** @internal owner list: a wait begins */
  _addWaiter(waiter: Waiter): void {
    const hub = getHub();
    this._wfirst = linkFirst(this._wfirst, waiter);
    hub._waitParked();
    if ((this.bits & BLOCKED) === 0) this.syncBlocked(hub);
  }

  /** @internal owner list: a wait ended */
  _removeWaiter(waiter: Waiter): void {
    const hub = getHub();
    this._wfirst = unlink(this._wfirst, waiter);
    if (this._wfirst === null) this.syncBlocked(hub);
    hub._waitEnded(this.phase === State.Running);
  }

  /**
   * @internal Interrupt the greenlet with `exception` now, or keep it pending for its next
   * checkpoint when it cannot be delivered (see {@link _deliver}).
   */
  _throw(exception: unknown, isKill: boolean): void {
    if (!this._deliver(exception)) this._setPending(exception, isKill);
  }

  /**
   * @internal Deliver `exception` where the greenlet waits: its parked hub waits fail with it; if
   * it has none, the operations it has in flight (the patched I/O it awaits) are aborted with it.
   * A kill reaches the wait, not the world: operations it started but does not wait in while
   * parked elsewhere, and callback timers, go on (see operation.ts). Returns false when nothing
   * could deliver it (the greenlet awaits something greenhub does not see). Its
   * {@link signal} is aborted either way.
   */
  _deliver(exception: unknown): boolean {
    if (this.phase !== State.Running) return false;
    let delivered = false;
    if (this._wfirst !== null) {
      delivered = true;
      for (let w: Waiter | null = this._wfirst; w !== null; ) {
        const next: Waiter | null = w._next;
        w.fail(exception);
        w = next;
      }
    } else if (this._operations !== null) {
      // An operation that only freed its resource (see operation.ts) does not deliver.
      delivered = abortOperations(this._operations, exception);
    }
    const controller = this.extra?.controller;
    if (controller !== undefined) {
      this.extra!.controller = undefined;
      controller.abort(exception);
    }
    return delivered;
  }

  /** @internal keep `exception` for the next checkpoint; a kill replaces a pending Timeout, never the reverse */
  _setPending(exception: unknown, isKill: boolean): void {
    if (this.phase !== State.Running) return;
    const extra = this.extras();
    if (extra.pendingThrow === NONE) getHub()._pendingThrowSet();
    else if (!isKill) return;
    extra.pendingThrow = exception;
  }

  /**
   * @internal (hub, a turn after an undeliverable kill) Still holding that kill and awaiting
   * something greenhub does not see: declare the greenlet dead now, with the kill, and fence its
   * continuation (fence.ts): when its await resumes, the next checkpoint throws the kill and its
   * result is discarded.
   */
  _fenceIfStillPending(): void {
    const extra = this.extra;
    if (this.phase !== State.Running || extra === null || extra.pendingThrow !== extra.killException) return;
    if (this._wfirst !== null) return;
    extra.abandoned = new AbandonedBody(this);
    getHub()._abandoned(extra.abandoned);
    this.settle(true, extra.pendingThrow);
  }

  /** @internal fence.ts: the context is the greenlet itself */
  get _greenlet(): Greenlet {
    return this;
  }

  /** @internal fence.ts: waits and operations started in this greenlet's context belong to it while it lives */
  _liveOwner(): Greenlet | undefined {
    return this.phase === State.Dead ? undefined : this;
  }

  /** @internal the startLater timer fired */
  _startLaterFired(): void {
    if (this.extra !== null) this.extra.startTimer = undefined;
  }

  /**
   * @internal A greenlet that will run `fn(...args)`, keeping the given args array (the public
   * constructor's rest parameter would copy it); greenlets without arguments share one empty array.
   */
  static _create<R>(fn: (...args: never[]) => R | PromiseLike<R>, args: readonly unknown[]): Greenlet<R> {
    const greenlet = new Greenlet<R>(fn);
    greenlet._args = args.length === 0 ? NO_ARGS : (args as unknown[]);
    return greenlet;
  }

  private extras(): Extras {
    return (this.extra ??= {
      pendingThrow: NONE,
      killException: NONE,
      startTimer: undefined,
      site: undefined,
      controller: undefined,
      abandoned: undefined,
    });
  }

  /** @internal operation.ts */
  _addOperation(operation: Operation): void {
    this._operations = linkFirst(this._operations, operation);
    if ((this.bits & BLOCKED) === 0) this.syncBlocked(getHub());
  }

  /** @internal operation.ts */
  _removeOperation(operation: Operation): void {
    this._operations = unlink(this._operations, operation);
    if (this._operations === null) this.syncBlocked(getHub());
  }

  /** Keep the hub's count of waiting greenlets equal to the live greenlets parked in a wait or an operation. */
  private syncBlocked(hub: Hub): void {
    const blocked = this.phase === State.Running && (this._wfirst !== null || this._operations !== null);
    if (blocked === ((this.bits & BLOCKED) !== 0)) return;
    this.bits ^= BLOCKED;
    hub._greenletBlocked(blocked);
  }

  /** @internal the name greenlet metrics group it under: its name if set, else its function's name */
  _metricName(): string {
    return this.label ?? (this._fn === undefined ? '(finished)' : this._fn.name || '(anonymous)');
  }

  /** @internal the function's name, for run info */
  _functionName(): string {
    return this._fn === undefined ? '(finished)' : this._fn.name || '(anonymous)';
  }

  /** @internal */
  _hasPendingThrow(): boolean {
    return this.extra !== null && this.extra.pendingThrow !== NONE;
  }

  /** @internal deliver the pending throw at a checkpoint */
  _takePendingThrow(): unknown {
    const extra = this.extra!;
    const exception = extra.pendingThrow;
    extra.pendingThrow = NONE;
    getHub()._pendingThrowTaken();
    return exception;
  }

  /** @internal a Timeout was cancelled before its pending throw was delivered; true if it was pending */
  _dropPendingThrow(exception: unknown): boolean {
    if (!this._hasPendingThrow() || this.extra!.pendingThrow !== exception) return false;
    this._takePendingThrow();
    return true;
  }

  /** @internal the body finished */
  _finish(failed: boolean, result: unknown): void {
    if (this.phase === State.Dead) {
      // The continuation of a fenced greenlet settled: its result is discarded.
      const abandoned = this.extra?.abandoned;
      if (abandoned !== undefined) {
        this.extra!.abandoned = undefined;
        if (this._hasPendingThrow()) this._takePendingThrow();
        getHub()._abandonedSettled(abandoned);
      }
      return;
    }
    // A kill or Timeout that fired before the body returned is never lost to a late value.
    if (!failed && this._hasPendingThrow()) this.settle(true, this._takePendingThrow());
    else this.settle(failed, result);
  }

  private addUserLink(callback: (greenlet: this) => unknown, kind: LinkKind, method: string): void {
    checkFunction(`Greenlet.${method}()`, 'callback', callback);
    this._observed = true;
    this._errorDelivered = true;
    this._addLink(new UserLink(callback as (source: never) => unknown, kind));
  }

  private becomeLive(hub: Hub): void {
    if (this.ident === 0) this.ident = freeIds.length !== 0 ? freeIds.pop()! : nextId++;
    this.phase = State.Scheduled;
    hub._greenletStarted(this);
  }

  private settle(failed: boolean, result: unknown): void {
    const previous = this.phase;
    if (previous === State.Dead) return;
    const hub = getHub();
    // gevent: ending with GreenletExit is a success whose value is the GreenletExit.
    if (failed && result instanceof GreenletExit) failed = false;
    if (previous === State.Running && this._ranAt !== 0 && hub._onGreenletEnd !== null)
      hub._onGreenletEnd(this, now() - this._ranAt);
    this.phase = State.Dead;
    if (failed) this.bits |= FAILED;
    this._result = result;
    this._fn = undefined;
    this._args = undefined;
    if (previous !== State.New) {
      const extra = this.extra;
      if (extra?.startTimer !== undefined) {
        disarmTimer(extra.startTimer);
        extra.startTimer = undefined;
      }
      const killed = result instanceof GreenletExit || (extra !== null && result === extra.killException);
      hub._greenletDied(this, previous === State.Scheduled, killed ? 'killed' : failed ? 'error' : 'ok');
      if (failed && !killed) hub._failedLater(this);
    }
    // A fenced greenlet keeps its kill pending for its abandoned continuation's next checkpoint.
    if (this._hasPendingThrow() && this.extra!.abandoned === undefined) this._takePendingThrow();
    const controller = this.extra?.controller;
    if (controller !== undefined && result === this.extra!.killException) {
      this.extra!.controller = undefined;
      controller.abort(result);
    }
    // Whoever acquires releases: Timeouts this greenlet started cannot fire into it any more, and
    // waits it left parked (the loser of a Promise.race) are abandoned.
    while (this._timeouts !== null) this._timeouts.cancel();
    if (this._wfirst !== null) {
      const abandoned = new GreenletExit(`${this} finished while this wait was still parked`);
      while (this._wfirst !== null) this._wfirst.abandon(abandoned);
    }
    // Operations it left in flight keep running (counted by the hub) but are no longer its own.
    while (this._operations !== null) this._removeOperation(this._operations);
    this.syncBlocked(hub);
    if (this.ident !== 0) freeIds.push(this.ident);
    // A dead greenlet forgets its parent, so chains of finished greenlets can be collected.
    this.parent = null;
    this._notifyLinks();
  }
}

function ignore(): void {}

function makeException(exception: unknown): unknown {
  if (exception === undefined) return new GreenletExit();
  if (typeof exception === 'function' && exception.prototype instanceof Error) {
    return new (exception as new () => Error)();
  }
  return exception;
}

function runLater(greenlet: Greenlet): void {
  greenlet._startLaterFired();
  greenlet._run();
}

/**
 * @internal What a greenlet's body returns instead of a promise when something other than the
 * body's own continuation decides when the greenlet ends (http-server.ts: a request's greenlet ends
 * when its response is complete). The greenlet ends at {@link Completion.settle}, with no promise
 * made: on Node 20 every promise made in a greenlet's context pays an async-hooks init, and a
 * request's two (its own and the body's reaction) were a tenth of a hello-world server's CPU.
 */
export class Completion {
  private greenlet: Greenlet | null = null;
  private outcome: { failed: boolean; value: unknown } | null = null;
  private done = false;

  /** @internal runBody: the body of `greenlet` returned this. */
  _bind(greenlet: Greenlet): void {
    if (this.outcome === null) this.greenlet = greenlet;
    else greenlet._finish(this.outcome.failed, this.outcome.value);
  }

  /** End the greenlet with `value` (or failed with it, as a rejected body would); once. */
  settle(failed: boolean, value: unknown): void {
    if (this.done) return;
    this.done = true;
    const greenlet = this.greenlet;
    if (greenlet === null) this.outcome = { failed, value };
    else {
      this.greenlet = null;
      greenlet._finish(failed, value);
    }
  }
}

// The body runs inside runAs(greenlet): the reactions below are registered in the greenlet's async
// context, so they find their greenlet with currentGreenlet() instead of needing two closures each.
function runBody(greenlet: Greenlet): void {
  let result: unknown;
  try {
    result = (greenlet._fn as (...args: unknown[]) => unknown).apply(undefined, greenlet._args!);
  } catch (error) {
    greenlet._finish(true, error);
    return;
  }
  if (result instanceof Promise) result.then(onBodyValue, onBodyError);
  else if (result instanceof Completion) result._bind(greenlet);
  else if (isThenable(result)) Promise.resolve(result).then(onBodyValue, onBodyError);
  else greenlet._finish(false, result);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}

function onBodyValue(value: unknown): void {
  currentGreenlet()!._finish(false, value);
}

function onBodyError(error: unknown): void {
  currentGreenlet()!._finish(true, error);
}

/**
 * Create a greenlet running `fn(...args)` and start it: it runs when the caller next yields, after
 * greenlets spawned before it.
 *
 * @example
 * ```ts
 * const workers = [1, 2, 3].map((n) => spawn(async (i: number) => { await sleep(10 * i); return i; }, n));
 * await joinAll(workers);
 * ```
 */
export function spawn<A extends unknown[], R>(
  fn: (...args: A) => R | PromiseLike<R>,
  ...args: A
): Greenlet<Awaited<R>> {
  const greenlet = Greenlet._create<Awaited<R>>(fn as unknown as (...args: never[]) => Awaited<R>, args);
  greenlet.start();
  return greenlet;
}

/**
 * Like {@link spawn}, for work that must not belong to the current greenlet (a request): the new
 * greenlet has no parent, so it is a root of run info, and nothing it starts is accounted to the
 * caller — a kill of the caller, a `withTimeout` around it or a disconnect never reaches it. Use it
 * for state that outlives the request that first needs it: a memoised configuration, a lazily
 * filled connection pool, a cache refresher.
 *
 * (`spawn` does not tie a child to its parent's fate either — killing a greenlet never kills the
 * greenlets it spawned — but a plain promise started in a request, `config ??= loadConfig()`, is
 * the request's work: its patched I/O is the request's and a kill that reaches it rejects the memo
 * for every later caller. `spawnDetached(loadConfig)` is the form that cannot.)
 *
 * @example
 * ```ts
 * let config: Greenlet<Config> | undefined;
 * async function handler(req, res) {
 *   config ??= spawnDetached(loadConfig); // shared by every request, owned by none
 *   res.end(JSON.stringify(await config.get()));
 * }
 * ```
 */
export function spawnDetached<A extends unknown[], R>(
  fn: (...args: A) => R | PromiseLike<R>,
  ...args: A
): Greenlet<Awaited<R>> {
  const greenlet = Greenlet._create<Awaited<R>>(fn as unknown as (...args: never[]) => Awaited<R>, args);
  greenlet.parent = null;
  greenlet.start();
  return greenlet;
}

/**
 * Like {@link spawn}, but the greenlet starts after `ms` milliseconds.
 *
 * @example
 * ```ts
 * const reminder = spawnLater(5_000, () => console.log('still working…'));
 * await work();
 * await reminder.kill();
 * ```
 */
export function spawnLater<A extends unknown[], R>(
  ms: number,
  fn: (...args: A) => R | PromiseLike<R>,
  ...args: A
): Greenlet<Awaited<R>> {
  const greenlet = Greenlet._create<Awaited<R>>(fn as unknown as (...args: never[]) => Awaited<R>, args);
  greenlet.startLater(ms);
  return greenlet;
}

/**
 * The greenlet running the current code, or `null` in top-level code. Follows `await`.
 *
 * @example
 * ```ts
 * spawn(async () => { await sleep(1); console.log(getCurrent()?.name); });
 * ```
 */
export function getCurrent(): Greenlet | null {
  return currentGreenlet() ?? null;
}

setLinkSpawner((fn, source) => {
  const greenlet = new Greenlet(fn as (...args: never[]) => unknown, source);
  greenlet.start();
});
