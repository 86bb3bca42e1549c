/**
 * Request metrics of patched `http.Server`s, so that an unmodified application run under
 * `greenhub/register` (or `greenhub run`) fills the same `greenhub_http_*` and
 * `greenhub_server_*` series as greenhub's own `HttpServer`: per method and bounded route
 * (`/users/:id`, never `/users/42`), status and duration, recorded when each response ends.
 *
 * The route is the framework's template when one is known by then — Express sets `req.route.path`
 * (under `req.baseUrl`) — else {@link defaultRoute} of the original URL. Either way at most
 * {@link MAX_ROUTES} distinct routes per server are labelled as themselves; later ones share the
 * label `other`, so 10 000 distinct paths from a scanner cannot make 10 000 series.
 *
 * A server becomes a metrics source on its first request and stops being one when it closes.
 */
import type { IncomingMessage } from 'node:http';
import type { AddressInfo, Server } from 'node:net';
import { registerMetricsSource, type ServerMetricsSnapshot } from '../metrics/sources.js';
import { HttpStats } from '../server/http-stats.js';
import { defaultRoute } from '../server/route.js';

/** Routes beyond this many per server are counted as `other`. */
export const MAX_ROUTES = 64;

export class PatchedServerStats {
  readonly http = new HttpStats(MAX_ROUTES);
  inFlight = 0;
  overloaded = 0;
  private accepted = 0;
  private open = 0;

  constructor(private readonly server: Server) {}

  /** A connection was accepted (seen through the patched `emit('connection')`). */
  connected(): void {
    this.accepted++;
    this.open++;
  }

  /** A connection it accepted closed. */
  disconnected(): void {
    this.open--;
  }

  /** The `server` label: `http:<port>` once listening. */
  name(): string {
    const address = this.server.address() as AddressInfo | string | null;
    return typeof address === 'object' && address !== null ? `http:${address.port}` : 'http';
  }

  snapshot(): ServerMetricsSnapshot {
    return {
      protocol: 'http',
      connections: this.open,
      connectionsAccepted: this.accepted,
      rejected: this.overloaded === 0 ? {} : { overloaded: this.overloaded },
      requestsInFlight: this.inFlight,
      routes: this.http.snapshot(),
    };
  }
}

const byServer = new WeakMap<Server, PatchedServerStats>();

/** The stats of a patched server, registered as a metrics source on first use. */
export function statsFor(server: Server): PatchedServerStats {
  let stats = byServer.get(server);
  if (stats === undefined) {
    const created = new PatchedServerStats(server);
    stats = created;
    byServer.set(server, created);
    const unregister = registerMetricsSource({
      kind: 'server',
      name: created.name(),
      metricsSnapshot: () => created.snapshot(),
    });
    server.once('close', unregister);
  }
  return stats;
}

interface FrameworkRequest {
  /** Express: the matched route (its `path` is relative to `baseUrl`). */
  route?: { path?: unknown };
  baseUrl?: unknown;
  /** Express: the URL before routers stripped their mount paths from `req.url`. */
  originalUrl?: unknown;
}

/** The route template a framework left on the request, if any (`/users/:id`). */
export function routeTemplate(req: IncomingMessage): string | undefined {
  const r = req as IncomingMessage & FrameworkRequest;
  const path = r.route?.path;
  if (typeof path !== 'string') return undefined;
  const full = `${typeof r.baseUrl === 'string' ? r.baseUrl : ''}${path}`;
  if (full === '') return '/';
  return full.length > 1 && full.endsWith('/') ? full.slice(0, -1) : full;
}

/** The bounded route label of a request whose response ended. */
export function routeLabel(stats: PatchedServerStats, req: IncomingMessage): string {
  const original = (req as IncomingMessage & FrameworkRequest).originalUrl;
  const url = typeof original === 'string' ? original : (req.url ?? '/');
  return stats.http.routeLabels.value(routeTemplate(req) ?? defaultRoute(url));
}
