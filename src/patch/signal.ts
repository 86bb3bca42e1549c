/**
 * `patchSignal()`: SIGTERM and SIGINT start a graceful shutdown, as gunicorn does for its workers.
 *
 * 1. Stop accepting: every listening server (see servers.ts) is closed; idle keep-alive
 *    connections are dropped, requests in progress go on, and (with the http patch) their
 *    responses, and those of requests still arriving on open connections, say `connection: close`
 *    so that no client sends a next request on a connection the exit would reset.
 * 2. Grace period (`gracePeriod`, default 10 s): live greenlets get that long to finish. A
 *    connection accepted just before the servers closed whose request has not arrived yet (a
 *    `node:cluster` worker is handed connections until the primary reads that it stopped) gets up
 *    to {@link ARRIVAL_WAIT_MS} for it: its request then runs and is waited for like the others,
 *    instead of being reset with the connection.
 * 3. The rest are killed (`GreenletExit`, at most `killTimeout` ms, default 2 s, to die), and the
 *    servers' remaining connections are closed.
 * 4. Shutdown hooks run, in registration order, each within `hookTimeout` (default 5 s): this is
 *    where the thread pool closes (`onShutdown(() => pool.close())`).
 * 5. The process exits: `0` when every hook succeeded, `1` when one failed or timed out.
 *
 * SIGHUP, when it is one of `signals` (`greenhub run` adds it), is a graceful stop too — the
 * rolling restart is `greenhub run --workers`' primary's, which stops each old worker with SIGTERM
 * — unless the application listens for SIGHUP itself: then it is left to it.
 *
 * A second signal during the shutdown exits at once with the shell's convention for death by that
 * signal, `128 + signal number`: 130 for SIGINT, 143 for SIGTERM (what an unpatched Node process
 * killed by the signal shows, too).
 *
 * `shutdown()` runs the same sequence on demand (an admin route, a test), and `onShutdown()` works
 * without the signal patch. Signal handlers are not installed in worker threads (Node does not
 * deliver signals to them): the target is main-thread only (table.ts).
 */
import { constants } from 'node:os';
import { GreenletExit } from '../errors.js';
import { liveGreenlets, runOutside } from '../greenlet/internal.js';
import { joinAll, killAll } from '../greenlet/wait.js';
import { nativeClearTimeout, nativeSetTimeout, now } from '../internal/natives.js';
import { shutdownHooks } from '../internal/shutdown-hooks.js';
import {
  checkBoolean,
  checkDelay,
  checkInteger,
  checkIterable,
  checkOptions,
  rangeError,
} from '../internal/validate.js';
import { type Fn, wrapFunctions } from './call.js';
import { connectionsAwaitingRequest, drainHttpServer, nextRequestArrival } from './http-server.js';
import { builtin } from './registry.js';
import { trackedServers, trackServer } from './servers.js';
import { SHUTDOWN_SIGNALS, SIGNAL_FUNCTIONS } from './surface.js';

/**
 * Options of `patchSignal(opts)` / `patchAll({ signal: opts })`.
 *
 * @example
 * ```ts
 * patchAll({ signal: { signals: ['SIGTERM'], gracePeriod: 25_000 } }); // Kubernetes gives 30 s
 * ```
 */
export interface SignalOptions {
  /** The signals that start a graceful shutdown (default `['SIGTERM', 'SIGINT']`). */
  signals?: Iterable<NodeJS.Signals>;
  /** How long live greenlets get to finish, in ms (default 10 000). */
  gracePeriod?: number;
  /** How long killed greenlets get to die, in ms (default 2 000). */
  killTimeout?: number;
  /** How long each shutdown hook gets, in ms (default 5 000). */
  hookTimeout?: number;
}

export const SIGNAL_OPTIONS = ['signals', 'gracePeriod', 'killTimeout', 'hookTimeout'] as const;

/**
 * Options of {@link shutdown}: the signal patch's timings, plus whether to exit.
 *
 * @example
 * ```ts
 * const code = await shutdown({ gracePeriod: 1_000, exit: false });
 * ```
 */
