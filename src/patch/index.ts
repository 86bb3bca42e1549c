/**
 * greenhub/patch: make Node's core async I/O greenlet-aware without changing the application —
 * gevent's `monkey.patch_all()`, translated.
 *
 * In Node, I/O is already asynchronous; what existing code lacks is what greenlets give: an
 * operation started by a greenlet dies with it. After `patchAll()`, a timer, fetch, socket
 * connection, http request, dns query, fs call, child process, `events.once` or `stream/promises`
 * wait started inside a greenlet is accounted to it (run info, `getHub().stats().operations`) and
 * stopped, with its resource freed, when the greenlet is killed or its Timeout fires. Outside any
 * greenlet every patched function behaves exactly as the original. Each patch module's comment
 * says exactly what it does; the README lists them.
 *
 * @example
 * ```ts
 * import { patchAll } from 'greenhub/patch';
 * patchAll({ blocking: 'warn', http: { requestTimeout: 30_000, maxConcurrency: 256 } });
 * ```
 */
import { isMainThread } from 'node:worker_threads';
import { isThreadPatched } from '../internal/thread-mode.js';
import { checkDelay, checkOptions, checkString, rangeError, typeError } from '../internal/validate.js';
import { type BlockingMode, configureBlocking, patchBlocking as patchBlockingCalls } from './blocking.js';
import { patchChildProcess as patchChildProcessModule } from './child-process.js';
import { patchDns as patchDnsModule, rebindDns } from './dns.js';
import { patchEvents as patchEventsModule } from './events.js';
import { patchFetch as patchFetchGlobal } from './fetch.js';
import { patchFs as patchFsModule } from './fs.js';
import { patchHttpClient } from './http.js';
import {
  checkHttpServerOptions,
  configureHttpServer,
  type HttpServerOptions,
  patchHttpServer,
  resetHttpServer,
} from './http-server.js';
import { findLateCaptures, type LateCapture, lateWarning } from './late.js';
import { patchNet as patchNetModule } from './net.js';
import {
  builtin,
  isReplaced,
  isTargetPatched,
  markPatched,
  originalOf,
  PATCH_TARGETS,
  type PatchTarget,
  restore,
  syncEsm,
} from './registry.js';
import { checkSignalOptions, installSignal, type SignalOptions, unpatchSignal } from './signal.js';
import { patchStream as patchStreamModule } from './stream.js';
import { patchThread as setThreadMode, unpatchThread } from './thread.js';
import { patchTimers as patchTimersModule } from './timers.js';

export { BlockingCallError } from '../errors.js';
export { onShutdown } from '../internal/shutdown-hooks.js';
export {
  BLOCKING_FUNCTIONS,
  type BlockingMode,
  type BlockingReport,
  type BlockingStats,
  blockingStats,
  onBlockingCall,
} from './blocking.js';
export { CHILD_PROCESS_FUNCTIONS } from './child-process.js';
export { DNS_FUNCTIONS } from './dns.js';
export { EVENTS_FUNCTIONS } from './events.js';
export { FETCH_FUNCTIONS } from './fetch.js';
export { FS_FUNCTIONS } from './fs.js';
export { HTTP_CLIENT_FUNCTIONS } from './http.js';
export { HTTP_SERVER_FUNCTIONS, type HttpServerOptions } from './http-server.js';
export type { LateCapture } from './late.js';
export { NET_FUNCTIONS } from './net.js';
export type { PatchTarget } from './registry.js';
export { type ShutdownOptions, SIGNAL_FUNCTIONS, type SignalOptions, shutdown } from './signal.js';
export { STREAM_FUNCTIONS } from './stream.js';
export { TIMER_FUNCTIONS } from './timers.js';

/**
 * Options of {@link patchAll}: each target on (the default) or off, plus its settings.
 *
 * @example
 * ```ts
 * const opts: PatchOptions = { signal: false, http: { maxConcurrency: 64 }, blocking: 'throw' };
 * patchAll(opts);
 * ```
 */
