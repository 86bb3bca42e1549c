/**
 * `patchHttp()`, server side: every request a `http.Server` or `https.Server` hands to its
 * `'request'` listeners runs in a greenlet of its own — what `gunicorn -k gevent` gives a WSGI app.
 *
 * - The greenlet is named after the request (`GET /orders`; `name` option for bounded route
 *   names) and lives until the response is complete. Everything the handler starts is accounted to
 *   it and shows in run info.
 * - A client that disconnects before the response is complete does **not** kill the greenlet by
 *   default (gevent's pywsgi does not either, and an unmodified application expects its own
 *   `ECONNABORTED`s, not a kill): the handler goes on as on plain Node, and the greenlet lives until
 *   the promises the handlers returned settle (at once for callback-style handlers).
 *   `disconnectSignal(req)` gives a handler an `AbortSignal` for the disconnect.
 *   `cancelOnDisconnect: true` kills the greenlet instead (`GreenletExit`): the upstream fetches,
 *   sockets, timers and child processes it is waiting on stop.
 * - `requestTimeout`: a request still running after that many ms is interrupted with a `Timeout`
 *   (its pending operations reject with it). If the handler has not answered by the next turn,
 *   the client gets `504 Gateway Timeout`; headers the handler tries to set afterwards are ignored
 *   rather than thrown.
 * - `maxConcurrency`: at most that many requests of one server run at once (a greenlet `Pool`);
 *   a request arriving while the pool is full gets `503 Service Unavailable` at once, never a
 *   place in an unbounded backlog.
 * - A handler that throws, or whose promise rejects, gets a `500` sent for it (when it had not
 *   answered); the error is reported through the hub's `onError` instead of crashing the process.
 *   A rejection with a `GreenletExit` (the kill after a disconnect, or `disconnectSignal`'s reason)
 *   is not an error.
 * - Request metrics are labelled by route: the framework's route template when one is known at the
 *   end of the request (Express: `req.baseUrl` + `req.route.path`), else `defaultRoute(url)`; at
 *   most 64 distinct routes per server, later ones count as `other` (see http-metrics.ts).
 * - The request shows as an operation of kind `request` (run info, `stats().operations`).
 * - Once a graceful shutdown begins (signal.ts calls {@link drainHttpServer}), responses not yet
 *   started, and those of requests still arriving on open keep-alive connections, carry
 *   `connection: close`: each connection closes after its current response instead of carrying a
 *   next request into a process about to exit. Connections accepted whose first request has not
 *   arrived yet are counted ({@link connectionsAwaitingRequest}), so that the shutdown can let
 *   that request in rather than reset it (a `node:cluster` worker may be handed a connection just
 *   before it stops accepting, and read its request a moment later).
 *
 * Handlers start on the hub's run queue (like every spawned greenlet), in arrival order, in the
 * same event-loop turn. Other server events (`'upgrade'`, `'connect'`, `'checkContinue'`) are not
 * wrapped.
 */

import type { EventEmitter } from 'node:events';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { GreenletExit } from '../errors.js';
import { Greenlet } from '../greenlet/greenlet.js';
import { Completion, registerOperation, startNow } from '../greenlet/internal.js';
import { Operation } from '../greenlet/operation.js';
import { Pool } from '../greenlet/pool.js';
import { Timeout } from '../greenlet/timeout.js';
import { linkFirst, nodes, unlink } from '../internal/intrusive-list.js';
import { nativeClearTimeout, nativeSetImmediate, nativeSetTimeout, now } from '../internal/natives.js';
import { kGreenhubServer } from '../internal/net-natives.js';
import {
  checkBoolean,
  checkFunction,
  checkInteger,
  checkOptions,
  checkTimeout,
} from '../internal/validate.js';
import { rememberResponse } from '../server/disconnect-signal.js';
import { methodLabel } from '../server/route.js';
import { type Fn, wrapFunctions } from './call.js';
import { type PatchedServerStats, routeLabel, statsFor } from './http-metrics.js';
import { patchableBuiltin } from './registry.js';
import { trackServer } from './servers.js';

/**
 * Options of the http server patch (`patchHttp(opts)`, `patchAll({ http: opts })`).
 *
 * @example
 * ```ts
 * patchHttp({ requestTimeout: 30_000, maxConcurrency: 256, name: (req) => router.routeOf(req) });
 * ```
 */
export interface HttpServerOptions {
  /** Interrupt a request still running after this many ms and answer 504 (default: none). */
  requestTimeout?: number | null;
  /** At most this many requests per server at once; more get 503 (default: no limit). */
  maxConcurrency?: number | null;
  /** The greenlet name of a request (default `` `${method} ${path}` ``, query string left out). */
  name?: (req: IncomingMessage) => string;
  /**
   * Kill a request's greenlet (`GreenletExit`) when its client disconnects before the response is
   * complete (default `false`: the handler goes on, as on plain Node; see `disconnectSignal`).
   */
  cancelOnDisconnect?: boolean;
}

