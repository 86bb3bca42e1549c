/**
 * The one wrapper pattern every patched async API goes through.
 *
 * Outside a live greenlet, a patched function calls the original with the same `this` and
 * arguments and returns what it returns; nothing else happens. That is the guarantee "operations
 * started outside any greenlet behave exactly as before", bought with one AsyncLocalStorage read.
 *
 * Inside a greenlet, the call is first a checkpoint (a pending kill or Timeout is delivered through
 * the API's own error channel before any work starts), then an operation registered on the
 * greenlet (see greenlet/operation.ts). How an abort reaches the code that waits depends on how the
 * API reports its outcome, its *shape*:
 *
 * - **promise**: the returned promise rejects with the kill's exception at once. The original
 *   gets an `AbortSignal` (when it takes one) so that it stops and frees its resource; a value
 *   that still arrives is freed by `late` (a file handle is closed), an error is dropped.
 * - **callback** (error-first, last argument): the callback receives the exception on the next
 *   tick, once; whatever the original reports later is dropped (or freed).
 * - **emitter** (a socket, a request, a child process): the object is destroyed or killed. The
 *   exception is emitted as its `'error'` only when someone listens for `'error'` (emitting it
 *   otherwise would crash the process); if nobody does, the code waiting on the object resumes on
 *   `'close'`/`'exit'` and meets the exception at its next checkpoint.
 * - **iterator** (`events.on`, `timers/promises.setInterval`): the pending `next()` rejects.
 *
 * Aborts run in the victim greenlet's async context, not the killer's, so that the callbacks and
 * events they cause belong to the greenlet that owned the operation.
 *
 * The exception is the kill's own instance (a `GreenletExit`, or the `Timeout` that fired), never
 * an `AbortError` wrapping it: `withTimeout` recognises its own Timeout, and a greenlet killed in
 * `fetch` dies of the kill (counted as killed), not of an I/O error.
 */
import type { EventEmitter } from 'node:events';
import type { Greenlet } from '../greenlet/greenlet.js';
import {
  checkpoint,
  currentOwner,
  hasPendingThrow,
  registerOperation,
  runAs,
  throwInto,
} from '../greenlet/internal.js';
import { Operation } from '../greenlet/operation.js';
import { promiseFor } from '../internal/settler.js';
import { isReplaced, OWN_KEYS_NOT_CARRIED, replace } from './registry.js';
import type { PatchTarget } from './table.js';

// biome-ignore lint/suspicious/noExplicitAny: wrappers forward any signature unchanged
export type Fn = (this: any, ...args: any[]) => any;

/**
 * `util.promisify.custom`, which Node registers as this global symbol: named here rather than
 * imported, since an ES import of `node:util` makes Node build its ES-module facade, which reads
 * every export of `util` and loads the modules behind its lazy ones (about 3 ms of CPU on Node 24
 * when greenhub loads at a server's first listen).
 */
export const PROMISIFY_CUSTOM: unique symbol = Symbol.for('nodejs.util.promisify.custom') as never;

/** How a patched API takes cancellation and what it does with a late outcome. */
export interface CallSpec {
  /** Operation kind for accounting: `timer`, `fetch`, `net`, `http`, `fs`, `dns`, `child`, `event`, `stream`. */
  readonly kind: string;
  /**
   * Position of the options argument that accepts `signal` (arguments before the callback);
   * `'last'`: an optional trailing options object, as in `pipeline(...streams, options)`.
   */
  readonly signalAt?: number | 'last';
  /** A signal the original would also honour when the options carry none (a `Request`'s). */
  readonly followSignal?: (args: unknown[]) => unknown;
  /** A string in the options position means `{ encoding }` (fs). */
  readonly encodingOption?: boolean;
  /**
   * The original only reads `signal.aborted` while it works and keeps no hold on the signal once it
   * has reported (fs `readFile`/`writeFile`): a signal that was not aborted is handed to a later call
   * instead of a new `AbortController` per call (see {@link Call.takeReusableSignal}).
   */
  readonly reuseSignal?: boolean;
  /** Run the original (default `Reflect.apply`); may set `call.free` or `call.data`. */
  readonly invoke?: (original: Fn, self: unknown, args: unknown[], call: Call) => unknown;
  /** Free a value that arrived after the abort (close a file handle). */
  readonly late?: (value: unknown) => void;
  /** The original succeeded (promise shape), before the caller sees `value`. */
  readonly resolved?: (value: unknown, call: Call) => void;
  /** The underlying work settled, aborted or not. */
  readonly settled?: (call: Call) => void;
}

