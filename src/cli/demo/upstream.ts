/**
 * The demo's local upstream: a plain HTTP server on 127.0.0.1 (a free port) that answers every
 * request after a fixed latency, standing in for a database or another service so that the demo
 * needs nothing outside the process. It runs on the original `http` and timers, marked as greenhub's
 * own server: it is scenery, not part of the service being measured, and must not show up as
 * greenlets or routes.
 */
import type { AddressInfo } from 'node:net';
import { nativeClearTimeout, nativeSetTimeout } from '../../internal/natives.js';
import { kGreenhubServer, nativeHttpCreateServer } from '../../internal/net-natives.js';

/** A running upstream. */
export interface Upstream {
  /** `http://127.0.0.1:<port>/` */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Listen on 127.0.0.1 and answer `upstream ok` after `latencyMs`.
 *
 * @example
 * ```ts
 * const upstream = await startUpstream(20);
 * await fetch(upstream.url); // ~20 ms
 * ```
 */
export async function startUpstream(latencyMs: number): Promise<Upstream> {
  const pending = new Set<ReturnType<typeof setTimeout>>();
  const server = nativeHttpCreateServer((_req, res) => {
    const timer = nativeSetTimeout(() => {
      pending.delete(timer);
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 12 }).end('upstream ok\n');
    }, latencyMs);
    pending.add(timer);
    res.once('close', () => {
      pending.delete(timer);
      nativeClearTimeout(timer);
    });
  });
  // Left alone by the http patch: no greenlet per request, not counted with the service's routes.
  (server as unknown as Record<symbol, boolean>)[kGreenhubServer] = true;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of pending) nativeClearTimeout(timer);
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