export const HTTP_SERVER_OPTIONS = [
  'requestTimeout',
  'maxConcurrency',
  'name',
  'cancelOnDisconnect',
] as const;

/** Server options, checked. */
export interface Settings {
  requestTimeoutMs: number | null;
  maxConcurrency: number | null;
  name: (req: IncomingMessage) => string;
  cancelOnDisconnect: boolean;
}

const defaults: Settings = {
  requestTimeoutMs: null,
  maxConcurrency: null,
  name: requestName,
  cancelOnDisconnect: false,
};
let settings: Settings = defaults;

/**
 * What the patch keeps per server, found with one lookup per request: its metrics, its responses
 * in progress (what a drain must reach), its accepted connections whose first request has not
 * been emitted yet, its pool under `maxConcurrency`.
 */
class ServerState {
  /**
   * Its requests in progress, newest first (internal/intrusive-list.ts). Not a `Set`: a Set that
   * gains and loses an entry per request kept whole requests alive through V8's young-generation
   * collections until the next full one — on Node 24 every run, on Node 20 most: six times the
   * garbage collector's time of a hello-world server, and 10–25 % of its throughput.
   */
  inFlight: Exchange | null = null;
  readonly awaitingRequest = new Set<Socket>();
  pool: Pool | null = null;
  constructor(
    readonly stats: PatchedServerStats,
    /** Shutting down: its responses close their connections. */
    public draining: boolean,
  ) {}
}

const states = new WeakMap<object, ServerState>();
/** Servers a shutdown began to drain (kept apart: a server may drain before its first connection). */
const draining = new WeakSet<object>();
/** Woken when a connection leaves its server's `awaitingRequest` (its request came, or it closed). */
let arrivalWaiters: (() => void)[] = [];

function stateOf(server: Server): ServerState {
  let state = states.get(server);
  if (state === undefined)
    states.set(server, (state = new ServerState(statsFor(server), draining.has(server))));
  return state;
}

function connectionOpened(state: ServerState, socket: Socket): void {
  state.awaitingRequest.add(socket);
  state.stats.connected();
  socket.once('close', () => {
    state.stats.disconnected();
    requestArrived(state, socket);
  });
}

function requestArrived(state: ServerState, socket: Socket): void {
  const awaiting = state.awaitingRequest;
  if (awaiting.size === 0 || !awaiting.delete(socket) || arrivalWaiters.length === 0) return;
  const waiters = arrivalWaiters;
  arrivalWaiters = [];
  for (const wake of waiters) wake();
}

/**
 * How many connections `server` accepted whose first request has not arrived (and which are still
 * open): what a graceful shutdown should wait a moment for before it closes every connection.
 */
export function connectionsAwaitingRequest(server: object): number {
  return states.get(server)?.awaitingRequest.size ?? 0;
}

/**
 * Resolves `true` when a connection of any server gets its first request or closes, `false` after
 * `ms`. Whoever waits clears its own timer.
 */
export function nextRequestArrival(ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return new Promise<boolean>((resolve) => {
    arrivalWaiters.push(() => resolve(true));
    timer = nativeSetTimeout(resolve, ms, false);
  }).finally(() => nativeClearTimeout(timer));
}

/**
 * A graceful shutdown begins: every response of `server` not yet started, and every later one,
 * says `connection: close`, so that keep-alive clients reconnect (and find the listener closed)
 * rather than send a next request that the exit would reset. Does nothing to other servers.
 */
export function drainHttpServer(server: object): void {
  draining.add(server);
  const state = states.get(server);
  if (state === undefined) return;
  state.draining = true;
  for (const { res } of nodes(state.inFlight)) if (!res.headersSent) res.shouldKeepAlive = false;
}

/** `GET /orders/42` for `GET /orders/42?full=1`. */
export function requestName(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  return `${req.method ?? 'GET'} ${query === -1 ? url : url.slice(0, query)}`;
}

/** Check server options (`name` is how the message calls them: `opts`, `opts.http`). */
export function checkHttpServerOptions(
  where: string,
  name: string,
  opts: HttpServerOptions | undefined,
): Settings {
  checkOptions(where, name, opts, HTTP_SERVER_OPTIONS);
  const requestTimeoutMs = checkTimeout(where, `${name}.requestTimeout`, opts?.requestTimeout);
  const max = opts?.maxConcurrency;
  if (max !== undefined && max !== null)
    checkInteger(where, `${name}.maxConcurrency`, max, 1, 'a positive integer, null or undefined');
  if (opts?.name !== undefined) checkFunction(where, `${name}.name`, opts.name);
  const cancel = opts?.cancelOnDisconnect;
  if (cancel !== undefined) checkBoolean(where, `${name}.cancelOnDisconnect`, cancel);
  return {
    requestTimeoutMs,
    maxConcurrency: max ?? null,
    name: opts?.name ?? requestName,
    cancelOnDisconnect: cancel ?? false,
  };
}

