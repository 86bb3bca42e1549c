/**
 * Where a server listens, as gevent accepts it (`(host, port)`, `':8080'`), translated: a port
 * number, a `'host:port'` string (`':8080'` and `'[::1]:8080'` too), `{ host, port }`, or
 * `{ path }` for a Unix socket. The host defaults to 127.0.0.1, never to every interface: exposing a
 * server is a decision to write down (`'0.0.0.0:8080'`). An empty host (`{ host: '' }`, an unset
 * `HOST` variable passed on) is refused: Node would listen on every interface.
 */
import { checkHost, checkInteger, checkString, typeError } from '../internal/validate.js';

/** Where to listen. */
export type Listener = number | string | { host?: string; port?: number } | { path: string };

export type ListenTarget = { host: string; port: number } | { path: string };

export const DEFAULT_HOST = '127.0.0.1';

export function parseListener(where: string, listener: unknown): ListenTarget {
  if (typeof listener === 'number') {
    checkInteger(where, 'listener', listener, 0, 'a port from 0 to 65535', 65535);
    return { host: DEFAULT_HOST, port: listener };
  }
  if (typeof listener === 'string') {
    const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listener);
    if (m === null)
      throw typeError(where, 'listener', "a port, 'host:port', { host, port } or { path }", listener);
    const port = Number(m[3]);
    checkInteger(where, 'listener', port, 0, 'a port from 0 to 65535', 65535);
    // ':8080' means the default host; a blank one (' :8080') is refused like `{ host: ' ' }`.
    const host = m[1] ?? (m[2] === '' ? DEFAULT_HOST : m[2]);
    checkHost(where, 'listener', host);
    return { host: host as string, port };
  }
  if (listener !== null && typeof listener === 'object' && !Array.isArray(listener)) {
    const l = listener as { host?: unknown; port?: unknown; path?: unknown };
    if (l.path !== undefined) {
      checkString(where, 'listener.path', l.path);
      return { path: l.path as string };
    }
    const port = l.port ?? 0;
    checkInteger(where, 'listener.port', port, 0, 'a port from 0 to 65535', 65535);
    const host = l.host ?? DEFAULT_HOST;
    checkHost(where, 'listener.host', host);
    return { host: host as string, port: port as number };
  }
  throw typeError(where, 'listener', "a port, 'host:port', { host, port } or { path }", listener);
}
