/**
 * `greenhub advise <url>`: scrape a running service's `/metrics` twice, `--interval` ms apart, and
 * print what to change (rules.ts), one line each, with the numbers behind it. Exit 0 with advice
 * (including "nothing to change"), 1 when the URL cannot be read or serves no greenhub metrics, 2
 * for a bad command line.
 */
import { availableParallelism } from 'node:os';
import { metricNames } from '../../metrics/names.js';
import { type FlagSpec, helpText, parseFlags } from '../flags.js';
import { UsageError } from '../usage-error.js';
import { has, parsePrometheusText, type Scrape } from './parse.js';
import { advise as runRules } from './rules.js';

const DEFAULT_INTERVAL_MS = 5_000;
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
    help: "cores of the service's machine (default: this machine's, when the URL is on it)",
  },
];

export const ADVISE_HELP = helpText(
  'greenhub advise <url> [options]',
  "Reads a running service's Prometheus metrics twice, --interval ms apart, and prints what to change,\n" +
    'with the numbers behind each line: a route that holds the event loop, a saturated hub, a blocking\n' +
    'API, tasks waiting for pool threads. <url> is the metrics endpoint (http://127.0.0.1:9464/metrics;\n' +
    'a URL without a path gets /metrics).\n\n' +
    'Exit status: 0 with advice (or "nothing to change"), 1 when the URL cannot be read, 2 for a bad\n' +
    'command line.',
  ADVISE_FLAGS,
);

/** The URL cannot be read, or is not a greenhub service's metrics: exit 1. */
class Unreadable extends Error {}

function isLocal(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

function checkUrl(text: string | undefined): URL {
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
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/metrics';
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
  const url = checkUrl(positionals[0]);
  const intervalMs = (values.get('interval') as number | undefined) ?? DEFAULT_INTERVAL_MS;
  const cores = (values.get('cores') as number | undefined) ?? (isLocal(url) ? availableParallelism() : null);
  try {
    const first = await scrape(url);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    const second = await scrape(url);
    const seconds = (second.atMs - first.atMs) / 1000;
    process.stdout.write(
      `greenhub advise: ${url} over ${seconds.toFixed(1)} s, ${cores === null ? 'cores unknown (--cores)' : `${cores} cores`}\n`,
    );
    for (const a of runRules({ before: first.scrape, after: second.scrape, seconds, cores }))
      process.stdout.write(`${a.text}\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof Unreadable)) throw error;
    process.stderr.write(`greenhub advise: ${error.message}\n`);
    return 1;
  }
}
