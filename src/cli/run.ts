/**
 * `greenhub run <entry> [args…]`: an unmodified application under greenhub — the Node counterpart of
 * `gunicorn -k gevent`. It starts
 *
 *     node --import greenhub/register --import <run-preload.js> <entry> args…
 *
 * with the patch options in `GREENHUB_PATCH` (the grace period included) and the metrics address
 * in `GREENHUB_METRICS`, and stays as a thin supervisor:
 *
 * - The application runs in its own process group, so that a terminal's Ctrl-C (or a signal to
 *   this process's group) reaches it once, through this process, rather than twice (which the
 *   signal patch reads as "exit now"). If this process dies without forwarding anything (SIGKILL),
 *   the application notices it was orphaned and shuts down gracefully (run-preload.ts).
 * - SIGTERM, SIGINT and SIGHUP are forwarded. The application's signal patch shuts down gracefully
 *   on each of them — SIGHUP included (it is in the patch's `signals` unless `--patch` sets them;
 *   the rolling restart is `--workers`' — below); an application that listens for SIGHUP itself
 *   keeps it — and a
 *   second signal is forwarded too and makes it exit at once (130 / 143).
 * - If this process is orphaned in turn (a wrapper such as `npx` exited on SIGTERM without passing
 *   it on), it notices (orphan-watch.ts) and sends the application SIGTERM, as if forwarding it.
 * - If the application is still running `grace + 10 s` after the first signal (the grace period,
 *   then the patch's kill and hook timeouts with room to spare), it is killed with SIGKILL.
 * - The exit status is the application's: its exit code, or 128 + the signal number when a signal
 *   ended it.
 *
 * With `--workers N` (or `GREENHUB_WORKERS`), the process started in its own group is a
 * `node:cluster` primary instead (cluster/primary-entry.ts) that forks N workers, each running the
 * application under the same preloads and sharing its listening port — `gunicorn -w N -k gevent`.
 * The primary serves the machine's `/metrics`; SIGHUP is a rolling restart, SIGTTIN/SIGTTOU add or
 * remove a worker, and only SIGTERM/SIGINT arm the kill timer here (the primary kills a stopping
 * worker past its own grace + margin first).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageFile } from '../internal/own-files.js';
import { parsePatchEnv } from '../patch/env.js';
import type { ClusterConfig } from './cluster/primary.js';
import { MAX_THREADS, parseWorkers, threadsPerWorker } from './cluster/sizing.js';
import { type FlagSpec, HOST, helpText, MILLISECONDS, PORT, parseFlags } from './flags.js';
import { watchParent } from './orphan-watch.js';
import { UsageError } from './usage-error.js';

export const RUN_FLAGS: readonly FlagSpec[] = [
  {
    name: 'metrics-port',
    kind: PORT,
    placeholder: '<port>',
    help: 'serve /metrics, /healthz on this port, in the application (default 9464; 0: any free port)',
  },
  {
    name: 'metrics-host',
    kind: HOST,
    placeholder: '<host>',
    help: 'address of the metrics endpoint (default 127.0.0.1)',
  },
  { name: 'no-metrics', kind: { type: 'boolean' }, help: 'no metrics endpoint' },
  {
    name: 'grace',
    kind: MILLISECONDS,
    placeholder: '<ms>',
    help: 'on SIGTERM/SIGINT/SIGHUP, how long live greenlets get to finish (default 10000)',
  },
  {
    name: 'workers',
    kind: { type: 'string', what: 'a number of workers, or 0 or "auto" for one per core' },
    placeholder: '<n>',
    help: 'fork n workers with node:cluster sharing the port (0 or auto: one per core; default $GREENHUB_WORKERS)',
  },
  {
    name: 'threads',
    kind: { type: 'integer', min: 1, max: MAX_THREADS, what: `a number of threads from 1 to ${MAX_THREADS}` },
    placeholder: '<n>',
    help: 'with --workers: each worker’s default thread pool size (default: cores / workers, at least 1)',
  },
  {
    name: 'patch',
    kind: { type: 'string', what: 'GREENHUB_PATCH settings, e.g. "blocking=count,-fs"' },
    placeholder: '<settings>',
    help: 'patch options, as in GREENHUB_PATCH (default: $GREENHUB_PATCH, else patch everything)',
  },
];

export const RUN_HELP = helpText(
  'greenhub run [options] <entry> [args…]',
  'Run an unmodified Node application with greenhub: core I/O patched before it loads (a greenlet\n' +
    'per request, cancellable I/O), Prometheus metrics served from inside it, graceful shutdown on\n' +
    'SIGTERM/SIGINT/SIGHUP (without --workers, SIGHUP stops). Options go before <entry>; what\n' +
    'follows it is the application’s.\n\n' +
    'With --workers N: a node:cluster primary forks N workers that share the listening port and\n' +
    'serves one /metrics for all of them; a worker that dies is replaced (a crash loop exits 1);\n' +
    'SIGHUP restarts the workers one by one without dropping requests; SIGTTIN/SIGTTOU add or\n' +
    'remove a worker.\n\n' +
    'Exit status: the application’s (0 after a graceful shutdown, 1 if a shutdown hook failed,\n' +
    '130/143 when a second SIGINT/SIGTERM cut the shutdown short), 128 + n when signal n ended it,\n' +
    '2 for a bad command line.',
  RUN_FLAGS,
);

/** How long after the first signal an application that has not exited is killed, beyond the grace. */
export const KILL_MARGIN_MS = 10_000;

