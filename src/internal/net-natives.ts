/**
 * Originals of the `node:http` and `node:net` functions greenhub's own servers and clients use (the
 * metrics server, StreamServer, HttpServer, the load generator), captured when this module is first
 * loaded — as natives.ts does for timers (greenhub's own I/O never goes through a patch). Kept apart from natives.ts so that
 * importing `greenhub` alone does not load `node:http`; `greenhub/patch` imports this module before
 * it patches `http` or `net`, so the captures are the originals.
 *
 * The modules come from the registry's `builtin()` (`process.getBuiltinModule()`), not `import`: an ES import of a builtin builds
 * its ES-module facade, which reads every export, and on Node 24 `node:http`'s lazy exports load
 * undici (20–50 ms of CPU, in a CommonJS server that never asked for it, when greenhub loads at its
 * first listen).
 */
import { builtin, originalOf } from '../patch/registry.js';

const http = builtin<typeof import('node:http')>('http');
const net = builtin<typeof import('node:net')>('net');

// originalOf: the preload's stand-in for `http.request` may be in place while this module loads.
export const nativeHttpCreateServer: typeof http.createServer = http.createServer;
export const nativeHttpRequest = originalOf(http, 'request') as typeof http.request;
export const NativeHttpAgent: typeof http.Agent = http.Agent;
export const nativeNetCreateServer: typeof net.createServer = net.createServer;

/**
 * Set on every server greenhub creates for itself. The patch layer must leave servers carrying it
 * alone: HttpServer already runs each request in its own greenlet, and the metrics server must not
 * count its own scrapes as application greenlets.
 */
export const kGreenhubServer: unique symbol = Symbol.for('greenhub.server');

/** True for 127.0.0.0/8, ::1, `localhost` (and IPv4-mapped loopback). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return net.isIPv4(v4) && v4.startsWith('127.');
}
