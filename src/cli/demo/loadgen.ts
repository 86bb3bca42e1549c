/**
 * The demo's load generator (`greenhub demo --load`), internal to the CLI: a fixed number
 * of keep-alive connections on the loopback interface, each sending one request after another,
 * for at most `durationMs` and at most `maxRequests`, with per-route latency percentiles.
 *
 * Deliberately limited: it refuses any target that is not a loopback address, and its bounds are
 * capped (10 minutes, 1,000 connections). It is not part of the public API: for load tests use
 * autocannon or k6.
 * It runs on plain promises (no greenlets), so it does not show up in the hub's own metrics.
 */
import type { Agent, IncomingMessage } from 'node:http';
import { nativeClearInterval, nativeSetInterval, now } from '../../internal/natives.js';
import { isLoopbackHost, NativeHttpAgent, nativeHttpRequest } from '../../internal/net-natives.js';
import {
  checkFunction,
  checkInteger,
  checkOptions,
  checkString,
  rangeError,
  typeError,
} from '../../internal/validate.js';

/** One route to request; weights set how often (default 1). */
export interface LoadRoute {
  path: string;
  method?: string;
  body?: string;
  weight?: number;
}

/** Options of {@link generateLoad}. Durations in milliseconds. */
export interface LoadOptions {
  /** The target's base URL, on a loopback address: `http://127.0.0.1:8080`. */
  url: string;
  /** Paths or routes, requested in weighted round-robin (default `['/']`). */
  routes?: (string | LoadRoute)[];
  /** Connections, each with one request in flight (default 10, at most 1000). */
  concurrency?: number;
  /** Stop after this long (default 10 000, at most 600 000). */
  durationMs?: number;
  /** Stop after this many requests (default: no limit but the duration). */
  maxRequests?: number;
  /** A request not answered in this long counts as an error (default 10 000). */
  timeoutMs?: number;
  /** Called every `progressIntervalMs` with the figures so far. */
  onProgress?: (progress: LoadProgress) => void;
  /** Default 1000. */
  progressIntervalMs?: number;
  /** Stops the run early (the report covers what was done). */
  signal?: AbortSignal;
}

/** Figures of one route. Latencies in ms, within 1%. */
export interface RouteLoad {
  requests: number;
  /** Network errors, timeouts and responses with status ≥ 500. */
  errors: number;
  statuses: Record<string, number>;
  rps: number;
  p50Ms: number | null;
  p90Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

/** What {@link generateLoad} reports, at the end and (so far) in progress. */
export interface LoadReport {
  elapsedMs: number;
  requests: number;
  errors: number;
  rps: number;
  /** By `METHOD path`. */
  routes: Record<string, RouteLoad>;
}

/** A progress report: the totals so far and the rate over the last interval. */
export interface LoadProgress extends LoadReport {
  /** Requests per second over the last progress interval. */
  currentRps: number;
}

const MIN_MS = 0.01;
const GROWTH = Math.log(1.01);
const BUCKETS = Math.ceil(Math.log(600_000 / MIN_MS) / GROWTH) + 2;

/** Latencies in log buckets 1% apart: exact enough for percentiles, bounded memory. */
class LatencyLog {
  private readonly counts = new Uint32Array(BUCKETS);
  count = 0;
  max = 0;

  record(ms: number): void {
    const i = ms <= MIN_MS ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(ms / MIN_MS) / GROWTH));
    this.counts[i]!++;
    this.count++;
    if (ms > this.max) this.max = ms;
  }

  percentile(q: number): number | null {
    if (this.count === 0) return null;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.max, MIN_MS * Math.exp(i * GROWTH));
    }
    return this.max;
  }
}

interface RouteState {
  key: string;
  method: string;
  path: string;
  body: string | undefined;
  requests: number;
  errors: number;
  statuses: Record<string, number>;
  latency: LatencyLog;
}

/**
 * Drive `url` with `concurrency` keep-alive connections until `durationMs` passes, `maxRequests`
 * were sent, or `signal` aborts; resolve with requests/s, errors and latency percentiles by route.
 */
