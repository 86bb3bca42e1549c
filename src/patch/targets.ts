/**
 * The one-target patch functions (`patchTimers()`, `patchHttp(opts)`…), each returning a report of
 * its own. `patchAll()` (patch-all.ts) runs the same patchers.
 */
import { isMainThread } from 'node:worker_threads';
import { checkDelay, checkOptions, rangeError, typeError } from '../internal/validate.js';
import { type BlockingMode, configureBlocking, patchBlocking as patchBlockingCalls } from './blocking.js';
import { patchChildProcess as patchChildProcessModule } from './child-process.js';
import { patchDns as patchDnsModule } from './dns.js';
import { patchEvents as patchEventsModule } from './events.js';
import { patchFetch as patchFetchGlobal } from './fetch.js';
import { patchFs as patchFsModule } from './fs.js';
import { patchHttpClient } from './http.js';
import {
  checkHttpServerOptions,
  configureHttpServer,
  type HttpServerOptions,
  patchHttpServer,
} from './http-server.js';
import { patchNet as patchNetModule } from './net.js';
import { markPatched } from './registry.js';
import { moveToSkipped, type PatchReport, single } from './report.js';
import { checkSignalOptions, installSignal, type SignalOptions } from './signal.js';
import { patchStream as patchStreamModule } from './stream.js';
import { patchThread as setThreadMode } from './thread.js';
import { patchTimers as patchTimersModule } from './timers.js';

const BLOCKING_MODES: readonly (BlockingMode | false)[] = ['warn', 'count', 'throw', false];

export function checkBlockingMode(where: string, name: string, mode: unknown): BlockingMode | false {
  if (!BLOCKING_MODES.includes(mode as BlockingMode | false))
    throw (typeof mode === 'string' || typeof mode === 'boolean' ? rangeError : typeError)(
      where,
      name,
      "'warn', 'count', 'throw' or false",
      mode,
    );
  return mode as BlockingMode | false;
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

export function patchHttpParts(): string[] {
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
