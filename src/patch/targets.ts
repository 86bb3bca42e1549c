/**
 * The one-target patch functions (`patchTimers()`, `patchHttp(opts)`…), each returning a report of
 * its own: made from the table (table.ts), as `patchAll()` is.
 */
import { finish, newReport, type PatchReport } from './report.js';
import {
  checkTargetArg,
  leaveNothingFor,
  type PatchTarget,
  patchTarget,
  type TargetArg,
  takesOptions,
} from './table.js';

type OneTarget<T extends PatchTarget> =
  TargetArg<T> extends undefined ? () => PatchReport : (opts?: TargetArg<T>) => PatchReport;

/** `patchX(opts?)` for target `t`: check the argument, patch, report. */
function one<T extends PatchTarget>(t: T): OneTarget<T> {
  const name = `patch${t[0]!.toUpperCase()}${t.slice(1)}`;
  const where = `${name}()`;
  const run = (opts: unknown): PatchReport => {
    const settings = checkTargetArg(where, t, opts);
    leaveNothingFor(t); // patched whole, now (see table.ts)
    const report = newReport();
    patchTarget(report, t, settings);
    return finish(report);
  };
  const fn = takesOptions(t) ? (opts?: unknown) => run(opts) : () => run(undefined);
  return Object.defineProperty(fn, 'name', { value: name }) as unknown as OneTarget<T>;
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
export const patchTimers = one('timers');

/**
 * Patch the global `fetch` and the body readers of its responses.
 *
 * @example
 * ```ts
 * patchFetch();
 * await withTimeout(2_000, () => fetch(url).then((r) => r.json())); // the request is aborted on timeout
 * ```
 */
export const patchFetch = one('fetch');

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
export const patchNet = one('net');

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
export const patchHttp = one('http');

/**
 * Patch `dns` and `dns/promises` queries.
 *
 * @example
 * ```ts
 * patchDns();
 * await withTimeout(500, () => dns.promises.resolve4('example.com')); // the query is cancelled on timeout
 * ```
 */
export const patchDns = one('dns');

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
export const patchFs = one('fs');

/**
 * Patch `child_process.spawn`, `fork`, `exec`, `execFile`: a killed greenlet kills its children.
 *
 * @example
 * ```ts
 * patchChildProcess();
 * await withTimeout(5_000, () => promisify(execFile)('ffmpeg', args)); // ffmpeg is killed on timeout
 * ```
 */
export const patchChildProcess = one('childProcess');

/**
 * Patch `events.once` and `events.on`.
 *
 * @example
 * ```ts
 * patchEvents();
 * const msg = await withTimeout(1_000, () => once(socket, 'message'), { fallback: null });
 * ```
 */
export const patchEvents = one('events');

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
export const patchStream = one('stream');

/**
 * Install graceful shutdown on SIGTERM/SIGINT (see {@link SignalOptions} and {@link shutdown}).
 *
 * @example
 * ```ts
 * patchSignal({ gracePeriod: 20_000 });
 * onShutdown(() => db.end());
 * ```
 */
export const patchSignal = one('signal');

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
export const patchThread = one('thread');

/**
 * Time synchronous blocking calls (see `BLOCKING_FUNCTIONS`): `mode` `'warn'` (default), `'count'`
 * or `'throw'`; `maxBlockingTime` in ms (default 100). Main thread only.
 *
 * @example
 * ```ts
 * patchBlocking({ mode: 'throw', maxBlockingTime: 50 }); // in a test suite
 * ```
 */
export const patchBlocking = one('blocking');
