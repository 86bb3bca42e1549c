/**
 * HttpServer: Node's HTTP/1.1 machinery with a greenlet per request — gevent's `WSGIServer` for
 * `(req, res)` handlers.
 *
 * A request's life: headers parsed → (body size checked) → a slot in the pool (waiting, FIFO, while
 * it is full; `503` past `maxPending` waiting requests) → the handler runs in a greenlet named
 * `METHOD /route` → the response finishes → counted by method, route and status.
 *
 * Cancellation reaches the handler's greenlet from two places: `requestTimeout` passes (kill with
 * `RequestTimeoutError`; the client gets `503` at once if nothing was sent), or `stop()` runs out of
 * time; with `cancelOnDisconnect: true`, also from a client that disconnects before the response is
 * complete (kill with `GreenletExit`). By default a disconnect does not kill (gevent's pywsgi does
 * not): the handler runs to its end, and can watch `disconnectSignal(req)` to stop early. A kill
 * lands at the handler's next checkpoint — every hub wait, and every core I/O call once
 * `greenhub/patch` is applied.
 *
 * Security defaults, all adjustable: listen on 127.0.0.1; headers at most 16 KiB (`431`); the body
 * at most 1 MiB (`413`, checked from `Content-Length` and again as it arrives); a client must send
 * its headers within 10 s and its whole request within 30 s (slow-client / slowloris protection,
 * `408`); idle keep-alive connections close after 5 s.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type net from 'node:net';
import { GreenletExit, RequestTimeoutError } from '../errors.js';
import type { Greenlet } from '../greenlet/greenlet.js';
import { report, runOutside } from '../greenlet/internal.js';
import { nativeClearTimeout, nativeSetTimeout, now } from '../internal/natives.js';
import { nativeHttpCreateServer } from '../internal/net-natives.js';
import {
  checkBoolean,
  checkDelay,
  checkFunction,
  checkInteger,
  checkOptions,
  checkString,
  rangeError,
} from '../internal/validate.js';
import type { ServerMetricsSnapshot } from '../metrics/sources.js';
import { BASE_OPTIONS, BaseServer, type BaseServerOptions } from './base-server.js';
import { rememberResponse } from './disconnect-signal.js';
import { HttpStats } from './http-stats.js';
import type { Listener } from './listener.js';
import { defaultRoute, methodLabel } from './route.js';

/** A request handler: runs in its own greenlet; when it returns, the response is ended. */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => unknown;

/** Options of {@link HttpServer}. Durations in milliseconds. */
export interface HttpServerOptions extends BaseServerOptions {
  /** Longest a request may take from its headers to its response, slot wait included; `null`: no limit (default). */
  requestTimeout?: number | null;
  /** Time a client has to send the request headers (default 10 000). */
  headersTimeout?: number;
  /** Time a client has to send the whole request, headers and body (default 30 000). */
  receiveTimeout?: number;
  /** Idle time after which a keep-alive connection is closed (default 5 000). */
  keepAliveTimeout?: number;
  /** Largest request head in bytes (default 16 384). */
  maxHeaderSize?: number;
  /** Largest request body in bytes; `null`: no limit (default 1 MiB). */
  maxBodySize?: number | null;
  /** The route label of a request in metrics and its greenlet's name (default: the path with ids replaced by `:id`). */
  route?: (req: IncomingMessage) => string;
  /** Distinct routes counted separately; later ones count as `other` (default 100). */
  maxRoutes?: number;
  /**
   * Kill the handler's greenlet (`GreenletExit`) when its client disconnects before the response is
   * complete (default `false`: the handler runs to its end; it can watch `disconnectSignal(req)`).
   */
  cancelOnDisconnect?: boolean;
}

const HTTP_OPTIONS = [
  ...BASE_OPTIONS,
  'requestTimeout',
  'headersTimeout',
  'receiveTimeout',
  'keepAliveTimeout',
  'maxHeaderSize',
  'maxBodySize',
  'route',
  'maxRoutes',
  'cancelOnDisconnect',
] as const;

/** @internal one request in flight */
export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  t0: number;
  method: string;
  route: string;
  greenlet: Greenlet | null;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Answered by the server itself (timeout, overload, too large): the handler's output is moot. */
  preempted: boolean;
  /** Counted in the HTTP metrics (false for mounts such as `/metrics` and the status page's files). */
  counted: boolean;
}

/** Options of {@link HttpServer.mount}. */
export interface MountOptions {
  /**
   * Count the route's requests in the HTTP metrics and the status page (default `true`). `false`
   * for the service's own plumbing — `/metrics`, a status page's files — which is not one of the
   * application's routes.
   */
  metrics?: boolean;
}

