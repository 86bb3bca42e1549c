/**
 * greenhub/server: gevent's servers for Node — a greenlet per connection (`StreamServer`) or per
 * request (`HttpServer`), a spawn pool that pauses accepting while full, graceful `stop(timeout)`,
 * request metrics — plus the live status page and a bounded load generator.
 *
 * @example
 * ```ts
 * import { HttpServer } from 'greenhub/server';
 * const server = new HttpServer(8080, async (req, res) => res.end('ok'), { spawn: 100 });
 * await server.serveForever();
 * ```
 */
export type { BaseServer, BaseServerOptions, SpawnOption } from './base-server.js';
export { disconnectSignal } from './disconnect-signal.js';
export { type HttpHandler, HttpServer, type HttpServerOptions, type MountOptions } from './http-server.js';
export { HTTP_BUCKETS_SECONDS, type HttpStats } from './http-stats.js';
export type { Listener } from './listener.js';
export { defaultRoute } from './route.js';
export {
  type MountedStatusPage,
  mountStatusPage,
  type RouteStatus,
  type StatusPageOptions,
  type StatusSnapshot,
  StatusSource,
} from './status.js';
export {
  type PeerAddress,
  type StreamHandler,
  StreamServer,
  type StreamServerOptions,
} from './stream-server.js';

import { activateDeferredPatches } from '../patch/deferred.js';

// Under `greenhub/register` with its default settings, greenhub is loaded now: patch
// (patch/deferred.ts). Called after every import above has been evaluated.
activateDeferredPatches();
