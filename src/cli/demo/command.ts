/**
 * `greenhub demo` (`npm start`): parse the flags, patch, calibrate the CPU work, start the service,
 * print where it listens — `{"listening":<port>}` on stdout (what `bench/http/run.js` and the tests
 * read), the URLs on stderr — then either serve until a signal or, with `--load`, drive it, print
 * the summary and stop.
 *
 * Shutdown, on the first SIGTERM, SIGINT or SIGHUP (or at the end of `--load`): stop accepting, let
 * requests in flight finish within `--grace`, kill the rest (their pool tasks are cancelled), close
 * the pool, exit 0. A demo whose parent process dies (a wrapper such as `npm start`'s shell exited
 * on SIGTERM without passing it on) notices it (orphan-watch.ts) and stops the same way. A second
 * signal exits at once with 128 + its number (130 for SIGINT, 143 for SIGTERM); a shutdown still
 * not done `grace + 5 s` after it started exits 1.
 */
import { availableParallelism, constants } from 'node:os';
import { nativeClearTimeout, nativeSetTimeout } from '../../internal/natives.js';
import { patchAll } from '../../patch/patch-all.js';
import { type FlagSpec, HOST, helpText, MILLISECONDS, PORT, parseFlags } from '../flags.js';
import { watchParent } from '../orphan-watch.js';
import { UsageError } from '../usage-error.js';
import type { DemoIo, DemoMode } from './service.js';
import { calibrate } from './work.js';

const MAX_ITERATIONS = 100_000_000;
/**
 * The pool threads' default nice increment (ThreadPoolOptions.niceIncrement): with both cores busy
 * on /cpu, the hub thread still gets one at once for /io (measured in bench/http: higher /io
 * throughput and a lower /io p99 than at the hub's own priority).
 */
const NICE_DEFAULT = 10;

export const DEMO_FLAGS: readonly FlagSpec[] = [
  {
    name: 'port',
    kind: PORT,
    placeholder: '<port>',
    help: 'listen on this port (default 8080; 0: any free port)',
  },
  {
    name: 'host',
    kind: HOST,
    placeholder: '<host>',
    help: 'listen on this address (default 127.0.0.1)',
  },
  {
    name: 'mode',
    kind: { type: 'choice', choices: ['inline', 'offload', 'hybrid'] },
    placeholder: '<mode>',
    help: 'where /cpu runs: inline (on the hub), offload (thread pool), hybrid (default: by measured cost)',
  },
  {
    name: 'threads',
    kind: { type: 'integer', min: 1, max: 256, what: 'an integer from 1 to 256' },
    placeholder: '<n>',
    help: 'thread pool size (default: the number of CPUs)',
  },
  {
    name: 'nice',
    kind: { type: 'integer', min: 0, max: 19, what: 'an integer from 0 to 19' },
    placeholder: '<n>',
    help: `lower the pool threads' priority by n (Unix nice; default ${NICE_DEFAULT}): the hub gets a core first`,
  },
  {
    name: 'io',
    kind: { type: 'choice', choices: ['upstream', 'timer'] },
    placeholder: '<kind>',
    help: '/io waits on: upstream (a local server answering in 20 ms, default) or timer (a 20 ms sleep)',
  },
  {
    name: 'cpu-iterations',
    kind: { type: 'integer', min: 1, max: MAX_ITERATIONS, what: `an integer from 1 to ${MAX_ITERATIONS}` },
    placeholder: '<n>',
    help: 'pbkdf2-sha256 iterations per /cpu call (default: calibrated at start to ~20 ms of CPU)',
  },
  {
    name: 'load',
    kind: {
      type: 'optional-integer',
      min: 1,
      max: 600,
      what: 'a number of seconds from 1 to 600 (or nothing: 10)',
      bare: 10,
    },
    placeholder: '[seconds]',
    help: 'drive the service with the built-in load generator, print a summary, exit',
  },
  {
    name: 'grace',
    kind: MILLISECONDS,
    placeholder: '<ms>',
    help: 'on SIGTERM/SIGINT/SIGHUP, how long requests in flight get to finish (default 10000)',
  },
  { name: 'quiet', kind: { type: 'boolean' }, help: 'print only the listening line and the summary' },
];

export const DEMO_HELP = helpText(
  'greenhub demo [options]',
  'A mixed I/O/CPU service on 127.0.0.1: /io (waits on a local upstream), /cpu (~20 ms of pbkdf2),\n' +
    '/hybrid (cheap and expensive calls through hybrid()), /metrics, and a live status page at /.\n' +
    'A client that disconnects cancels its request (HttpServer cancelOnDisconnect: its upstream fetch\n' +
    'or pool task stops). Prints {"listening":<port>} on stdout once it listens.\n\n' +
    'It stops gracefully on SIGTERM, SIGINT or SIGHUP, and when its parent process dies (run it with\n' +
    '`exec node …`, or Docker `CMD ["node", …]`, so that signals reach it rather than a wrapper).\n\n' +
    'Exit status: 0 after a graceful shutdown (a signal, an orphaning, or the end of --load), 130/143\n' +
    'on a second SIGINT/SIGTERM, 1 if the shutdown overran grace + 5 s or the service could not start,\n' +
    '2 for a bad command line.',
  DEMO_FLAGS,
);

