/**
 * The primary's metrics endpoint under `greenhub run --workers`: `/metrics` (every worker's metrics,
 * gathered at scrape time and combined, see aggregate.ts) and `/healthz`, on the port `greenhub run`
 * would otherwise serve from inside the application. The primary is not patched: plain `node:http`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A running cluster metrics endpoint. */
export interface ClusterMetricsServer {
  /** `http://127.0.0.1:9464` */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serve `scrape()`'s text on `/metrics`, and on `/healthz` `ok` while `healthy()`, else 503.
 * Resolves once listening.
 *
 * @example
 * ```ts
 * const server = await serveClusterMetrics('127.0.0.1', 9464, () => primary.scrape(), () => primary.listening > 0);
 * await server.close();
 * ```
 */
export async function serveClusterMetrics(
  host: string,
  port: number,
  scrape: () => Promise<string>,
  healthy: () => boolean,
): Promise<ClusterMetricsServer> {
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const send = (status: number, type: string, body: string): void => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (path === '/healthz')
      return healthy()
        ? send(200, 'text/plain; charset=utf-8', 'ok\n')
        : send(503, 'text/plain; charset=utf-8', 'no worker is listening\n');
    if (path !== '/metrics') return send(404, 'text/plain; charset=utf-8', 'not found: try /metrics\n');
    scrape().then(
      (text) => send(200, 'text/plain; version=0.0.4; charset=utf-8', text),
      (error: unknown) => send(500, 'text/plain; charset=utf-8', `${String(error)}\n`),
    );
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shown}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