const TEXT = 'text/plain; charset=utf-8';

/**
 * An HTTP server that runs `handler(req, res)` in a new greenlet for each request.
 *
 * @example
 * ```ts
 * import { HttpServer } from 'greenhub/server';
 * import { sleep } from 'greenhub';
 *
 * const server = new HttpServer(8080, async (req, res) => {
 *   await sleep(10);                        // a checkpoint: a timeout lands here
 *   res.writeHead(200, { 'content-type': 'text/plain' });
 *   res.end(`hello from ${req.url}\n`);
 * }, { spawn: 200, requestTimeout: 5_000 });
 * await server.start();
 * console.log(server.url);                  // http://127.0.0.1:8080
 * // …on shutdown: finish running requests for up to 10 s, then kill the rest
 * await server.stop(10_000);
 * ```
 */
export class HttpServer extends BaseServer {
  /** Per-route counts and durations (also exported as metrics). */
  readonly stats: HttpStats;
  private readonly http: Server;
  private readonly connectionListener: (socket: net.Socket) => void;
  private readonly handler: HttpHandler;
  private readonly requestTimeout: number | null;
  private readonly cancelOnDisconnect: boolean;
  private readonly maxBodySize: number | null;
  private readonly route: (req: IncomingMessage) => string;
  private readonly mounts = new Map<string, { handler: HttpHandler; counted: boolean }>();
  private readonly exchanges = new Set<Exchange>();
  private inFlight = 0;
  private waitingForSlot = 0;