const NOT_ABORTED: unique symbol = Symbol('not aborted');

/**
 * Controllers of finished calls whose signal was never aborted, for the next call of a
 * {@link CallSpec.reuseSignal} API: an `AbortController` costs several microseconds to create on
 * Node 20. Each is held by one call at a time, so aborting it still reaches that call alone.
 */
const idleControllers: AbortController[] = [];
const MAX_IDLE_CONTROLLERS = 64;

/**
 * The greenlet a patched call belongs to: the current one while alive, else `undefined` (top
 * level, leftovers of a dead greenlet, an abandoned continuation: see greenlet/fence.ts).
 */
export function liveGreenlet(): Greenlet | undefined {
  return currentOwner();
}

/** A patched call in flight: an operation plus what it needs to stop and to deliver. */
export abstract class Call extends Operation {
  /** The kill's exception once aborted. */
  reason: unknown = NOT_ABORTED;
  /** Extra work to free the resource on abort (cancel a query, kill a child). */
  free: ((reason: unknown) => void) | null = null;
  /** Per-API state (a private resolver…). */
  data: unknown = undefined;
  private controller: AbortController | null = null;
  /** `controller` came from {@link idleControllers} and goes back there when the call finishes. */
  private reused = false;
  private userSignal: AbortSignal | null = null;
  private onUserAbort: (() => void) | null = null;

  constructor(kind: string, greenlet: Greenlet, weak = false) {
    super(kind, greenlet, abortCall, weak);
  }

  get aborted(): boolean {
    return this.reason !== NOT_ABORTED;
  }

  /** The signal handed to the original; created on first use. */
  get signal(): AbortSignal {
    return (this.controller ??= new AbortController()).signal;
  }

  /**
   * The signal to hand an original that lets go of it once it reports (see
   * {@link CallSpec.reuseSignal}): an idle one if there is, given back by {@link finish} unless it
   * was aborted. Takes it from the idle ones: call it once per call.
   */
  takeReusableSignal(): AbortSignal {
    this.reused = true;
    return (this.controller = idleControllers.pop() ?? new AbortController()).signal;
  }

  /**
   * Abort the signal handed to the original after the operation ended: a fetch whose body is still
   * being read.
   */
  abortSignal(reason: unknown): void {
    if (!this.reused) this.controller?.abort(reason);
  }

  /** Also abort when the caller's own signal does (its reason, its AbortError: as before). */
  follow(signal: AbortSignal): void {
    this.userSignal = signal;
    this.onUserAbort = () => {
      this.controller?.abort(signal.reason);
    };
    signal.addEventListener('abort', this.onUserAbort);
  }

  /** The work is over: stop tracking. */
  finish(): void {
    this.end();
    this.unfollow();
    if (this.reused) {
      this.reused = false;
      const controller = this.controller!;
      this.controller = null;
      if (!controller.signal.aborted && idleControllers.length < MAX_IDLE_CONTROLLERS)
        idleControllers.push(controller);
    }
  }

  /** Make whoever waits see `reason`; `false` when that cannot be done (see the shapes). */
  abstract deliver(reason: unknown): boolean;

  /** @internal runs in the greenlet's context */
  _stop(): boolean {
    const reason = this.reason;
    // A reused controller is aborted here and so never handed out again.
    this.reused = false;
    this.controller?.abort(reason);
    this.free?.(reason);
    this.unfollow();
    return this.deliver(reason);
  }

