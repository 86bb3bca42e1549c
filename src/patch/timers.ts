/**
 * `patchTimers()`: `setTimeout`/`setInterval` (global and `node:timers`), their `clear*`, and
 * `node:timers/promises` (`setTimeout`, `setImmediate`, `setInterval`).
 *
 * - A promise timer started in a greenlet (`await setTimeout(60_000)` from `timers/promises`, or
 *   `util.promisify(setTimeout)`) is cleared by a kill or Timeout and rejects with it.
 * - A callback timer started in a greenlet is accounted to it (run info, pending operations) but a
 *   kill does not clear it: a `setTimeout`/`setInterval` started by a request outlives the request,
 *   as on plain Node (a *weak* operation, see greenlet/operation.ts). The one exception is a timer
 *   that is the greenlet's wait: when nothing else can deliver the kill and a timer's callback is a
 *   promise's resolve function (`new Promise((r) => setTimeout(r, ms))`, the usual sleep), that
 *   promise is made to reject with the kill and the timer is cleared.
 * - An unref'd timer is background work by declaration (undici's clock, a cache sweep): a kill
 *   never touches it.
 * - Outside a greenlet every function is the original's behaviour, untouched.
 *
 * The wrappers call the functions they replaced (the registry's originals), not the hub's private
 * `natives`, so that a fake-timer library installed before the patch keeps working.
 */
import type { Greenlet } from '../greenlet/greenlet.js';
import { checkpoint, registerOperation } from '../greenlet/internal.js';
import { Operation } from '../greenlet/operation.js';
import { promiseFor } from '../internal/settler.js';
import {
  dressAs,
  type Fn,
  iteratorApi,
  liveGreenlet,
  PROMISIFY_CUSTOM,
  promiseApi,
  wrapFunctions,
} from './call.js';
import { builtin, replace } from './registry.js';
import { TIMER_FUNCTIONS } from './surface.js';

type Handle = ReturnType<typeof setTimeout>;
type TimerHost = Record<PropertyKey, unknown>;

const kCall = Symbol('greenhub timer operation');
/** Timers whose numeric id was taken (`+setTimeout(…)`), so that `clearTimeout(id)` ends them. */
const byId = new Map<number, TimerCall>();

/** A callback timer started by a greenlet: weak, see the module comment. */
class TimerCall extends Operation {
  handle: Handle | undefined = undefined;
  id = 0;
  constructor(
    greenlet: Greenlet,
    readonly callback: Fn,
    readonly args: unknown[] | undefined,
    readonly repeat: boolean,
  ) {
    super('timer', greenlet, abortTimer, true);
  }

  override end(): void {
    if (this.id !== 0) byId.delete(this.id);
    super.end();
  }

  cancel(): void {
    clearTimer(this.handle);
  }
}

/** The original `clearTimeout` (it clears intervals too), set by `patchTimers()`. */
let clearTimer: Fn = clearTimeout;

function abortTimer(this: TimerCall, reason: unknown): boolean {
  const handle = this.handle!;
  if (!handle.hasRef() || !looksLikeResolve(this.callback)) return false;
  this.cancel();
  const rejected = Promise.reject(reason);
  rejected.catch(ignore);
  this.callback(rejected);
  return true;
}

const nativeCode = Function.prototype.toString;

/**
 * A promise's resolve (or reject) function: built-in, anonymous, one parameter. Checked only when
 * a kill has no other way to reach the greenlet.
 */
function looksLikeResolve(fn: Fn): boolean {
  return (
    fn.name === '' &&
    fn.length === 1 &&
    !Object.hasOwn(fn, 'prototype') &&
    nativeCode.call(fn) === 'function () { [native code] }'
  );
}

function ignore(): void {}

/** The timer fired (`this` is Node's handle, which carries its call). */
function fire(this: TimerHost): void {
  const call = this[kCall] as TimerCall;
  if (!call.repeat) call.end();
  const args = call.args;
  if (args === undefined) call.callback.call(this);
  else Reflect.apply(call.callback, this, args);
}

