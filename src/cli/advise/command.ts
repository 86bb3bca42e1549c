/**
 * `greenhub advise <url>`: scrape a running service's `/metrics` twice, `--interval` ms apart (or,
 * with `--prometheus`, read the same series from a Prometheus server at both ends of `--range`), and
 * print what to change (rules.ts), one line each, with the numbers behind it. Exit 0 with advice
 * (including "nothing to change"), 1 when the URL cannot be read or serves no greenhub metrics, 2
 * for a bad command line.
 */
import { availableParallelism } from 'node:os';
import { has, parsePrometheusText, type Scrape } from '../../metrics/advice/parse.js';
import { advise as runRules } from '../../metrics/advice/rules.js';
import { metricNames } from '../../metrics/names.js';
import { type FlagSpec, helpText, parseFlags } from '../flags.js';
import { UsageError } from '../usage-error.js';
import { readPrometheus } from './prometheus.js';
import { Unreadable } from './unreadable.js';

const DEFAULT_INTERVAL_MS = 5_000;
const DEFAULT_RANGE = '5m';
/** How long one scrape may take before the URL counts as unreadable. */
const SCRAPE_TIMEOUT_MS = 10_000;

export const ADVISE_FLAGS: readonly FlagSpec[] = [
  {
    name: 'interval',
    kind: { type: 'integer', min: 100, max: 600_000, what: 'a number of milliseconds from 100 to 600000' },
    placeholder: '<ms>',
    help: `time between the two scrapes; rates and quantiles cover it (default ${DEFAULT_INTERVAL_MS})`,
  },
  {
    name: 'cores',
    kind: { type: 'integer', min: 1, max: 4096, what: 'an integer from 1 to 4096' },
    placeholder: '<n>',
    help: "cores of the service's machine (default: this machine's, when the service is on it)",
  },
  {
    name: 'prometheus',
    kind: { type: 'boolean' },
    help: "<url> is a Prometheus server's base URL: read the service's series through its HTTP API",
  },
  {
    name: 'range',
    kind: { type: 'string', what: 'a duration such as 90s, 10m or 1h' },
    placeholder: '<duration>',
    help: `with --prometheus: the window, ending now (default ${DEFAULT_RANGE})`,
  },
  {
    name: 'instance',
    kind: { type: 'string', what: "a scrape target's instance label, such as 127.0.0.1:9464" },
    placeholder: '<instance>',
    help: 'with --prometheus: which service, when the Prometheus scrapes several',
  },
];

export const ADVISE_HELP = helpText(
  'greenhub advise <url> [options]',
  "Reads a running service's Prometheus metrics twice, --interval ms apart, and prints what to change,\n" +
    'with the numbers behind each line: a route that holds the event loop, a saturated hub, a blocking\n' +
    'API, tasks waiting for pool threads. <url> is the metrics endpoint (http://127.0.0.1:9464/metrics;\n' +
    'a URL without a path gets /metrics), or with --prometheus a Prometheus server (http://127.0.0.1:9090).\n\n' +
    'Exit status: 0 with advice (or "nothing to change"), 1 when the URL cannot be read, 2 for a bad\n' +
    'command line.',
  ADVISE_FLAGS,
);

const UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };

/** A Prometheus duration (`90s`, `10m`, `1h`) in seconds. */
function parseRange(text: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(text);
  const seconds = m === null ? 0 : Number(m[1]) * UNITS[m[2]!]!;
  if (!(seconds >= 1 && seconds <= 7 * 24 * 3600))
    throw new UsageError(
      `greenhub advise: expected --range to be a duration from 1s to 168h such as 90s, 10m or 1h, got ${JSON.stringify(text)}`,
      '--range',
    );
  return seconds;
}

function isLocal(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

function checkUrl(text: string | undefined, prometheus: boolean): URL {
  const fail = (): never => {
    throw new UsageError(
      `greenhub advise: expected <url> to be an http:// or https:// URL of a metrics endpoint, got ${text === undefined ? 'nothing' : JSON.stringify(text)}`,
      '<url>',
    );
  };
  if (text === undefined) return fail();
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return fail();
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return fail();
  if (!prometheus && (url.pathname === '/' || url.pathname === '')) url.pathname = '/metrics';
  return url;
}

async function scrape(url: URL): Promise<{ scrape: Scrape; atMs: number }> {
  let text: string;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS) });
    text = await res.text();
    if (!res.ok) throw new Unreadable(`${url} answered ${res.status} ${res.statusText}`.trim());
  } catch (error) {
    if (error instanceof Unreadable) throw error;
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new Unreadable(
      `cannot read ${url}: ${cause?.code ?? cause?.message ?? (error as Error).message ?? String(error)}`,
    );
  }
  const atMs = performance.now();
  let parsed: Scrape;
  try {
    parsed = parsePrometheusText(text);
  } catch (error) {
    throw new Unreadable(`${url} is not Prometheus text: ${(error as Error).message}`);
  }
  if (!has(parsed, metricNames.loopBusySeconds))
    throw new Unreadable(
      `${url} has no greenhub metrics: expected ${metricNames.loopBusySeconds} (is collectMetrics() registered in what it serves?)`,
    );
  return { scrape: parsed, atMs };
}

function report(source: string, input: Parameters<typeof runRules>[0]): number {
  const { seconds, cores } = input;
  process.stdout.write(
    `greenhub advise: ${source} over ${seconds.toFixed(1)} s, ${cores === null ? 'cores unknown (--cores)' : `${cores} cores`}\n`,
  );
  for (const a of runRules(input)) process.stdout.write(`${a.text}\n`);
  return 0;
}

/** Run `greenhub advise`; resolves with the exit status. */
export async function advise(argv: readonly string[]): Promise<number> {
  const { values, positionals, help } = parseFlags('greenhub advise', ADVISE_FLAGS, argv);
  if (help) {
    process.stdout.write(ADVISE_HELP);
    return 0;
  }
  if (positionals.length > 1)
    throw new UsageError(
      `greenhub advise: expected one <url>, got ${positionals.length} arguments (${positionals.map((p) => JSON.stringify(p)).join(', ')})`,
      positionals[1]!,
    );
  const prometheus = values.get('prometheus') === true;
  const url = checkUrl(positionals[0], prometheus);
  for (const flag of prometheus ? ['interval'] : ['range', 'instance'])
    if (values.has(flag))
      throw new UsageError(
        `greenhub advise: expected --${flag} ${prometheus ? 'without' : 'with'} --prometheus, got it ${prometheus ? 'with' : 'without'}`,
        `--${flag}`,
      );
  const intervalMs = (values.get('interval') as number | undefined) ?? DEFAULT_INTERVAL_MS;
  const rangeSeconds = parseRange((values.get('range') as string | undefined) ?? DEFAULT_RANGE);
  const coresFlag = values.get('cores') as number | undefined;
  try {
    if (prometheus) {
      const read = await readPrometheus(url, rangeSeconds, values.get('instance') as string | undefined);
      const cores =
        coresFlag ?? (isLocal(new URL(`http://${read.instance}`)) ? availableParallelism() : null);
      return report(`${url} (instance ${read.instance})`, { ...read, cores });
    }
    const cores = coresFlag ?? (isLocal(url) ? availableParallelism() : null);
    const first = await scrape(url);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    const second = await scrape(url);
    const seconds = (second.atMs - first.atMs) / 1000;
    return report(String(url), { before: first.scrape, after: second.scrape, seconds, cores });
  } catch (error) {
    if (!(error instanceof Unreadable)) throw error;
    process.stderr.write(`greenhub advise: ${error.message}\n`);
    return 1;
  }
}