/** How long past the grace period a shutdown may take before the process gives up on it. */
const SHUTDOWN_MARGIN_MS = 5_000;

/** Run `greenhub demo`; resolves with the exit status once the service has stopped. */
export async function demo(argv: readonly string[]): Promise<number> {
  const { values, positionals, help } = parseFlags('greenhub demo', DEMO_FLAGS, argv);
  if (help) {
    process.stdout.write(DEMO_HELP);
    return 0;
  }
  if (positionals.length !== 0) {
    throw new UsageError(
      `greenhub demo: expected no arguments besides options, got ${JSON.stringify(positionals[0])}`,
      positionals[0]!,
    );
  }
  const quiet = values.get('quiet') === true;
  const mode = (values.get('mode') as DemoMode | undefined) ?? 'hybrid';
  const graceMs = (values.get('grace') as number | undefined) ?? 10_000;
  const loadSeconds = values.get('load') as number | undefined;
  const iterations = (values.get('cpu-iterations') as number | undefined) ?? calibrate(20);
  const say = (line: string): void => {
    if (!quiet) process.stderr.write(`${line}\n`);
  };

  // The demo installs its own signal handling: it stops its HttpServer, which the generic one
  // (greenhub/patch's `signal`) cannot do as well (it waits for every live greenlet).
  patchAll({ signal: false });
  // Loaded once patched, so that no dependency (prom-client…) keeps a copy of an unpatched function.
  const [{ startDemo }, { formatSummary, runLoad }] = await Promise.all([
    import('./service.js'),
    import('./load.js'),
  ]);
  let service: Awaited<ReturnType<typeof startDemo>>;
  try {
    service = await startDemo({
      host: (values.get('host') as string | undefined) ?? '127.0.0.1',
      port: (values.get('port') as number | undefined) ?? 8080,
      mode,
      io: (values.get('io') as DemoIo | undefined) ?? 'upstream',
      threads: (values.get('threads') as number | undefined) ?? availableParallelism(),
      niceIncrement: (values.get('nice') as number | undefined) ?? NICE_DEFAULT,
      iterations,
    });
  } catch (error) {
    process.stderr.write(`greenhub demo: cannot start: ${(error as Error).message}\n`);
    return 1;
  }
  process.stdout.write(`${JSON.stringify({ listening: service.port })}\n`);
  say(
    `greenhub demo (${mode} mode, ${service.pool.maxThreads} threads, ${iterations} pbkdf2 iterations per /cpu) on ${service.url}\n` +
      `  status page ${service.url}/   metrics ${service.url}/metrics   routes /io /cpu /hybrid`,
  );

  const loadAbort = new AbortController();
  let finish!: (code: number) => void;
  const finished = new Promise<number>((resolve) => {
    finish = resolve;
  });
  let stopped: Promise<number> | null = null;
  let unwatch = (): void => {};
  const stop = (why: string): Promise<number> => {
    stopped ??= (async () => {
      unwatch();
      loadAbort.abort();
      say(`greenhub demo: ${why}: stopping; requests in flight get ${graceMs} ms`);
      const overrun = nativeSetTimeout(() => {
        process.stderr.write(
          `greenhub demo: shutdown did not finish within ${graceMs + SHUTDOWN_MARGIN_MS} ms\n`,
        );
        process.exit(1);
      }, graceMs + SHUTDOWN_MARGIN_MS);
      overrun.unref();
      await service.stop(graceMs);
      nativeClearTimeout(overrun);
      say('greenhub demo: stopped');
      return 0;
    })();
    stopped.then(finish);
    return stopped;
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopped !== null) {
      const code = 128 + (constants.signals[signal] ?? 0);
      process.stderr.write(`greenhub demo: ${signal} again: exiting now with ${code}\n`);
      process.exit(code);
    }
    void stop(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', onSignal);
  unwatch = watchParent(() => void stop('its parent process is gone'));

  if (loadSeconds !== undefined) {
    const summary = await runLoad(service.url, loadSeconds, service.pool, {
      quiet,
      signal: loadAbort.signal,
    });
    if (stopped === null) {
      process.stdout.write(
        formatSummary(
          summary,
          `greenhub demo --mode ${mode}, ${service.pool.maxThreads} threads: ${(summary.report.elapsedMs / 1000).toFixed(1)} s of load`,
        ),
      );
      void stop('load done');
    }
  }
  return finished;
}