const FORWARDED: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
/** With `--workers`: SIGHUP reloads, SIGTTIN/SIGTTOU resize; none of them stops the primary. */
const FORWARDED_TO_PRIMARY: NodeJS.Signals[] = [...FORWARDED, 'SIGTTIN', 'SIGTTOU'];
const STOPPING_WITH_WORKERS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

/**
 * The signals the application's signal patch shuts down on, unless the settings name them: every
 * signal `greenhub run` forwards. Without `--workers`, SIGHUP is a graceful stop, not a reload, so
 * that a hang-up lets the requests in flight finish instead of killing them; with `--workers` the
 * primary turns it into a rolling restart and stops each old worker with SIGTERM.
 */
export const RUN_SIGNALS: readonly NodeJS.Signals[] = FORWARDED;

/**
 * The `GREENHUB_PATCH` value for the application: the user's settings with the grace period, and
 * {@link RUN_SIGNALS} unless they name signals.
 */
export function patchSettings(text: string | undefined, graceMs: number | undefined): string {
  let options: ReturnType<typeof parsePatchEnv>;
  try {
    options = parsePatchEnv(text);
  } catch (error) {
    throw new UsageError(
      `greenhub run: expected --patch (or GREENHUB_PATCH) to be settings such as "blocking=count,-fs" ` +
        `or a JSON object, got ${JSON.stringify(text)}: ${(error as Error).message}`,
      '--patch',
    );
  }
  if (options === null) return 'off';
  const signal = options.signal;
  if (signal !== false) {
    options.signal = {
      signals: [...RUN_SIGNALS],
      ...(typeof signal === 'object' && signal !== null ? signal : {}),
      ...(graceMs === undefined ? {} : { gracePeriod: graceMs }),
    };
  }
  return JSON.stringify(options);
}

function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

