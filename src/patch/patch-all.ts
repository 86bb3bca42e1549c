/**
 * `patchAll()` and `unpatchAll()`: every target at once, options checked before anything is
 * patched, and the late-patching warning.
 */
import { isMainThread } from 'node:worker_threads';
import { checkDelay, checkOptions, typeError } from '../internal/validate.js';
import { type BlockingMode, configureBlocking, patchBlocking as patchBlockingCalls } from './blocking.js';
import { patchChildProcess as patchChildProcessModule } from './child-process.js';
import { patchDns as patchDnsModule, rebindDns } from './dns.js';
import { patchEvents as patchEventsModule } from './events.js';
import { patchFetch as patchFetchGlobal } from './fetch.js';
import { patchFs as patchFsModule } from './fs.js';
import {
  checkHttpServerOptions,
  configureHttpServer,
  type HttpServerOptions,
  resetHttpServer,
} from './http-server.js';
import { findLateCaptures, lateWarning } from './late.js';
import { patchNet as patchNetModule } from './net.js';
import { isTargetPatched, PATCH_TARGETS, type PatchTarget, restore, syncEsm } from './registry.js';
import { apply, finish, newReport, type Patcher, type PatchReport } from './report.js';
import { checkSignalOptions, installSignal, type SignalOptions, unpatchSignal } from './signal.js';
import { patchStream as patchStreamModule } from './stream.js';
import { checkBlockingMode, patchHttpParts } from './targets.js';
import { patchThread as setThreadMode, unpatchThread } from './thread.js';
import { patchTimers as patchTimersModule } from './timers.js';

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

function checkSwitch(where: string, name: string, value: unknown, objectOk: boolean): boolean {
  if (value === undefined || typeof value === 'boolean') return value !== false;
  if (objectOk && typeof value === 'object' && value !== null) return true;
  throw typeError(where, `opts.${name}`, objectOk ? 'a boolean or an options object' : 'a boolean', value);
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