  private unfollow(): void {
    if (this.userSignal !== null) {
      this.userSignal.removeEventListener('abort', this.onUserAbort!);
      this.userSignal = null;
      this.onUserAbort = null;
    }
  }
}

function abortCall(this: Call, reason: unknown): boolean {
  this.reason = reason;
  return runAs(this.greenlet!, stopCall, this);
}

function stopCall(call: Call): boolean {
  return call._stop();
}

/** Deliver `greenlet`'s pending kill/Timeout through an operation registered just now. */
function throwPendingLater(greenlet: Greenlet): void {
  process.nextTick(throwPending, greenlet);
}

function throwPending(greenlet: Greenlet): void {
  const pending = checkpoint();
  if (pending !== undefined) throwInto(greenlet, pending.error, true);
}

// ---------------------------------------------------------------------------------------------
// Signal injection

function isOptionsBag(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<PropertyKey, unknown>;
  return (
    typeof v.pipe !== 'function' &&
    typeof v.on !== 'function' &&
    typeof v.getReader !== 'function' &&
    typeof v.getWriter !== 'function' &&
    typeof v[Symbol.iterator] !== 'function' &&
    typeof v[Symbol.asyncIterator] !== 'function'
  );
}

/**
 * `args` with the call's signal in the options argument (copied, never mutated). Arguments the
 * original may reject (a number where options go, an already aborted signal, `null`, which some
 * originals take for no options and others refuse) are left as they are, so the original behaves
 * exactly as before.
 */
function withSignal(args: unknown[], spec: CallSpec, call: Call, hasCallback: boolean): unknown[] {
  const n = hasCallback ? args.length - 1 : args.length;
  let at: number;
  if (spec.signalAt === 'last') at = n > 0 && isOptionsBag(args[n - 1]) ? n - 1 : n;
  else at = spec.signalAt!;
  // Optional arguments before the options were left out (`setInterval(ms)`): fill them in.
  if (at > n && hasCallback) return args;
  const given = at < n ? args[at] : undefined;
  let options: Record<string, unknown>;
  if (given === undefined) options = {};
  else if (typeof given === 'string' && spec.encodingOption) options = { encoding: given };
  else if (typeof given === 'object' && given !== null && !Array.isArray(given))
    options = { ...(given as object) };
  else return args;
  let userSignal = options.signal;
  if ((userSignal === undefined || userSignal === null) && spec.followSignal !== undefined)
    userSignal = spec.followSignal(args);
  if (userSignal !== undefined && userSignal !== null) {
    if (!(userSignal instanceof AbortSignal) || userSignal.aborted) return args;
    call.follow(userSignal);
  }
  options.signal = spec.reuseSignal === true ? call.takeReusableSignal() : call.signal;
  const next = args.slice();
  if (at < n) next[at] = options;
  else if (at === n) next.splice(at, 0, options);
  else next[at] = options;
  return next;
}

const slice = Array.prototype.slice;

