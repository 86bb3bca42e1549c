/**
 * The live status page's building blocks: a JSON snapshot of the hub, the event loop, thread pools
 * and HTTP routes ({@link StatusSource}), and {@link mountStatusPage}, which serves that JSON, an
 * HTML page charting it with uPlot (served from the installed `uplot` package: no build step, no
 * CDN), and uPlot's files, on an `HttpServer` or a plain `http.Server`.
 *
 * Rates and latency quantiles are computed over the window since the previous snapshot (the page
 * polls every second), from the same bucket counts the metrics export.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { getHub } from '../greenlet/hub.js';
import { now } from '../internal/natives.js';
import { checkInteger, checkOptions, checkString, rangeError, typeError } from '../internal/validate.js';
import { type LoopWindow, openLoopWindow } from '../metrics/loop.js';
import { type HistogramSnapshot, histogramDelta, quantileMs } from '../metrics/recorder.js';
import { checkRegistry, type RegistryLike } from '../metrics/registry.js';
import { metricsSources, type RouteSnapshot } from '../metrics/sources.js';
import { HttpServer } from './http-server.js';
import { AdviceWindow, type StatusAdvice } from './status-advice.js';
import { FAVICON_SVG, STATUS_CHARTS, STATUS_PAGE_HTML } from './status-html.js';

/** One route over the last window. */
export interface RouteStatus {
  server: string;
  method: string;
  route: string;
  /** Requests finished per second. */
  rps: number;
  /** Responses with status ≥ 500 (and 499: client gone) per second. */
  errorsPerSec: number;
  p50Ms: number | null;
  p99Ms: number | null;
  /** Finished since start. */
  total: number;
}

/** What the status page polls. */
export interface StatusSnapshot {
  /** Wall clock, ms since the epoch. */
  time: number;
  /** Length of the window the rates cover, ms. */
  windowMs: number;
  greenlets: { running: number; waiting: number; scheduled: number };
  spawnedPerSec: number;
  loop: { delayP99Ms: number; delayMaxMs: number; utilization: number };
  blocking: { events: number; blockedMs: number };
  operations: Record<string, number>;
  pools: { name: string; threads: Record<string, number>; queueSize: number; utilization: number }[];
  routes: RouteStatus[];
  /**
   * What to change, by `greenhub advise`'s rules over the last advice window (served by
   * `mountStatusPage()`; a bare {@link StatusSource} leaves it out).
   */
  advice?: StatusAdvice;
}

/**
 * Computes {@link StatusSnapshot}s, each over the window since the previous one. Close it to stop
 * sampling the event loop.
 *
 * @example
 * ```ts
 * const status = new StatusSource();
 * setInterval(() => console.log(status.snapshot().loop), 1000);
 * ```
 */
export class StatusSource {
  private readonly loop: LoopWindow = openLoopWindow();
  private last = now();
  private lastSpawned = getHub().stats().spawned;
  /** Each pool's busy seconds at the previous snapshot, for its utilization over the window. */
  private readonly lastBusy = new Map<string, number>();
  private readonly lastRoutes = new Map<
    string,
    { total: number; errors: number; duration: HistogramSnapshot }
  >();