export interface PatchOptions {
  /** `setTimeout`/`setInterval` and `timers/promises`. */
  timers?: boolean;
  /** The global `fetch` and reading its response bodies. */
  fetch?: boolean;
  /** Socket connection (`net`, `tls`). */
  net?: boolean;
  /** `http`/`https` clients, and servers (a greenlet per request); an object sets server options. */
  http?: boolean | HttpServerOptions;
  /** `dns` and `dns/promises` queries. */
  dns?: boolean;
  /** Path-level `fs` and `fs/promises` functions. */
  fs?: boolean;
  /** `spawn`, `fork`, `exec`, `execFile`. */
  childProcess?: boolean;
  /** `events.once`, `events.on`. */
  events?: boolean;
  /** `stream/promises` `pipeline`, `finished`. */
  stream?: boolean;
  /** Graceful shutdown on SIGTERM/SIGINT; an object sets its timings. */
  signal?: boolean | SignalOptions;
  /** `Thread`s run as greenlets (default) or, with `false`, as real worker threads. */
  thread?: boolean;
  /** Time synchronous calls: report slow ones (`'warn'`, default), count them, throw, or `false`. */
  blocking?: BlockingMode | false;
  /** The limit for blocking calls, in ms (default 100). */
  maxBlockingTime?: number;
}

const PATCH_OPTIONS = [...PATCH_TARGETS, 'maxBlockingTime'] as const;
const BLOCKING_MODES: readonly (BlockingMode | false)[] = ['warn', 'count', 'throw', false];

/**
 * What a patch call did.
 *
 * @example
 * ```ts
 * const { patched, functions, unreachable } = patchAll();
 * console.log(`${patched.length} targets, ${functions.length} functions`);
 * ```
 */
export interface PatchReport {
  /** Targets this call patched. */
  patched: PatchTarget[];
  /** Targets that were patched already: left in place (their options updated). */
  alreadyPatched: PatchTarget[];
  /** Targets turned off by the options, or that do not apply (signal, blocking in a worker thread). */
  skipped: PatchTarget[];
  /** Every function this call replaced, as `module.name` (`fs/promises.readFile`, `globalThis.fetch`). */
  functions: string[];
  /**
   * A late `patchAll()` (not from `greenhub/register`): loaded CommonJS modules that had copied
   * patched functions before the patch, and so keep the originals. Also printed once as a warning.
   */
  unreachable: LateCapture[];
}

function newReport(): PatchReport {
  return { patched: [], alreadyPatched: [], skipped: [], functions: [], unreachable: [] };
}

type Patcher = () => string[];

function apply(report: PatchReport, target: PatchTarget, patcher: Patcher): void {
  if (isTargetPatched(target)) {
    patcher(); // idempotent: updates settings, replaces nothing twice
    report.alreadyPatched.push(target);
    return;
  }
  report.functions.push(...patcher());
  report.patched.push(target);
}

function finish(report: PatchReport): PatchReport {
  syncEsm();
  return report;
}

function single(target: PatchTarget, patcher: Patcher): PatchReport {
  const report = newReport();
  apply(report, target, patcher);
  return finish(report);
}

function checkBlockingMode(where: string, name: string, mode: unknown): BlockingMode | false {
  if (!BLOCKING_MODES.includes(mode as BlockingMode | false))
    throw (typeof mode === 'string' || typeof mode === 'boolean' ? rangeError : typeError)(
      where,
      name,
      "'warn', 'count', 'throw' or false",
      mode,
    );
  return mode as BlockingMode | false;
}

function checkSwitch(where: string, name: string, value: unknown, objectOk: boolean): boolean {
  if (value === undefined || typeof value === 'boolean') return value !== false;
  if (objectOk && typeof value === 'object' && value !== null) return true;
  throw typeError(where, `opts.${name}`, objectOk ? 'a boolean or an options object' : 'a boolean', value);
}

/**
 * Patch timers (global, `node:timers`, `node:timers/promises`): see `TIMER_FUNCTIONS`.
 *
 * @example
 * ```ts
 * import { patchTimers } from 'greenhub/patch';
 * import { spawn } from 'greenhub';
 * import { setTimeout as sleep } from 'node:timers/promises';
 * patchTimers();
 * const g = spawn(() => sleep(60_000));
 * await g.kill(); // the 60 s timer is cleared at once
 * ```
 */
export function patchTimers(): PatchReport {
  return single('timers', patchTimersModule);
}

/**
 * Patch the global `fetch` and the body readers of its responses.
 *
 * @example
 * ```ts
 * patchFetch();
 * await withTimeout(2_000, () => fetch(url).then((r) => r.json())); // the request is aborted on timeout
 * ```
 */
export function patchFetch(): PatchReport {
  return single('fetch', patchFetchGlobal);
}