function makeSetTimer(original: Fn, repeat: boolean): Fn {
  // `arguments`, not a rest parameter: most calls pass no extra arguments, and the outside-a-greenlet
  // path must forward them unchanged without building an array.
  return function setTimer(this: unknown, callback: unknown, delay?: unknown): unknown {
    const greenlet = liveGreenlet();
    if (greenlet === undefined || typeof callback !== 'function') {
      // biome-ignore lint/complexity/noArguments: see above
      return Reflect.apply(original, this, arguments);
    }
    // biome-ignore lint/complexity/noArguments: see above
    const args = arguments.length > 2 ? Array.prototype.slice.call(arguments, 2) : undefined;
    const call = new TimerCall(greenlet, callback as Fn, args, repeat);
    const handle = original(fire, delay) as Handle;
    call.handle = handle;
    (handle as unknown as TimerHost)[kCall] = call;
    registerOperation(call);
    return handle;
  };
}

function callOf(handle: unknown): TimerCall | undefined {
  if (typeof handle === 'object' && handle !== null)
    return (handle as TimerHost)[kCall] as TimerCall | undefined;
  if (typeof handle === 'number' || typeof handle === 'string') return byId.get(Number(handle));
  return undefined;
}

// The wrappers below forward `arguments` rather than a rest parameter: Node's own streams call
// `clearTimeout` twice per HTTP request (`socket.setTimeout()`, as a request arrives and as its
// response finishes), and that call must not build an array.
function makeClearTimer(original: Fn): Fn {
  return function clearTimer(this: unknown, handle?: unknown): unknown {
    callOf(handle)?.end();
    // biome-ignore lint/complexity/noArguments: see above
    return Reflect.apply(original, this, arguments);
  };
}

/** `Timeout.prototype.close()` and `[Symbol.dispose]()` clear without going through `clearTimeout`. */
function makeHandleClose(original: Fn): Fn {
  return function close(this: TimerHost): unknown {
    (this[kCall] as TimerCall | undefined)?.end();
    // biome-ignore lint/complexity/noArguments: see above
    return Reflect.apply(original, this, arguments);
  };
}

function makeToPrimitive(original: Fn): Fn {
  return function toPrimitive(this: TimerHost, ...args: unknown[]): unknown {
    const id = Reflect.apply(original, this, args) as number;
    const call = this[kCall] as TimerCall | undefined;
    if (call !== undefined && !call.done) {
      call.id = id;
      byId.set(id, call);
    }
    return id;
  };
}

/** A promise timer: cleared and rejected by a kill (not weak). */
class SleepCall extends Operation {
  handle: unknown = undefined;
  resolve!: (value: unknown) => void;
  reject!: (error: unknown) => void;
  constructor(
    greenlet: Greenlet,
    readonly clear: Fn,
  ) {
    super('timer', greenlet, abortSleep);
  }
}

function abortSleep(this: SleepCall, reason: unknown): boolean {
  this.clear(this.handle);
  this.reject(reason);
  return true;
}

function wake(call: SleepCall, value: unknown): void {
  call.end();
  call.resolve(value);
}

/**
 * `timers/promises.setTimeout`/`setImmediate` in a greenlet without options: one timer and one
 * promise, like the original. With options (a `signal`, `ref: false`), or a first argument the
 * original validates (`accepts` false: a delay that is not a number), the original runs with the
 * greenlet's signal added.
 */