export async function generateLoad(opts: LoadOptions): Promise<LoadReport> {
  const where = 'generateLoad()';
  if (opts === null || typeof opts !== 'object') throw typeError(where, 'opts', 'an options object', opts);
  checkOptions(where, 'opts', opts, [
    'url',
    'routes',
    'concurrency',
    'durationMs',
    'maxRequests',
    'timeoutMs',
    'onProgress',
    'progressIntervalMs',
    'signal',
  ]);
  checkString(where, 'opts.url', opts.url);
  let base: URL;
  try {
    base = new URL(opts.url);
  } catch {
    throw rangeError(where, 'opts.url', 'an absolute http:// URL', opts.url);
  }
  if (base.protocol !== 'http:') throw rangeError(where, 'opts.url', 'an http:// URL', opts.url);
  if (!isLoopbackHost(base.hostname))
    throw rangeError(
      where,
      'opts.url',
      'a loopback address (127.0.0.0/8, ::1, localhost): this generator is for local demos and tests',
      opts.url,
    );
  const concurrency = opts.concurrency ?? 10;
  checkInteger(where, 'opts.concurrency', concurrency, 1, 'an integer from 1 to 1000', 1000);
  const durationMs = opts.durationMs ?? 10_000;
  checkInteger(where, 'opts.durationMs', durationMs, 1, 'an integer from 1 to 600000 (ms)', 600_000);
  const maxRequests = opts.maxRequests ?? Number.POSITIVE_INFINITY;
  if (opts.maxRequests !== undefined)
    checkInteger(where, 'opts.maxRequests', maxRequests, 1, 'a positive integer');
  const timeoutMs = opts.timeoutMs ?? 10_000;
  checkInteger(where, 'opts.timeoutMs', timeoutMs, 1, 'a positive integer (ms)');
  const progressIntervalMs = opts.progressIntervalMs ?? 1000;
  checkInteger(where, 'opts.progressIntervalMs', progressIntervalMs, 10, 'an integer of at least 10 (ms)');
  if (opts.onProgress !== undefined) checkFunction(where, 'opts.onProgress', opts.onProgress);
  const routes = parseRoutes(where, opts.routes ?? ['/']);
  const cycle = routes.flatMap((r, i) => Array<number>(r.weight).fill(i));
  const states: RouteState[] = routes.map((r) => ({
    key: `${r.method} ${r.path}`,
    method: r.method,
    path: r.path,
    body: r.body,
    requests: 0,
    errors: 0,
    statuses: {},
    latency: new LatencyLog(),
  }));

  const agent: Agent = new NativeHttpAgent({
    keepAlive: true,
    maxSockets: concurrency,
    maxFreeSockets: concurrency,
  });
  const t0 = now();
  const deadline = t0 + durationMs;
  let sent = 0;
  let done = 0;
  let errors = 0;
  let stopped = opts.signal?.aborted ?? false;
  const onAbort = () => {
    stopped = true;
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  const report = (): LoadReport => {
    const elapsedMs = now() - t0;
    const byRoute: Record<string, RouteLoad> = {};
    for (const s of states) {
      byRoute[s.key] = {
        requests: s.requests,
        errors: s.errors,
        statuses: { ...s.statuses },
        rps: (s.requests * 1000) / elapsedMs,
        p50Ms: s.latency.percentile(0.5),
        p90Ms: s.latency.percentile(0.9),
        p99Ms: s.latency.percentile(0.99),
        maxMs: s.latency.count === 0 ? null : s.latency.max,
      };
    }
    return { elapsedMs, requests: done, errors, rps: (done * 1000) / elapsedMs, routes: byRoute };
  };

  let lastDone = 0;
  let lastTick = t0;
  const progress =
    opts.onProgress === undefined
      ? undefined
      : nativeSetInterval(() => {
          const t = now();
          const r = report();
          const currentRps = ((done - lastDone) * 1000) / (t - lastTick);
          lastDone = done;
          lastTick = t;
          try {
            opts.onProgress!({ ...r, currentRps });
          } catch {
            // a progress printer's failure must not stop the run
          }
        }, progressIntervalMs);

  const worker = async (): Promise<void> => {
    while (!stopped && sent < maxRequests && now() < deadline) {
      const s = states[cycle[sent % cycle.length]!]!;
      sent++;
      const start = now();
      const status = await send(
        agent,
        base,
        s,
        Math.min(timeoutMs, Math.max(1, deadline - start + timeoutMs)),
      );
      const ms = now() - start;
      done++;
      s.requests++;
      s.latency.record(ms);
      const key = status === 0 ? 'error' : String(status);
      s.statuses[key] = (s.statuses[key] ?? 0) + 1;
      if (status === 0 || status >= 500) {
        s.errors++;
        errors++;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    if (progress !== undefined) nativeClearInterval(progress);
    opts.signal?.removeEventListener('abort', onAbort);
    agent.destroy();
  }
  return report();
}

/** One request; resolves with its status, or 0 on a network error or timeout. */
function send(agent: Agent, base: URL, route: RouteState, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    const req = nativeHttpRequest(
      new URL(route.path, base),
      {
        method: route.method,
        agent,
        timeout: timeoutMs,
        headers: route.body === undefined ? {} : { 'content-length': Buffer.byteLength(route.body) },
      },
      (res: IncomingMessage) => {
        res.on('error', () => resolve(0));
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', () => resolve(0));
    req.end(route.body);
  });
}

function parseRoutes(
  where: string,
  routes: unknown,
): { path: string; method: string; weight: number; body: string | undefined }[] {
  if (!Array.isArray(routes) || routes.length === 0)
    throw typeError(where, 'opts.routes', 'a non-empty array of paths or routes', routes);
  return routes.map((r: unknown, i) => {
    const route: LoadRoute = typeof r === 'string' ? { path: r } : (r as LoadRoute);
    if (route === null || typeof route !== 'object')
      throw typeError(where, `opts.routes[${i}]`, 'a path or a { path, method, weight, body }', r);
    checkString(where, `opts.routes[${i}].path`, route.path);
    if (!route.path.startsWith('/'))
      throw rangeError(where, `opts.routes[${i}].path`, "a path starting with '/'", route.path);
    const weight = route.weight ?? 1;
    checkInteger(where, `opts.routes[${i}].weight`, weight, 1, 'an integer from 1 to 100', 100);
    const method = (route.method ?? 'GET').toUpperCase();
    if (route.body !== undefined) checkString(where, `opts.routes[${i}].body`, route.body);
    return { path: route.path, method, weight, body: route.body };
  });
}