export interface ShutdownOptions {
  gracePeriod?: number;
  killTimeout?: number;
  hookTimeout?: number;
  /** Exit the process at the end (default `true`); `false` resolves with the exit code instead. */
  exit?: boolean;
  /** Why, for the log line (default `'shutdown()'`). */
  reason?: string;
}

interface Timings {
  gracePeriod: number;
  killTimeout: number;
  hookTimeout: number;
}

const DEFAULT_TIMINGS: Timings = { gracePeriod: 10_000, killTimeout: 2_000, hookTimeout: 5_000 };

let timings: Timings = DEFAULT_TIMINGS;
let installed: { signals: NodeJS.Signals[]; handler: (signal: NodeJS.Signals) => void } | null = null;
let running: Promise<number> | null = null;

function checkTimings(where: string, prefix: string, opts: Partial<Timings> | undefined): Timings {
  const pick = (name: keyof Timings): number =>
    opts?.[name] === undefined ? timings[name] : checkDelay(where, `${prefix}.${name}`, opts[name]);
  return {
    gracePeriod: pick('gracePeriod'),
    killTimeout: pick('killTimeout'),
    hookTimeout: pick('hookTimeout'),
  };
}

/**
 * Shut down gracefully now (see the module comment): stop accepting, give live greenlets the grace
 * period, kill the rest, run the shutdown hooks, exit. Calling it again returns the same promise.
 * Resolves with the exit code (when `exit: false`; otherwise the process exits with it).
 *
 * @example
 * ```ts
 * import { shutdown } from 'greenhub/patch';
 * app.post('/admin/stop', (req, res) => { res.end('bye'); void shutdown({ gracePeriod: 2_000 }); });
 * ```
 */
export function shutdown(opts?: ShutdownOptions): Promise<number> {
  checkOptions('shutdown()', 'opts', opts, ['gracePeriod', 'killTimeout', 'hookTimeout', 'exit', 'reason']);
  const t = checkTimings('shutdown()', 'opts', opts);
  if (opts?.exit !== undefined) checkBoolean('shutdown()', 'opts.exit', opts.exit);
  if (running !== null) return running;
  const reason = opts?.reason ?? 'shutdown()';
  const exit = opts?.exit ?? true;
  // Outside any greenlet: the caller's greenlet is one of those to wait for (or kill).
  return (running = new Promise<number>((resolve, reject) => {
    runOutside(
      (done: (code: number) => void, fail: (e: unknown) => void) => {
        gracefully(t, reason).then((code) => {
          if (exit) process.exit(code);
          done(code);
        }, fail);
      },
      resolve,
      reject,
    );
  }));
}

/**
 * How long a graceful shutdown with nothing else to wait for waits for the first request of a
 * connection already accepted, in ms (each arrival starts the wait again, within the grace period).
 * Short, since a client that connected and sends nothing (a browser's preconnect) holds the
 * shutdown that long; long enough for a client that is itself short of CPU to send its request.
 */
export const ARRIVAL_WAIT_MS = 2_000;

function log(line: string): void {
  process.stderr.write(`greenhub: ${line}\n`);
}

async function gracefully(t: Timings, reason: string): Promise<number> {
  const servers = trackedServers();
  for (const server of servers) {
    drainHttpServer(server);
    server.close();
    (server as { closeIdleConnections?: () => void }).closeIdleConnections?.();
  }
  log(
    `${reason}: shutting down gracefully: ${servers.length === 1 ? '1 server stops' : `${servers.length} servers stop`} accepting, ` +
      `live greenlets get ${t.gracePeriod} ms${installed === null ? '' : `; send ${installed.signals[0]} again to exit at once`}`,
  );
  const deadline = now() + t.gracePeriod;
  let finished = 0;
  for (let live = liveGreenlets(); ; live = liveGreenlets()) {
    const left = deadline - now();
    if (left <= 0) break;
    if (live.length === 0) {
      // Nothing running: wait only for requests already on their way in, a short while.
      if (!servers.some((server) => connectionsAwaitingRequest(server) > 0)) break;
      if (!(await nextRequestArrival(Math.min(left, ARRIVAL_WAIT_MS)))) break;
      continue;
    }
    finished += (await joinAll(live, { timeout: left })).length;
  }
  const rest = liveGreenlets();
  if (rest.length !== 0) {
    await killAll(rest, {
      exception: new GreenletExit(`${reason}: grace period over`),
      timeout: t.killTimeout,
    });
  }
  for (const server of servers) (server as { closeAllConnections?: () => void }).closeAllConnections?.();
  let code = 0;
  for (const hook of shutdownHooks()) {
    const outcome = await within(hook, t.hookTimeout);
    if (outcome !== null) {
      code = 1;
      log(`shutdown hook ${hook.name || '(anonymous)'} ${outcome}`);
    }
  }
  log(
    `shutdown complete: ${finished} greenlet${finished === 1 ? '' : 's'} finished, ${rest.length} killed; exit ${code}`,
  );
  return code;
}

