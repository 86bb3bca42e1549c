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
 *   on each of them — SIGHUP included (it is in the patch's `signals` unless `--patch` sets them),
 *   until a rolling reload exists; an application that listens for SIGHUP itself keeps it — and a
 *   second signal is forwarded too and makes it exit at once (130 / 143).
 * - If this process is orphaned in turn (a wrapper such as `npx` exited on SIGTERM without passing
 *   it on), it notices (orphan-watch.ts) and sends the application SIGTERM, as if forwarding it.
 * - If the application is still running `grace + 10 s` after the first signal (the grace period,
 *   then the patch's kill and hook timeouts with room to spare), it is killed with SIGKILL.
 * - The exit status is the application's: its exit code, or 128 + the signal number when a signal
 *   ended it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { resolve } from 'node:path';
import { parsePatchEnv } from '../patch/env.js';
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
    'SIGTERM/SIGINT/SIGHUP (SIGHUP stops, it does not reload). Options go before <entry>; what\n' +
    'follows it is the application’s.\n\n' +
    'Exit status: the application’s (0 after a graceful shutdown, 1 if a shutdown hook failed,\n' +
    '130/143 when a second SIGINT/SIGTERM cut the shutdown short), 128 + n when signal n ended it,\n' +
    '2 for a bad command line.',
  RUN_FLAGS,
);

/** How long after the first signal an application that has not exited is killed, beyond the grace. */
export const KILL_MARGIN_MS = 10_000;

const FORWARDED: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

/**
 * The signals the application's signal patch shuts down on, unless the settings name them: every
 * signal `greenhub run` forwards. SIGHUP is a graceful stop, not a reload (there is no rolling
 * reload yet), so that a hang-up lets the requests in flight finish instead of killing them.
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
  const preloads = [
    new URL('../patch/register.js', import.meta.url),
    new URL('./run-preload.js', import.meta.url),
  ];
  const child = spawn(
    process.execPath,
    [...preloads.flatMap((url) => ['--import', url.href]), entry, ...args],
    { stdio: 'inherit', env, detached: true },
  );
  return supervise(child, grace + KILL_MARGIN_MS);
}

function supervise(child: ChildProcess, killAfterMs: number): Promise<number> {
  return new Promise((resolveExit) => {
    let killTimer: ReturnType<typeof setTimeout> | undefined;
    const forward = (signal: NodeJS.Signals): void => {
      child.kill(signal);
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
    for (const s of FORWARDED) process.on(s, forward);
    process.on('exit', killOnExit);
    const unwatch = watchParent(() => {
      process.stderr.write('greenhub run: its parent process is gone; stopping the application\n');
      forward('SIGTERM');
    });
    const done = (code: number): void => {
      clearTimeout(killTimer);
      unwatch();
      for (const s of FORWARDED) process.off(s, forward);
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