  /** `listener`: a port (host 127.0.0.1), `'host:port'`, `{ host, port }` or `{ path }`. */
  constructor(listener: Listener, handler: HttpHandler, opts?: HttpServerOptions) {
    const where = 'new HttpServer()';
    checkOptions(where, 'opts', opts, HTTP_OPTIONS);
    super(where, listener, opts, 'http');
    checkFunction(where, 'handler', handler);
    this.handler = handler;
    this.requestTimeout =
      opts?.requestTimeout === undefined || opts.requestTimeout === null
        ? null
        : checkDelay(where, 'opts.requestTimeout', opts.requestTimeout);
    const headersTimeout =
      opts?.headersTimeout === undefined
        ? 10_000
        : checkDelay(where, 'opts.headersTimeout', opts.headersTimeout);
    const receiveTimeout =
      opts?.receiveTimeout === undefined
        ? 30_000
        : checkDelay(where, 'opts.receiveTimeout', opts.receiveTimeout);
    if (headersTimeout > receiveTimeout)
      throw rangeError(
        where,
        'opts.headersTimeout',
        `at most \`receiveTimeout\` (${receiveTimeout})`,
        headersTimeout,
      );
    const keepAliveTimeout =
      opts?.keepAliveTimeout === undefined
        ? 5_000
        : checkDelay(where, 'opts.keepAliveTimeout', opts.keepAliveTimeout);
    const maxHeaderSize = opts?.maxHeaderSize ?? 16_384;
    checkInteger(where, 'opts.maxHeaderSize', maxHeaderSize, 256, 'an integer of at least 256 (bytes)');
    const maxBodySize = opts?.maxBodySize === undefined ? 1_048_576 : opts.maxBodySize;
    if (maxBodySize !== null)
      checkInteger(where, 'opts.maxBodySize', maxBodySize, 0, 'a non-negative integer (bytes) or null');
    this.maxBodySize = maxBodySize;
    if (opts?.route !== undefined) checkFunction(where, 'opts.route', opts.route);
    this.route = opts?.route ?? ((req) => defaultRoute(req.url ?? '/'));
    const maxRoutes = opts?.maxRoutes ?? 100;
    checkInteger(where, 'opts.maxRoutes', maxRoutes, 1, 'a positive integer');
    this.stats = new HttpStats(maxRoutes);
    if (opts?.cancelOnDisconnect !== undefined)
      checkBoolean(where, 'opts.cancelOnDisconnect', opts.cancelOnDisconnect);
    this.cancelOnDisconnect = opts?.cancelOnDisconnect ?? false;

    this.http = nativeHttpCreateServer(
      {
        maxHeaderSize,
        headersTimeout,
        requestTimeout: receiveTimeout,
        keepAliveTimeout,
        // Node checks header and request timeouts on this interval (30 s by default): slow clients
        // would get up to 30 s more than they are allowed.
        connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeout / 4))),
      },
      this.onRequest,
    );
    // Connections are accepted paused and handed to Node's HTTP machinery when admitted.
    (this.http as { pauseOnConnect?: boolean }).pauseOnConnect = true;
    const [connectionListener] = this.http.listeners('connection') as ((socket: net.Socket) => void)[];
    this.connectionListener = connectionListener!;
    this.http.removeAllListeners('connection');
    this.http.on('connection', this.onConnection);
  }

  /** `http://127.0.0.1:8080` once started (`http://unix:<path>` for a Unix socket). */
  get url(): string {
    const a = this.address;
    if (a === null) return '';
    if (typeof a === 'string') return `http://unix:${a}`;
    return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  }

  /**
   * Serve `path` (exact match, query ignored) with `handler`, called directly on the event loop —
   * no greenlet, no pool slot — so that it answers even when the pool is full. For small, quick
   * handlers such as a status page or a health check; it is counted in metrics like any route
   * unless `opts.metrics` is `false`.
   *
   * @example
   * ```ts
   * server.mount('/healthz', (_req, res) => res.end('ok'));
   * server.mount('/metrics', serveMetrics, { metrics: false }); // not an application route
   * ```
   */
  mount(path: string, handler: HttpHandler, opts?: MountOptions): void {
    checkString('HttpServer.mount()', 'path', path);
    if (!path.startsWith('/'))
      throw rangeError('HttpServer.mount()', 'path', "a path starting with '/'", path);
    checkFunction('HttpServer.mount()', 'handler', handler);
    checkOptions('HttpServer.mount()', 'opts', opts, ['metrics']);
    if (opts?.metrics !== undefined) checkBoolean('HttpServer.mount()', 'opts.metrics', opts.metrics);
    this.mounts.set(path, { handler, counted: opts?.metrics !== false });
  }

  protected get listener(): net.Server {
    return this.http;
  }

  protected async admit(socket: net.Socket): Promise<void> {
    runOutside(handOver, this, socket);
  }

  /** @internal give an admitted connection to Node's HTTP parser and start reading it */
  _handOver(socket: net.Socket): void {
    this.connectionListener.call(this.http, socket);
    socket.resume();
  }

  protected refuse(socket: net.Socket, reason: string): void {
    this.countRejected(reason);
    const body = reason === 'stopping' ? 'server stopping\n' : 'server overloaded, retry later\n';
    socket.end(
      `HTTP/1.1 503 Service Unavailable\r\ncontent-type: ${TEXT}\r\nretry-after: 1\r\nconnection: close\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      () => socket.destroy(),
    );
  }

  protected extraSnapshot(): Partial<ServerMetricsSnapshot> {
    return { protocol: 'http', requestsInFlight: this.inFlight, routes: this.stats.snapshot() };
  }

  protected override beforeDrain(): void {
    for (const ex of this.exchanges) if (!ex.res.headersSent) ex.res.shouldKeepAlive = false;
    this.http.closeIdleConnections();
  }

  protected override afterDrain(): void {
    this.http.closeAllConnections();
  }

  private readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const t0 = now();
    const path = pathOf(req.url);
    const mounted = this.mounts.get(path);
    let route: string;
    if (mounted !== undefined) route = path;
    else {
      try {
        route = this.route(req);
      } catch {
        route = 'other';
      }
    }
    const ex: Exchange = {
      req,
      res,
      t0,
      method: methodLabel(req.method),
      route: mounted?.counted === false ? route : this.stats.routeLabels.value(route),
      greenlet: null,
      timer: undefined,
      preempted: false,
      counted: mounted?.counted !== false,
    };
    this.exchanges.add(ex);
    rememberResponse(req, res);
    res.once('close', () => this.finished(ex));
    if (this.state !== 'started') res.shouldKeepAlive = false;
    if (mounted !== undefined) {
      Promise.resolve()
        .then(() => mounted.handler(req, res))
        .catch((error: unknown) => this.fail(ex, error));
      return;
    }
    if (this.maxBodySize !== null && !this.limitBody(ex, this.maxBodySize)) return;
    if (this.state !== 'started') {
      this.answer(ex, 503, 'server stopping\n', 'stopping');
      return;
    }
    if (this.pool?.full() && this.waitingForSlot >= this.maxPending) {
      this.answer(ex, 503, 'server overloaded, retry later\n', 'overload');
      return;
    }
    if (this.requestTimeout !== null) ex.timer = nativeSetTimeout(onTimeout, this.requestTimeout, this, ex);
    this.waitingForSlot++;
    this.spawnHandler(`${ex.method} ${ex.route}`, serve, [this, ex]).then(
      (greenlet) => {
        this.waitingForSlot--;
        ex.greenlet = greenlet;
        if (ex.preempted || res.destroyed) void greenlet.kill({ block: false });
      },
      (error: unknown) => {
        this.waitingForSlot--;
        this.fail(ex, error);
      },
    );
  };

  /** @internal the handler greenlet's body */
  async _serve(ex: Exchange): Promise<void> {
    const { req, res } = ex;
    if (ex.preempted || res.destroyed) return;
    this.inFlight++;
    try {
      await this.handler(req, res);
    } catch (error) {
      if (!ex.preempted) {
        if (error instanceof GreenletExit) this.respond(res, 503, 'server stopping\n');
        else this.respond(res, 500, 'internal server error\n');
      }
      throw error; // the greenlet fails (or is killed): counted, and reported unless observed
    } finally {
      this.inFlight--;
    }
    // A client that left: whatever the handler did or did not write is moot.
    if (res.writableEnded || ex.preempted || res.destroyed) return;
    if (res.headersSent) {
      res.end();
      return;
    }
    this.respond(res, 500, 'internal server error\n');
    throw new Error(`HttpServer handler returned without responding to ${req.method} ${req.url}`);
  }

  /** @internal `requestTimeout` passed */
  _timedOut(ex: Exchange): void {
    ex.timer = undefined;
    if (ex.res.writableEnded) return;
    this.countRejected('request_timeout');
    ex.preempted = true;
    if (ex.res.headersSent) ex.res.destroy();
    else this.respond(ex.res, 503, 'request timed out\n');
    const error = new RequestTimeoutError(
      `${ex.method} ${ex.req.url} took longer than ${this.requestTimeout} ms`,
    );
    if (ex.greenlet !== null) void ex.greenlet.kill({ exception: error, block: false });
  }

  /** Count the body as it arrives; `false` if `Content-Length` already says it is too large. */
  private limitBody(ex: Exchange, max: number): boolean {
    const { req } = ex;
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > max) {
      this.answer(ex, 413, `request body larger than ${max} bytes\n`, 'body_too_large', true);
      return false;
    }
    let seen = 0;
    const push = req.push;
    req.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
      if (chunk !== null && chunk !== undefined) {
        seen += (chunk as Buffer).length;
        if (seen > max) {
          if (!ex.preempted) {
            ex.preempted = true;
            this.answer(ex, 413, `request body larger than ${max} bytes\n`, 'body_too_large', true);
            // The handler must not take a truncated body for a whole one: its reads fail with the
            // same GreenletExit that kills it (after the 413 is flushed), also in unpatched I/O.
            const exit = new GreenletExit(`request body larger than ${max} bytes`);
            ex.res.once('finish', () => req.destroy(exit));
            if (ex.greenlet !== null) void ex.greenlet.kill({ exception: exit, block: false });
          }
          return false;
        }
      }
      return push.call(req, chunk, encoding);
    };
    return true;
  }

  /** Answer on the handler's behalf and count why. */
  private answer(ex: Exchange, status: number, body: string, reason: string, close = false): void {
    this.countRejected(reason);
    ex.preempted = true;
    if (close) ex.res.shouldKeepAlive = false;
    this.respond(ex.res, status, body, status === 503 ? { 'retry-after': '1' } : {});
    if (close) ex.res.once('finish', () => ex.req.socket.destroySoon());
  }

  private respond(
    res: ServerResponse,
    status: number,
    body: string,
    headers: Record<string, string> = {},
  ): void {
    if (res.headersSent || res.destroyed) {
      if (!res.writableEnded) res.destroy();
      return;
    }
    res.writeHead(status, { 'content-type': TEXT, 'content-length': Buffer.byteLength(body), ...headers });
    res.end(body);
  }

  /** A mounted handler or a spawn failed. */
  private fail(ex: Exchange, error: unknown): void {
    this.respond(ex.res, 500, 'internal server error\n');
    report(error, null);
  }

  /** The response closed (finished, or the client went away): count it; with `cancelOnDisconnect`, stop its handler. */
  private finished(ex: Exchange): void {
    this.exchanges.delete(ex);
    if (ex.timer !== undefined) nativeClearTimeout(ex.timer);
    const { res } = ex;
    const status = res.writableFinished ? res.statusCode : 499;
    if (ex.counted) this.stats.record(ex.method, ex.route, status, now() - ex.t0);
    if (this.cancelOnDisconnect && !res.writableFinished && ex.greenlet !== null && !ex.greenlet.dead) {
      ex.preempted = true;
      void ex.greenlet.kill({ exception: new GreenletExit('client disconnected'), block: false });
    }
  }
}

function pathOf(url: string | undefined): string {
  if (url === undefined) return '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function handOver(server: HttpServer, socket: net.Socket): void {
  server._handOver(socket);
}

function serve(server: HttpServer, ex: Exchange): Promise<void> {
  return server._serve(ex);
}

function onTimeout(server: HttpServer, ex: Exchange): void {
  server._timedOut(ex);
}