/**
 * Patch socket connection (`net.Socket.prototype.connect`, reached by `net.connect`, `tls.connect`
 * and every client library).
 *
 * @example
 * ```ts
 * patchNet();
 * const g = spawn(() => once(net.connect(5432, 'db.internal'), 'connect'));
 * await g.kill(); // the connecting socket is destroyed
 * ```
 */
export function patchNet(): PatchReport {
  return single('net', patchNetModule);
}

/**
 * Patch the `http`/`https` clients and servers: requests made in a greenlet are cancellable, and
 * each request a server handles runs in its own greenlet (see {@link HttpServerOptions}).
 *
 * @example
 * ```ts
 * patchHttp({ requestTimeout: 30_000, maxConcurrency: 256 });
 * http.createServer(handler).listen(8080); // a greenlet per request; 503 beyond 256, 504 after 30 s
 * ```
 */
export function patchHttp(opts?: HttpServerOptions): PatchReport {
  configureHttpServer(checkHttpServerOptions('patchHttp()', 'opts', opts));
  return single('http', patchHttpParts);
}

function patchHttpParts(): string[] {
  markPatched('http');
  return [...patchHttpClient(), ...patchHttpServer()];
}

/**
 * Patch `dns` and `dns/promises` queries.
 *
 * @example
 * ```ts
 * patchDns();
 * await withTimeout(500, () => dns.promises.resolve4('example.com')); // the query is cancelled on timeout
 * ```
 */
export function patchDns(): PatchReport {
  return single('dns', patchDnsModule);
}

/**
 * Patch the path-level functions of `fs` and `fs/promises`.
 *
 * @example
 * ```ts
 * patchFs();
 * const g = spawn(() => fs.promises.readFile('/var/run/app.fifo'));
 * await g.kill(); // released at once, even though the FIFO has no writer
 * ```
 */
export function patchFs(): PatchReport {
  return single('fs', patchFsModule);
}

/**
 * Patch `child_process.spawn`, `fork`, `exec`, `execFile`: a killed greenlet kills its children.
 *
 * @example
 * ```ts
 * patchChildProcess();
 * await withTimeout(5_000, () => promisify(execFile)('ffmpeg', args)); // ffmpeg is killed on timeout
 * ```
 */
export function patchChildProcess(): PatchReport {
  return single('childProcess', patchChildProcessModule);
}

/**
 * Patch `events.once` and `events.on`.
 *
 * @example
 * ```ts
 * patchEvents();
 * const msg = await withTimeout(1_000, () => once(socket, 'message'), { fallback: null });
 * ```
 */
export function patchEvents(): PatchReport {
  return single('events', patchEventsModule);
}

/**
 * Patch `stream/promises` (`pipeline`, `finished`).
 *
 * @example
 * ```ts
 * patchStream();
 * const g = spawn(() => pipeline(fs.createReadStream(big), zlib.createGzip(), res));
 * await g.kill(); // every stream of the pipeline is destroyed
 * ```
 */
export function patchStream(): PatchReport {
  return single('stream', patchStreamModule);
}

/**
 * Install graceful shutdown on SIGTERM/SIGINT (see {@link SignalOptions} and {@link shutdown}).
 *
 * @example
 * ```ts
 * patchSignal({ gracePeriod: 20_000 });
 * onShutdown(() => db.end());
 * ```
 */
export function patchSignal(opts?: SignalOptions): PatchReport {
  const settings = checkSignalOptions('patchSignal()', 'opts', opts);
  const report = single('signal', () => installSignal(settings));
  if (!isMainThread) moveToSkipped(report, 'signal');
  return report;
}

/**
 * Make `Thread`s run as greenlets (gevent's `patch_thread`). `patchAll({ thread: false })` keeps
 * them real worker threads.
 *
 * @example
 * ```ts
 * patchThread();
 * new Thread({ target: poll }).start(); // a greenlet
 * ```
 */
export function patchThread(): PatchReport {
  return single('thread', setThreadMode);
}

/**
 * Time synchronous blocking calls (see `BLOCKING_FUNCTIONS`): `mode` `'warn'` (default), `'count'`
 * or `'throw'`; `maxBlockingTime` in ms (default 100). Main thread only.
 *
 * @example
 * ```ts
 * patchBlocking({ mode: 'throw', maxBlockingTime: 50 }); // in a test suite
 * ```
 */
