/**
 * `startMetricsServer()`: a small HTTP server for Prometheus and operators, apart from the
 * application's own server (so that a scrape never waits in the application's request pool):
 *
 * - `GET /metrics` — the registry in Prometheus text format;
 * - `GET /healthz` — `ok` while the event loop answers;
 * - `GET /debug/greenlets` — run info (every live greenlet, what it waits on and for how long) as
 *   text, or JSON with `?format=json` or `Accept: application/json`. Off unless `debug` is set; with
 *   `token`, only for `Authorization: Bearer <token>`.
 *
 * Secure defaults: it listens on 127.0.0.1; run info is refused on a non-loopback address without
 * a token, since it names every greenlet and its spawn site.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import client from 'prom-client';
import { getHub } from '../greenlet/hub.js';
import { isLoopbackHost, kGreenhubServer, nativeHttpCreateServer } from '../internal/net-natives.js';
import {
  checkBoolean,
  checkHost,
  checkInteger,
  checkOptions,
  checkString,
  rangeError,
} from '../internal/validate.js';
import { collectMetrics, hasCollection, type MetricsCollection } from './collect.js';
import { checkRegistry, type RegistryLike } from './registry.js';

/** Options of {@link startMetricsServer}. */
export interface MetricsServerOptions {
  /** Default 9464 (Prometheus' registered port for Node exporters); 0 picks a free port. */
  port?: number;
  /** Default `127.0.0.1`; `''` is refused (Node would listen on every interface). */
  host?: string;
  /** The registry to serve (default prom-client's global `register`); greenhub's metrics are collected into it if they are not yet. */
  register?: RegistryLike;
  /** Serve `/debug/greenlets` (default `false`). */
  debug?: boolean;
  /** Require `Authorization: Bearer <token>` for `/debug/greenlets`. */
  token?: string;
  /** Do not keep the process alive for the metrics server alone (default `false`), as `greenhub run` does. */
  unref?: boolean;
}

/** A running metrics server. */
export interface MetricsServer {
  /** `http://127.0.0.1:9464` */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** The registry it serves. */
  readonly register: RegistryLike;
  /** Stop listening, end open connections, and close the metrics collection it started (if any). */
  close(): Promise<void>;
}

/**
 * Serve `/metrics`, `/healthz` and (with `debug`) `/debug/greenlets`. Resolves once listening.
 *
 * @example
 * ```ts
 * import { startMetricsServer } from 'greenhub/metrics';
 * const metrics = await startMetricsServer({ port: 9464, debug: true });
 * console.log(`scrape ${metrics.url}/metrics`);
 * // on shutdown
 * await metrics.close();
 * ```
 */
export async function startMetricsServer(opts?: MetricsServerOptions): Promise<MetricsServer> {
  const where = 'startMetricsServer()';
  checkOptions(where, 'opts', opts, ['port', 'host', 'register', 'debug', 'token', 'unref']);
  const port = opts?.port ?? 9464;
  checkInteger(where, 'opts.port', port, 0, 'an integer from 0 to 65535', 65535);
  const host = opts?.host ?? '127.0.0.1';
  checkHost(where, 'opts.host', host);
  const register = opts?.register ?? client.register;
  checkRegistry(where, 'opts.register', register);
  const debug = opts?.debug ?? false;
  checkBoolean(where, 'opts.debug', debug);
  const unref = opts?.unref ?? false;
  checkBoolean(where, 'opts.unref', unref);
  const token = opts?.token;
  if (token !== undefined) {
    checkString(where, 'opts.token', token);
    if (token.length < 8) throw rangeError(where, 'opts.token', 'a string of at least 8 characters', token);
  }
  if (debug && token === undefined && !isLoopbackHost(host)) {
    throw rangeError(
      where,
      'opts.token',
      `set when \`debug\` is on and \`host\` is not a loopback address (${JSON.stringify(host)}): run info names every greenlet and its spawn site`,
      token,
    );
  }
  const collection: MetricsCollection | null = hasCollection(register) ? null : collectMetrics({ register });
  const expected = token === undefined ? null : digest(`Bearer ${token}`);

  const server: Server = nativeHttpCreateServer((req, res) => {
    handle(req, res, register, debug, expected).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', `${String(error)}\n`);
      else res.destroy();
    });
  });
  (server as unknown as Record<symbol, boolean>)[kGreenhubServer] = true;
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  if (unref) server.unref();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    collection?.close();
    throw error;
  }
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${address.port}`,
    host: address.address,
    port: address.port,
    register,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        collection?.close();
      });
      return closing;
    },
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  register: RegistryLike,
  debug: boolean,
  expected: Buffer | null,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname;
  const known = path === '/metrics' || path === '/healthz' || (debug && path === '/debug/greenlets');
  if (!known) return send(res, 404, 'text/plain; charset=utf-8', 'not found: try /metrics\n');
  if (req.method !== 'GET' && req.method !== 'HEAD')
    return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { allow: 'GET, HEAD' });
  if (path === '/metrics') return send(res, 200, register.contentType, await register.metrics());
  if (path === '/healthz') return send(res, 200, 'text/plain; charset=utf-8', 'ok\n');
  if (expected !== null) {
    const given = req.headers.authorization;
    if (given === undefined || !timingSafeEqual(digest(given), expected))
      return send(res, 401, 'text/plain; charset=utf-8', 'unauthorized\n', {
        'www-authenticate': 'Bearer realm="greenhub"',
      });
  }
  const hub = getHub();
  const json =
    url.searchParams.get('format') === 'json' || (req.headers.accept ?? '').includes('application/json');
  if (json) {
    return send(
      res,
      200,
      'application/json; charset=utf-8',
      `${JSON.stringify({ stats: hub.stats(), runInfo: hub.runInfo() })}\n`,
    );
  }
  return send(res, 200, 'text/plain; charset=utf-8', `${hub.formatRunInfo({ limit: 10_000 })}\n`);
}