  snapshot(): StatusSnapshot {
    const t = now();
    const windowMs = Math.max(1, t - this.last);
    this.last = t;
    const stats = getHub().stats();
    const perSec = (n: number) => (n * 1000) / windowMs;
    const spawned = stats.spawned - this.lastSpawned;
    this.lastSpawned = stats.spawned;
    const loop = this.loop.take();
    const routes: RouteStatus[] = [];
    for (const source of metricsSources('server')) {
      let snap: ReturnType<typeof source.metricsSnapshot>;
      try {
        snap = source.metricsSnapshot();
      } catch {
        continue;
      }
      for (const r of snap.routes ?? []) routes.push(this.routeStatus(source.name, r, perSec));
    }
    const busy = new Map<string, number>();
    const pools = metricsSources('threadpool').flatMap((source) => {
      try {
        const s = source.metricsSnapshot();
        const busySeconds = s.runSeconds.sumSeconds;
        busy.set(source.name, busySeconds);
        const before = this.lastBusy.get(source.name) ?? busySeconds;
        const utilization = Math.min(
          1,
          Math.max(0, ((busySeconds - before) * 1000) / (windowMs * s.maxThreads)),
        );
        return [
          {
            name: source.name,
            threads: { ...s.threads },
            queueSize: s.queueSize,
            utilization: Number.isFinite(utilization) ? utilization : 0,
          },
        ];
      } catch {
        return [];
      }
    });
    this.lastBusy.clear();
    for (const [name, seconds] of busy) this.lastBusy.set(name, seconds);
    return {
      time: Date.now(),
      windowMs,
      greenlets: {
        running: stats.greenlets.running,
        waiting: stats.greenlets.waiting,
        scheduled: stats.greenlets.scheduled,
      },
      spawnedPerSec: perSec(spawned),
      loop: { delayP99Ms: loop.p99 * 1000, delayMaxMs: loop.max * 1000, utilization: loop.utilization },
      blocking: { events: stats.blockingEvents, blockedMs: stats.blockedMs },
      operations: stats.operations,
      pools,
      routes,
    };
  }

  /** Stop sampling. */
  close(): void {
    this.loop.close();
  }

  private routeStatus(server: string, r: RouteSnapshot, perSec: (n: number) => number): RouteStatus {
    const key = `${server} ${r.method} ${r.route}`;
    let total = 0;
    let errors = 0;
    for (const [status, n] of Object.entries(r.statuses)) {
      total += n;
      if (Number(status) >= 499) errors += n;
    }
    const before = this.lastRoutes.get(key);
    this.lastRoutes.set(key, { total, errors, duration: r.duration });
    const window = histogramDelta(r.duration, before?.duration);
    return {
      server,
      method: r.method,
      route: r.route,
      rps: perSec(total - (before?.total ?? 0)),
      errorsPerSec: perSec(errors - (before?.errors ?? 0)),
      p50Ms: quantileMs(window, 0.5),
      p99Ms: quantileMs(window, 0.99),
      total,
    };
  }
}

/** Options of {@link mountStatusPage}. */
export interface StatusPageOptions {
  /** Where the page is served (default `/status`; `/` for a dashboard-only server). */
  path?: string;
  /** The page's title (default `greenhub status`). */
  title?: string;
  /**
   * The registry whose greenhub metrics the page's advice reads (default: prom-client's global
   * registry, where `collectMetrics()` registers by default).
   */
  register?: RegistryLike;
  /** How long each advice window lasts, ms (default 10000). */
  adviceWindowMs?: number;
}

/** What {@link mountStatusPage} mounted. */
export interface MountedStatusPage {
  /** The page's path, and its JSON's (`<path>/status.json`, or `/status.json` for `/`). */
  readonly pagePath: string;
  readonly jsonPath: string;
  /** Stop sampling the loop (the routes stay mounted until the server stops). */
  close(): void;
}

/** The status page's default advice window: long enough that one busy second does not flip it. */
const ADVICE_WINDOW_MS = 10_000;

let uplotFiles: { js: Buffer; css: Buffer } | undefined;

function loadUplot(): { js: Buffer; css: Buffer } {
  if (uplotFiles === undefined) {
    const require = createRequire(import.meta.url);
    const main = require.resolve('uplot');
    const dir = main.slice(0, main.lastIndexOf('/') + 1);
    uplotFiles = { js: readFileSync(`${dir}uPlot.iife.min.js`), css: readFileSync(`${dir}uPlot.min.css`) };
  }
  return uplotFiles;
}