export function patchBlocking(opts?: { mode?: BlockingMode; maxBlockingTime?: number }): PatchReport {
  checkOptions('patchBlocking()', 'opts', opts, ['mode', 'maxBlockingTime']);
  const mode =
    opts?.mode === undefined ? 'warn' : checkBlockingMode('patchBlocking()', 'opts.mode', opts.mode);
  if (mode === false) throw rangeError('patchBlocking()', 'opts.mode', "'warn', 'count' or 'throw'", mode);
  const limit =
    opts?.maxBlockingTime === undefined
      ? 100
      : checkDelay('patchBlocking()', 'opts.maxBlockingTime', opts.maxBlockingTime);
  configureBlocking(mode, limit);
  const report = single('blocking', patchBlockingCalls);
  if (!isMainThread) moveToSkipped(report, 'blocking');
  return report;
}

function moveToSkipped(report: PatchReport, target: PatchTarget): void {
  report.patched = report.patched.filter((t) => t !== target);
  report.alreadyPatched = report.alreadyPatched.filter((t) => t !== target);
  report.skipped.push(target);
}

let lateWarned = false;

/**
 * Patch everything (each target can be turned off): timers, fetch, net, http (clients and a
 * greenlet per server request), dns, fs, child processes, events, stream/promises, graceful
 * shutdown on signals, Thread as greenlet, and timing of blocking calls. Idempotent: a second call
 * patches only what the first left out, and updates settings.
 *
 * Call it before the application loads — best through `node --import greenhub/register app.js`.
 * Called later, it still reaches every call made through a module object or an ESM named import,
 * and warns once, naming the loaded modules that copied functions out before the patch.
 *
 * @example
 * ```ts
 * import { patchAll } from 'greenhub/patch';
 * const report = patchAll({ signal: false, blocking: 'throw', maxBlockingTime: 50 });
 * console.log(report.patched); // ['timers', 'fetch', 'net', …]
 * ```
 */
export function patchAll(opts?: PatchOptions): PatchReport {
  return patchAllFrom(opts, false);
}

/** @internal `greenhub/register` patches before the application loads: nothing can be late. */
export function patchAllFrom(opts: PatchOptions | undefined, preload: boolean): PatchReport {
  const where = 'patchAll()';
  checkOptions(where, 'opts', opts, PATCH_OPTIONS);
  const blocking =
    opts?.blocking === undefined ? 'warn' : checkBlockingMode(where, 'opts.blocking', opts.blocking);
  const limit =
    opts?.maxBlockingTime === undefined
      ? 100
      : checkDelay(where, 'opts.maxBlockingTime', opts.maxBlockingTime);
  // Every option is checked before anything is patched: a refused call changes nothing.
  const http = opts?.http;
  const httpSettings = checkHttpServerOptions(
    where,
    'opts.http',
    typeof http === 'object' ? http : undefined,
  );
  const signal = opts?.signal;
  const signalSettings = checkSignalOptions(
    where,
    'opts.signal',
    typeof signal === 'object' ? signal : undefined,
  );
  const on = {} as Record<PatchTarget, boolean>;
  for (const t of PATCH_TARGETS) {
    if (t !== 'blocking') on[t] = checkSwitch(where, t, opts?.[t], t === 'http' || t === 'signal');
  }

  const report = newReport();
  const steps: [PatchTarget, boolean, Patcher][] = [
    ['timers', on.timers, patchTimersModule],
    ['fetch', on.fetch, patchFetchGlobal],
    ['net', on.net, patchNetModule],
    ['http', on.http, patchHttpParts],
    ['dns', on.dns, patchDnsModule],
    ['fs', on.fs, patchFsModule],
    ['childProcess', on.childProcess, patchChildProcessModule],
    ['events', on.events, patchEventsModule],
    ['stream', on.stream, patchStreamModule],
    ['signal', on.signal && isMainThread, () => installSignal(signalSettings)],
    ['thread', on.thread, setThreadMode],
    ['blocking', blocking !== false && isMainThread, patchBlockingCalls],
  ];
  if (on.http) configureHttpServer(httpSettings);
  if (blocking !== false) configureBlocking(blocking, limit);
  for (const [target, enabled, patcher] of steps) {
    if (enabled) apply(report, target, patcher);
    else report.skipped.push(target);
  }
  finish(report);
  if (!preload && !lateWarned && report.functions.length !== 0) {
    lateWarned = true;
    report.unreachable = findLateCaptures(patchedByModule(report.functions));
    if (report.unreachable.length !== 0)
      process.emitWarning(lateWarning(report.unreachable), {
        type: 'GreenhubLatePatchWarning',
        code: 'GREENHUB_LATE_PATCH',
      });
  }
  return report;
}