function invoke(spec: CallSpec, original: Fn, self: unknown, args: unknown[], call: Call): unknown {
  try {
    return spec.invoke === undefined
      ? Reflect.apply(original, self, args)
      : spec.invoke(original, self, args, call);
  } catch (error) {
    call.finish();
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Shapes

class PromiseCall extends Call {
  resolve!: (value: unknown) => void;
  reject!: (error: unknown) => void;
  constructor(
    greenlet: Greenlet,
    private readonly spec: CallSpec,
  ) {
    super(spec.kind, greenlet);
  }
  deliver(reason: unknown): boolean {
    this.reject(reason);
    return true;
  }
  settle(outcome: unknown): Promise<unknown> {
    const promise = promiseFor(this);
    Promise.resolve(outcome).then(
      (value) => {
        this.spec.settled?.(this);
        if (this.aborted) this.spec.late?.(value);
        else {
          this.finish();
          this.spec.resolved?.(value, this);
          this.resolve(value);
        }
      },
      (error: unknown) => {
        this.spec.settled?.(this);
        if (this.aborted) return;
        this.finish();
        this.reject(error);
      },
    );
    return promise;
  }
}

/** Wrap a promise-returning API (see the module comment). */
export function promiseApi(spec: CallSpec, original: Fn): Fn {
  // The wrappers read `arguments`, not a rest parameter: outside a greenlet they forward the
  // arguments to the original without building an array.
  return function patched(this: unknown): unknown {
    // The checkpoint comes first: an abandoned continuation (greenlet/fence.ts) meets its pending
    // exception here even though it belongs to no live greenlet any more.
    const pending = checkpoint();
    if (pending !== undefined) return Promise.reject(pending.error);
    const greenlet = liveGreenlet();
    // biome-ignore lint/complexity/noArguments: see above
    if (greenlet === undefined) return Reflect.apply(original, this, arguments);
    // biome-ignore lint/complexity/noArguments: see above
    const args: unknown[] = slice.call(arguments);
    const call = registerOperation(new PromiseCall(greenlet, spec));
    const callArgs = spec.signalAt === undefined ? args : withSignal(args, spec, call, false);
    return call.settle(invoke(spec, original, this, callArgs, call));
  };
}

class CallbackCall extends Call {
  constructor(
    greenlet: Greenlet,
    private readonly spec: CallSpec,
    private readonly callback: Fn,
  ) {
    super(spec.kind, greenlet);
  }
  deliver(reason: unknown): boolean {
    process.nextTick(this.callback, reason);
    return true;
  }
  /** The original reported: pass it on, unless the call was aborted. */
  report(self: unknown, results: unknown[]): void {
    this.spec.settled?.(this);
    if (this.aborted) {
      if (results[0] === null || results[0] === undefined) this.spec.late?.(results[1]);
      return;
    }
    this.finish();
    Reflect.apply(this.callback, self, results);
  }
}

/** Wrap an API whose last argument is an error-first callback (see the module comment). */
export function callbackApi(spec: CallSpec, original: Fn): Fn {
  // `arguments`: see promiseApi.
  return function patched(this: unknown): unknown {
    // biome-ignore lint/complexity/noArguments: see above
    const callback: unknown = arguments[arguments.length - 1];
    // biome-ignore lint/complexity/noArguments: see above
    if (typeof callback !== 'function') return Reflect.apply(original, this, arguments);
    const pending = checkpoint();
    if (pending !== undefined) {
      process.nextTick(callback as Fn, pending.error);
      return undefined;
    }
    const greenlet = liveGreenlet();
    // biome-ignore lint/complexity/noArguments: see above
    if (greenlet === undefined) return Reflect.apply(original, this, arguments);
    // biome-ignore lint/complexity/noArguments: see above
    const args: unknown[] = slice.call(arguments);
    const call = registerOperation(new CallbackCall(greenlet, spec, callback as Fn));
    const callArgs = spec.signalAt === undefined ? args : withSignal(args, spec, call, true);
    callArgs[callArgs.length - 1] = function reported(this: unknown, ...results: unknown[]): void {
      call.report(this, results);
    };
    return invoke(spec, original, this, callArgs, call);
  };
}

type Stop<E> = (emitter: E, reason: unknown) => void;

class EmitterCall<E extends EventEmitter> extends Call {
  constructor(
    kind: string,
    greenlet: Greenlet,
    private readonly emitter: E,
    private readonly stop: Stop<E>,
  ) {
    super(kind, greenlet);
  }
  deliver(reason: unknown): boolean {
    const listening = this.emitter.listenerCount('error') > 0;
    this.stop(this.emitter, listening ? reason : undefined);
    return listening;
  }
}

/**
 * Track an emitter-shaped operation of `greenlet` until one of `endEvents`: on abort, `stop` is
 * called with the exception to emit as `'error'`, or `undefined` when nobody listens for it.
 */
export function trackEmitter<E extends EventEmitter>(
  kind: string,
  greenlet: Greenlet,
  emitter: E,
  endEvents: readonly string[],
  stop: Stop<E>,
): void {
  const call = new EmitterCall(kind, greenlet, emitter, stop);
  const ended = (): void => {
    call.finish();
    for (const event of endEvents) emitter.removeListener(event, ended);
  };
  for (const event of endEvents) emitter.on(event, ended);
  registerOperation(call);
  if (hasPendingThrow(greenlet)) throwPendingLater(greenlet);
}

class IteratorCall extends Call {
  constructor(greenlet: Greenlet, spec: CallSpec) {
    super(spec.kind, greenlet);
  }
  deliver(): boolean {
    return true;
  }
  wrap(iterator: AsyncIterator<unknown>): AsyncIterableIterator<unknown> {
    const call = this;
    const fail = (error: unknown): never => {
      call.finish();
      throw call.aborted ? call.reason : error;
    };
    const passed = (result: IteratorResult<unknown>): IteratorResult<unknown> => {
      if (result.done) call.finish();
      return result;
    };
    return {
      next(...args: [] | [unknown]): Promise<IteratorResult<unknown>> {
        if (call.aborted) return Promise.reject(call.reason);
        return iterator.next(...args).then(passed, fail);
      },
      return(value?: unknown): Promise<IteratorResult<unknown>> {
        call.finish();
        return iterator.return === undefined
          ? Promise.resolve({ done: true, value })
          : iterator.return(value);
      },
      throw(error?: unknown): Promise<IteratorResult<unknown>> {
        call.finish();
        return iterator.throw === undefined ? Promise.reject(error) : iterator.throw(error);
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }
}

/** Wrap an API returning an async iterator that takes a signal (see the module comment). */
export function iteratorApi(spec: CallSpec, original: Fn): Fn {
  // `arguments`: see promiseApi.
  return function patched(this: unknown): unknown {
    const greenlet = liveGreenlet();
    // biome-ignore lint/complexity/noArguments: see above
    if (greenlet === undefined) return Reflect.apply(original, this, arguments);
    // biome-ignore lint/complexity/noArguments: see above
    const args: unknown[] = slice.call(arguments);
    const call = registerOperation(new IteratorCall(greenlet, spec));
    const iterator = invoke(spec, original, this, withSignal(args, spec, call, false), call);
    const pending = checkpoint();
    if (pending !== undefined) throwInto(greenlet, pending.error, true);
    return call.wrap(iterator as AsyncIterator<unknown>);
  };
}

// ---------------------------------------------------------------------------------------------
// Installing wrappers

/**
 * Give `wrapper` the original's `name`, `length` and own properties (`realpath.native`, the
 * `customPromisifyArgs` symbol that makes `util.promisify(fs.read)` resolve to an object…), except
 * those the wrapper defines itself (a patched `util.promisify.custom`).
 */
export function dressAs<F extends Fn>(wrapper: F, original: Fn): F {
  Object.defineProperty(wrapper, 'name', { value: original.name, configurable: true });
  Object.defineProperty(wrapper, 'length', { value: original.length, configurable: true });
  for (const key of Reflect.ownKeys(original)) {
    if (OWN_KEYS_NOT_CARRIED.has(key) || Object.hasOwn(wrapper, key)) continue;
    Object.defineProperty(wrapper, key, Object.getOwnPropertyDescriptor(original, key)!);
  }
  return wrapper;
}

/**
 * Replace each `object[name]` that is a function with `wrap(original)` (dressed as the original),
 * recording originals under `target`. Missing names (an API this Node version lacks) and names
 * already patched are skipped. Returns the names replaced.
 */
export function wrapFunctions(
  target: PatchTarget,
  object: object,
  names: readonly string[],
  wrap: (original: Fn, name: string) => Fn,
): string[] {
  const done: string[] = [];
  for (const name of names) {
    const original = (object as Record<string, unknown>)[name];
    if (typeof original !== 'function' || isReplaced(object, name)) continue;
    if (replace(target, object, name, dressAs(wrap(original as Fn, name), original as Fn))) done.push(name);
  }
  return done;
}