/**
 * Serve the live status page on `server`: greenlets by state, loop delay, blocking, pool threads,
 * queue and utilization, request rate and latency by route, updated every second, and what to
 * change (`greenhub advise`'s rules on the registry's greenhub metrics, every `adviceWindowMs`). On an
 * {@link HttpServer} the page is mounted (answered without a pool slot); on a plain `http.Server`
 * its requests are answered first and every other request goes to the server's own listeners.
 *
 * @example
 * ```ts
 * import { HttpServer, mountStatusPage } from 'greenhub/server';
 * const server = new HttpServer(8080, app);
 * mountStatusPage(server, { path: '/' });
 * await server.start(); // open http://127.0.0.1:8080/
 * ```
 */
export function mountStatusPage(server: HttpServer | Server, opts?: StatusPageOptions): MountedStatusPage {
  const where = 'mountStatusPage()';
  checkOptions(where, 'opts', opts, ['path', 'title', 'register', 'adviceWindowMs']);
  if (opts?.register !== undefined) checkRegistry(where, 'opts.register', opts.register);
  const adviceWindowMs = opts?.adviceWindowMs ?? ADVICE_WINDOW_MS;
  checkInteger(where, 'opts.adviceWindowMs', adviceWindowMs, 0, 'a non-negative integer');
  const advice = new AdviceWindow(opts?.register, adviceWindowMs);
  const path = opts?.path ?? '/status';
  checkString(where, 'opts.path', path);
  if (!path.startsWith('/')) throw rangeError(where, 'opts.path', "a path starting with '/'", path);
  const title = opts?.title ?? 'greenhub status';
  checkString(where, 'opts.title', title);
  const base = path.endsWith('/') ? path.slice(0, -1) : path;
  const jsonPath = `${base}/status.json`;
  const uplot = loadUplot();
  const source = new StatusSource();
  const html = STATUS_PAGE_HTML.replace('%CHARTS%', JSON.stringify(STATUS_CHARTS))
    .replaceAll('%TITLE%', escapeHtml(title))
    .replaceAll('%JSON%', jsonPath)
    .replaceAll('%BASE%', base);
  const routes = new Map<string, (req: IncomingMessage, res: ServerResponse) => void>([
    [path, (_req, res) => send(res, 'text/html; charset=utf-8', html)],
    [
      jsonPath,
      async (_req, res) => {
        // A failed read keeps the previous advice; the snapshot is served regardless.
        await advice.refresh().catch(() => undefined);
        send(res, 'application/json', JSON.stringify({ ...source.snapshot(), advice: advice.current }));
      },
    ],
    [`${base}/uplot.min.js`, (_req, res) => send(res, 'text/javascript', uplot.js, 'public, max-age=3600')],
    [`${base}/uplot.min.css`, (_req, res) => send(res, 'text/css', uplot.css, 'public, max-age=3600')],
    [`${base}/favicon.ico`, (_req, res) => send(res, 'image/svg+xml', FAVICON_SVG, 'public, max-age=3600')],
  ]);
  if (server instanceof HttpServer) {
    // The page and its files are the service's plumbing, not application routes: not counted.
    for (const [p, handler] of routes) server.mount(p, handler, { metrics: false });
  } else if (
    server !== null &&
    typeof server === 'object' &&
    typeof (server as Server).listeners === 'function'
  ) {
    const others = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
    server.removeAllListeners('request');
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const handler = routes.get(q === -1 ? url : url.slice(0, q));
      if (handler !== undefined) handler(req, res);
      else for (const listener of others) listener.call(server, req, res);
    });
  } else {
    throw typeError(where, 'server', 'an HttpServer or an http.Server', server);
  }
  return { pagePath: path, jsonPath, close: () => source.close() };
}

function send(res: ServerResponse, type: string, body: string | Buffer, cache = 'no-store'): void {
  res.writeHead(200, {
    'content-type': type,
    'cache-control': cache,
    'content-length': Buffer.byteLength(body),
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