function makeSleep(
  original: Fn,
  arm: (call: SleepCall, first: unknown, second: unknown) => unknown,
  clear: Fn,
  optionsAt: number,
  accepts: (first: unknown) => boolean,
): Fn {
  const withOptions = promiseApi({ kind: 'timer', signalAt: optionsAt }, original);
  // `arguments`, not a rest parameter: the outside-a-greenlet path forwards them without an array.
  return function sleep(this: unknown, first?: unknown, second?: unknown): unknown {
    const pending = checkpoint(); // first: see promiseApi
    if (pending !== undefined) return Promise.reject(pending.error);
    const greenlet = liveGreenlet();
    // biome-ignore lint/complexity/noArguments: see above
    if (greenlet === undefined) return Reflect.apply(original, this, arguments);
    // biome-ignore lint/complexity/noArguments: see above
    if (arguments.length > optionsAt || !accepts(first)) return Reflect.apply(withOptions, this, arguments);
    const call = registerOperation(new SleepCall(greenlet, clear));
    const promise = promiseFor(call);
    call.handle = arm(call, first, second);
    return promise;
  };
}

function isDelay(value: unknown): boolean {
  return typeof value === 'number' || value === undefined;
}

function anyValue(): boolean {
  return true;
}

/** Patch timers (see the module comment). Returns what it replaced. */
export function patchTimers(): string[] {
  const timers = builtin<TimerHost>('timers');
  const promises = builtin<TimerHost>('timers/promises');
  const setTimeout0 = timers.setTimeout as Fn;
  const clearTimeout0 = timers.clearTimeout as Fn;
  clearTimer = clearTimeout0;
  const setImmediate0 = timers.setImmediate as Fn;
  const clearImmediate0 = timers.clearImmediate as Fn;
  const done: string[] = [];
  const sleepTimeout = makeSleep(
    promises.setTimeout as Fn,
    (call, delay, value) => setTimeout0(wake, delay, call, value),
    clearTimeout0,
    2,
    isDelay,
  );
  const sleepImmediate = makeSleep(
    promises.setImmediate as Fn,
    (call, value) => setImmediate0(wake, call, value),
    clearImmediate0,
    1,
    anyValue,
  );
  const promised: Record<string, Fn> = {
    setTimeout: sleepTimeout,
    setImmediate: sleepImmediate,
    setInterval: iteratorApi({ kind: 'timer', signalAt: 2 }, promises.setInterval as Fn),
  };
  for (const name of wrapFunctions(
    'timers',
    promises,
    TIMER_FUNCTIONS['timers/promises'],
    (_, n) => promised[n]!,
  ))
    done.push(`timers/promises.${name}`);

  const wrap = (original: Fn, name: string): Fn => {
    switch (name) {
      case 'setTimeout': {
        // util.promisify(setTimeout) must give the patched promise timer, not the original's.
        const patched = makeSetTimer(original, false);
        Object.defineProperty(patched, PROMISIFY_CUSTOM, { value: sleepTimeout, configurable: true });
        return patched;
      }
      case 'setInterval':
        return makeSetTimer(original, true);
      default:
        return makeClearTimer(original);
    }
  };
  for (const [host, label] of [
    [globalThis, 'globalThis'],
    [timers, 'timers'],
  ] as const) {
    for (const name of wrapFunctions('timers', host, TIMER_FUNCTIONS.timers, wrap))
      done.push(`${label}.${name}`);
  }

  const handle = setTimeout0(ignore, 0) as Handle;
  clearTimeout0(handle);
  const proto = Object.getPrototypeOf(handle) as TimerHost;
  if (
    typeof proto.close === 'function' &&
    replace('timers', proto, 'close', makeHandleClose(proto.close as Fn))
  )
    done.push('Timeout.close');
  if (typeof proto[Symbol.dispose] === 'function') {
    const original = proto[Symbol.dispose] as Fn;
    if (replace('timers', proto, Symbol.dispose, dressAs(makeHandleClose(original), original)))
      done.push('Timeout[Symbol.dispose]');
  }
  const toPrimitive = proto[Symbol.toPrimitive] as Fn | undefined;
  if (toPrimitive !== undefined && replace('timers', proto, Symbol.toPrimitive, makeToPrimitive(toPrimitive)))
    done.push('Timeout[Symbol.toPrimitive]');
  return done;
}