/** `fs/promises.readFile` → `fs/promises: {readFile}`; prototypes are not copied by name. */
function patchedByModule(functions: readonly string[]): Map<string, Set<string>> {
  const map = new Map<string, Set<string>>();
  for (const fn of functions) {
    const dot = fn.lastIndexOf('.');
    const module = fn.slice(0, dot);
    if (module.includes('.prototype') || module.includes('(')) continue;
    let names = map.get(module);
    if (names === undefined) map.set(module, (names = new Set()));
    names.add(fn.slice(dot + 1));
  }
  return map;
}

/**
 * Restore every original: module functions, globals, prototypes, signal handlers, the Thread mode
 * and the blocking settings; ESM named imports follow. Operations in flight keep running.
 *
 * @example
 * ```ts
 * afterAll(() => unpatchAll());
 * ```
 */
export function unpatchAll(): void {
  const dns = isTargetPatched('dns');
  unpatchSignal();
  unpatchThread();
  restore();
  if (dns) rebindDns();
  resetHttpServer();
  configureBlocking('warn', 100);
  syncEsm();
}

const MODULE_TARGETS: Record<string, PatchTarget> = {
  timers: 'timers',
  'timers/promises': 'timers',
  fetch: 'fetch',
  net: 'net',
  tls: 'net',
  http: 'http',
  https: 'http',
  dns: 'dns',
  'dns/promises': 'dns',
  fs: 'fs',
  'fs/promises': 'fs',
  child_process: 'childProcess',
  childProcess: 'childProcess',
  events: 'events',
  stream: 'stream',
  'stream/promises': 'stream',
  signal: 'signal',
  thread: 'thread',
  blocking: 'blocking',
};

/**
 * Whether a module (a builtin name, with or without `node:`) or a target (`fetch`, `signal`,
 * `thread`, `blocking`, `childProcess`) is patched. Unknown names are not patched.
 *
 * @example
 * ```ts
 * isModulePatched('node:fs/promises'); // true after patchAll()
 * ```
 */
export function isModulePatched(name: string): boolean {
  checkString('isModulePatched()', 'name', name);
  const target = MODULE_TARGETS[name.startsWith('node:') ? name.slice(5) : name];
  return target !== undefined && isTargetPatched(target);
}

function resolveModule(where: string, module: unknown): object {
  if (typeof module === 'string') {
    if (module === 'globalThis') return globalThis;
    const name = module.startsWith('node:') ? module.slice(5) : module;
    const object = builtin(name) as object | undefined;
    if (object === undefined) throw rangeError(where, 'module', 'a builtin module name or an object', module);
    return object;
  }
  if ((typeof module !== 'object' && typeof module !== 'function') || module === null)
    throw typeError(where, 'module', 'a builtin module name or an object', module);
  return module;
}

function checkKey(where: string, attr: unknown): PropertyKey {
  if (typeof attr !== 'string' && typeof attr !== 'symbol')
    throw typeError(where, 'attr', 'a property name (string or symbol)', attr);
  return attr;
}

/**
 * Whether `module[attr]` was replaced by a patch. `module` is an object (`fs`, `http.Server.prototype`,
 * `globalThis`) or a builtin name.
 *
 * @example
 * ```ts
 * isObjectPatched('fs/promises', 'readFile'); // true after patchFs()
 * ```
 */
export function isObjectPatched(module: string | object, attr: string | symbol): boolean {
  return isReplaced(resolveModule('isObjectPatched()', module), checkKey('isObjectPatched()', attr));
}

/**
 * The original of a patched property (its current value when not patched): code that must bypass
 * the patch, like gevent's `get_original`.
 *
 * @example
 * ```ts
 * const realSetTimeout = getOriginal('timers', 'setTimeout') as typeof setTimeout;
 * ```
 */
export function getOriginal(module: string | object, attr: string | symbol): unknown {
  return originalOf(resolveModule('getOriginal()', module), checkKey('getOriginal()', attr));
}

/**
 * True when `Thread`s currently start as greenlets (see {@link patchThread}).
 *
 * @example
 * ```ts
 * patchAll({ thread: false });
 * isThreadPatched(); // false: Threads are real worker threads
 * ```
 */
export { isThreadPatched };