/** Run the command; resolves with the exit status. */
export function run(argv: readonly string[]): Promise<number> {
  const { values, positionals, help } = parseFlags('greenhub run', RUN_FLAGS, argv, {
    stopAtPositional: true,
  });
  if (help) {
    process.stdout.write(RUN_HELP);
    return Promise.resolve(0);
  }
  const [entry, ...args] = positionals;
  if (entry === undefined)
    throw new UsageError(
      'greenhub run: expected <entry>, the application’s main file, got nothing',
      '<entry>',
    );
  if (!existsSync(resolve(entry)))
    throw new UsageError(
      `greenhub run: expected <entry> to be an existing file, got ${JSON.stringify(entry)}`,
      '<entry>',
    );
  const grace = (values.get('grace') as number | undefined) ?? 10_000;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GREENHUB_PATCH: patchSettings(
      (values.get('patch') as string | undefined) ?? process.env.GREENHUB_PATCH,
      grace,
    ),
  };
  delete env.GREENHUB_METRICS;
  env.GREENHUB_SUPERVISED = '1';
  if (values.get('no-metrics') !== true) {
    const host = (values.get('metrics-host') as string | undefined) ?? '127.0.0.1';
    env.GREENHUB_METRICS = `${host.includes(':') ? `[${host}]` : host}:${values.get('metrics-port') ?? 9464}`;
  }
  const preloads = ['dist/patch/register.js', 'dist/cli/run-preload.js'];
  const execArgv = preloads.flatMap((file) => ['--import', pathToFileURL(packageFile(file)).href]);
  const workersText = (values.get('workers') as string | undefined) ?? process.env.GREENHUB_WORKERS;
  const threads = values.get('threads') as number | undefined;
  if (workersText === undefined || workersText === '') {
    if (threads !== undefined)
      throw new UsageError('greenhub run: --threads needs --workers (or GREENHUB_WORKERS)', '--threads');
    const child = spawn(process.execPath, [...execArgv, entry, ...args], {
      stdio: 'inherit',
      env,
      detached: true,
    });
    return supervise(child, grace + KILL_MARGIN_MS, FORWARDED, FORWARDED);
  }
  const workers = parseWorkers(workersText, values.has('workers') ? '--workers' : 'GREENHUB_WORKERS');
  const config: ClusterConfig = {
    entry: resolve(entry),
    args,
    execArgv,
    workers,
    threads: threads ?? threadsPerWorker(workers),
    patch: env.GREENHUB_PATCH as string,
    graceMs: grace,
    killMarginMs: KILL_MARGIN_MS,
  };
  env.GREENHUB_CLUSTER = JSON.stringify(config);
  delete env.GREENHUB_PATCH;
  delete env.GREENHUB_WORKERS;
  const primary = spawn(process.execPath, [packageFile('dist/cli/cluster/primary-entry.js')], {
    stdio: 'inherit',
    env,
    detached: true,
  });
  // The primary kills a worker still running grace + margin after its signal; this is the backstop.
  return supervise(primary, grace + 2 * KILL_MARGIN_MS, FORWARDED_TO_PRIMARY, STOPPING_WITH_WORKERS);
}

function supervise(
  child: ChildProcess,
  killAfterMs: number,
  forwarded: readonly NodeJS.Signals[],
  stopping: readonly NodeJS.Signals[],
): Promise<number> {
  return new Promise((resolveExit) => {
    let killTimer: ReturnType<typeof setTimeout> | undefined;
    const forward = (signal: NodeJS.Signals): void => {
      child.kill(signal);
      if (!stopping.includes(signal)) return;
      killTimer ??= setTimeout(() => {
        process.stderr.write(
          `greenhub run: the application did not exit within ${killAfterMs} ms of ${signal}; killing it\n`,
        );
        child.kill('SIGKILL');
      }, killAfterMs);
    };
    const killOnExit = (): void => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    for (const s of forwarded) process.on(s, forward);
    process.on('exit', killOnExit);
    const unwatch = watchParent(() => {
      process.stderr.write('greenhub run: its parent process is gone; stopping the application\n');
      forward('SIGTERM');
    });
    const done = (code: number): void => {
      clearTimeout(killTimer);
      unwatch();
      for (const s of forwarded) process.off(s, forward);
      process.off('exit', killOnExit);
      resolveExit(code);
    };
    child.once('error', (error) => {
      process.stderr.write(`greenhub run: cannot start node: ${error.message}\n`);
      done(1);
    });
    child.once('exit', (code, signal) => done(code ?? (signal === null ? 1 : signalExitCode(signal))));
  });
}