/** Run `hook` with a deadline: `null` on success, else what went wrong. */
async function within(hook: () => unknown, ms: number): Promise<string | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<string>((resolve) => {
    timer = nativeSetTimeout(resolve, ms, `did not finish within ${ms} ms`);
  });
  try {
    return await Promise.race([
      Promise.resolve()
        .then(hook)
        .then(
          () => null,
          (error: unknown) =>
            `failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
        ),
      late,
    ]);
  } finally {
    nativeClearTimeout(timer);
  }
}

/** @internal The shutdown signal handler; also called by the preload's for a signal that came before greenhub was loaded. */
export function onSignal(signal: NodeJS.Signals): void {
  // SIGHUP often means "reload" to an application that listens for it: then it is the application's.
  if (signal === 'SIGHUP' && process.listenerCount('SIGHUP') > 1) return;
  if (running !== null) {
    const code = 128 + (constants.signals[signal] ?? 0);
    log(`${signal} again: exiting now with ${code}`);
    process.exit(code);
  }
  void shutdown({ reason: signal });
}

/** Signal options, checked. */
export interface SignalSettings {
  signals: NodeJS.Signals[];
  timings: Timings;
}

/** Check signal options (`name` is how the message calls them: `opts`, `opts.signal`). */
export function checkSignalOptions(
  where: string,
  name: string,
  opts: SignalOptions | undefined,
): SignalSettings {
  checkOptions(where, name, opts, SIGNAL_OPTIONS);
  let signals: NodeJS.Signals[] = [...SHUTDOWN_SIGNALS];
  if (opts?.signals !== undefined) {
    checkIterable(where, `${name}.signals`, opts.signals);
    signals = [...opts.signals];
    for (const s of signals) {
      if (typeof s !== 'string' || !(s in constants.signals))
        throw rangeError(where, `${name}.signals`, 'signal names such as "SIGTERM"', s);
    }
    checkInteger(where, `${name}.signals.length`, signals.length, 1, 'at least one signal');
  }
  return { signals, timings: checkTimings(where, name, opts) };
}

/**
 * Install graceful shutdown on signals (see the module comment). Calling it again updates the
 * timings; the signals are fixed by the first call. Returns what it replaced.
 */
export function installSignal(settings: SignalSettings): string[] {
  timings = settings.timings;
  if (installed !== null) return [];
  const { signals } = settings;
  installed = { signals, handler: onSignal };
  for (const s of signals) process.on(s, onSignal);
  const net = builtin<typeof import('node:net')>('net');
  const done = wrapFunctions(
    'signal',
    net.Server.prototype,
    SIGNAL_FUNCTIONS['net.Server.prototype'],
    (original: Fn) =>
      function listen(this: import('node:net').Server, ...args: unknown[]): unknown {
        trackServer(this);
        return Reflect.apply(original, this, args);
      },
  );
  return [...signals.map((s) => `process.on('${s}')`), ...done.map((fn) => `net.Server.prototype.${fn}`)];
}

/** Remove the signal handlers (the `unpatchAll()` half of this file; `listen` is restored with the rest). */
export function unpatchSignal(): void {
  if (installed !== null) {
    for (const s of installed.signals) process.removeListener(s, installed.handler);
    installed = null;
  }
  timings = DEFAULT_TIMINGS;
}