/** Apply checked server options; later calls replace earlier ones. */
export function configureHttpServer(next: Settings): void {
  settings = next;
}

export function resetHttpServer(): void {
  settings = defaults;
}

function poolFor(state: ServerState, size: number): Pool {
  let pool = state.pool;
  if (pool === null || pool.size !== size) state.pool = pool = new Pool(size);
  return pool;
}

function answer(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
  res.end(`${text}\n`);
}

/**
 * The request as an operation of its greenlet, and what ends the greenlet (its body returns
 * {@link completion}): the response is complete, or the client left and the handlers' promises
 * settled, or a handler failed. A kill fails it so that the greenlet ends, but reports "not
 * delivered": the code the kill is meant for is the handler, which may be waiting on a timer whose
 * callback only the kill's last resort can reach (see greenlet/operation.ts).
 *
 * On the way every request takes (the response completes) no promise is made: the body is no async
 * function, and the greenlet ends through a Completion; a failure takes {@link failed}, which
 * answers for the handler.
 */
class RequestCall extends Operation {
  readonly completion = new Completion();
  /** Promises returned by the handlers, not yet settled. */
  private pending = 0;
  private clientLeft = false;
  private settled = false;
  constructor(
    greenlet: Greenlet,
    private readonly res: ServerResponse,
    private readonly timeout: Timeout | null,
  ) {
    super('request', greenlet, abortRequest);
  }
  finish(): void {
    this.end();
    if (this.settled) return;
    this.settled = true;
    this.timeout?.cancel();
    this.completion.settle(false, undefined);
  }
  fail(error: unknown): void {
    this.end();
    if (this.settled) return;
    this.settled = true;
    const { completion } = this;
    failed(this.res, this.timeout, error).then(
      () => completion.settle(false, undefined),
      (reason: unknown) => completion.settle(true, reason),
    );
  }
  /** A handler returned `promise`: a client that leaves waits for it. */
  watch(promise: Promise<unknown>): void {
    this.pending++;
    promise.then(
      () => {
        if (--this.pending === 0 && this.clientLeft) this.finish();
      },
      (error: unknown) => this.fail(error),
    );
  }
  /** The client disconnected (not cancelling): done once the handlers' promises settle. */
  clientGone(): void {
    this.clientLeft = true;
    if (this.pending === 0) this.finish();
  }
}

function abortRequest(this: RequestCall, reason: unknown): boolean {
  this.fail(reason);
  return false;
}

/**
 * A request failed with `error`: its Timeout (the handler gets this turn to answer, then 504), a
 * kill (the greenlet ends with it), or a handler's error (500, and the greenlet fails with it).
 */
async function failed(res: ServerResponse, timeout: Timeout | null, error: unknown): Promise<void> {
  try {
    if (error === timeout) {
      // The handler's own operations failed with the same Timeout: give it this turn to answer.
      await new Promise((resolve) => nativeSetImmediate(resolve));
      if (!res.headersSent) {
        answer(res, 504, 'Gateway Timeout');
        ignoreLateHeaders(res);
      }
      return;
    }
    if (error instanceof GreenletExit) throw error;
    answer(res, 500, 'Internal Server Error');
    throw error;
  } finally {
    timeout?.cancel();
  }
}

const kExchange = Symbol('greenhub request');

/** One request: what `serve`, its greenlet and its response's `'close'` share. */
class Exchange {
  /** @internal its place in its server's requests in progress */
  _prev: Exchange | null = null;
  /** @internal */
  _next: Exchange | null = null;
  request: RequestCall | null = null;
  /** The response closed before it was complete. */
  clientLeft = false;
  greenlet: Greenlet | null = null;
  constructor(
    readonly server: Server,
    readonly state: ServerState,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly started: number,
    readonly timeoutMs: number | null,
    readonly cancelOnDisconnect: boolean,
  ) {}
}

function serve(server: Server, state: ServerState, req: IncomingMessage, res: ServerResponse): boolean {
  if (server.listenerCount('request') === 0) return false;
  trackServer(server);
  const { maxConcurrency, name, requestTimeoutMs, cancelOnDisconnect } = settings;
  const started = now();
  rememberResponse(req, res);
  if (state.draining) res.shouldKeepAlive = false;
  const exchange = new Exchange(server, state, req, res, started, requestTimeoutMs, cancelOnDisconnect);
  let greenlet: Greenlet;
  let pool: Pool | null = null;
  if (maxConcurrency === null) greenlet = new Greenlet(handle, exchange);
  else {
    pool = poolFor(state, maxConcurrency);
    if (pool.full()) {
      state.stats.overloaded++;
      res.setHeader('retry-after', '1');
      answer(res, 503, 'Service Unavailable');
      state.stats.http.record(methodLabel(req.method), routeLabel(state.stats, req), 503, now() - started);
      return true;
    }
    greenlet = pool.applyAsync(handle, [exchange]);
  }
  exchange.greenlet = greenlet;
  greenlet.name = name === requestName ? requestName(req) : nameOf(name, req);
  state.inFlight = linkFirst(state.inFlight, exchange);
  state.stats.inFlight++;
  (res as unknown as Record<symbol, Exchange>)[kExchange] = exchange;
  res.on('close', responseClosed);
  // The handler runs now, inside this emit, as it would without greenhub (a pool's greenlet waits
  // for its turn in the pool instead).
  if (pool === null) startNow(greenlet);
  return true;
}

/** A response's `'close'` (one listener for every response, its request found on it). */
function responseClosed(this: ServerResponse): void {
  const exchange = (this as unknown as Record<symbol, Exchange | null>)[kExchange];
  if (exchange === null || exchange === undefined) return;
  (this as unknown as Record<symbol, Exchange | null>)[kExchange] = null;
  const { state, req, res } = exchange;
  const { stats } = state;
  state.inFlight = unlink(state.inFlight, exchange);
  stats.inFlight--;
  // 499 (nginx's "client closed request") when the client left before the response ended.
  const status = res.writableFinished ? res.statusCode : 499;
  stats.http.record(methodLabel(req.method), routeLabel(stats, req), status, now() - exchange.started);
  if (res.writableFinished) exchange.request?.finish();
  else if (exchange.cancelOnDisconnect)
    void exchange.greenlet!.kill({ exception: new GreenletExit('client disconnected'), block: false });
  else {
    exchange.clientLeft = true;
    exchange.request?.clientGone();
  }
}

/** The greenlet name from the `name` option; a throwing or odd option falls back to the default. */
function nameOf(name: (req: IncomingMessage) => string, req: IncomingMessage): string {
  try {
    const named = name(req);
    return typeof named === 'string' ? named : requestName(req);
  } catch {
    return requestName(req);
  }
}

/** Call the `'request'` listeners as `emit` would, watching the promises async handlers return. */
function runHandlers(exchange: Exchange, request: RequestCall): void {
  const { server, req, res } = exchange;
  for (const listener of server.rawListeners('request')) {
    const returned = Reflect.apply(listener, server, [req, res]) as unknown;
    if (returned instanceof Promise) request.watch(returned);
  }
}

/** The body of a request greenlet: settles with its request (see {@link RequestCall}). */
function handle(exchange: Exchange): Completion {
  const timeout = exchange.timeoutMs === null ? null : Timeout.start(exchange.timeoutMs);
  const request = registerOperation(new RequestCall(exchange.greenlet!, exchange.res, timeout));
  exchange.request = request;
  try {
    runHandlers(exchange, request);
  } catch (error) {
    request.fail(error);
    return request.completion;
  }
  if (exchange.clientLeft) request.clientGone();
  return request.completion;
}

/** After greenhub answered for the handler, headers it sets late must not throw. */
function ignoreLateHeaders(res: ServerResponse): void {
  const self = (): ServerResponse => res;
  Object.assign(res, { writeHead: self, setHeader: self, appendHeader: self, removeHeader: () => undefined });
}

function wrapEmit(original: Fn): Fn {
  return function emit(this: Server, ...args: unknown[]): unknown {
    // greenhub's own servers (HttpServer, the metrics server) run their requests in greenlets and
    // count their metrics already.
    if ((this as unknown as Record<symbol, unknown>)[kGreenhubServer] === true)
      return Reflect.apply(original, this, args);
    if (args[0] === 'connection') connectionOpened(stateOf(this), args[1] as Socket);
    if (args[0] !== 'request' || args.length !== 3) return Reflect.apply(original, this, args);
    const state = stateOf(this);
    requestArrived(state, (args[1] as IncomingMessage).socket);
    return serve(this, state, args[1] as IncomingMessage, args[2] as ServerResponse);
  };
}

/** Patch request handling of `http.Server` and `https.Server`. Returns what it replaced. */
export function patchHttpServer(): string[] {
  const done: string[] = [];
  for (const name of ['http', 'https'] as const) {
    const module = patchableBuiltin<{ Server: { prototype: EventEmitter } }>(name);
    if (module === undefined) continue;
    for (const fn of wrapFunctions('http', module.Server.prototype, ['emit'], wrapEmit))
      done.push(`${name}.Server.prototype.${fn}`);
  }
  return done;
}
