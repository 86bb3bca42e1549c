/**
 * Request metrics of patched `http.Server`s, so that an unmodified application run under
 * `greenhub/register` (or `greenhub run`) fills the same `greenhub_http_*` and
 * `greenhub_server_*` series as greenhub's own `HttpServer`: per method and bounded route
 * (`/users/:id`, never `/users/42`), status and duration, recorded when each response ends.
 *
 * A server becomes a metrics source on its first request and stops being one when it closes.
 */
import type { AddressInfo, Server, Socket } from 'node:net';
import { registerMetricsSource, type ServerMetricsSnapshot } from '../metrics/sources.js';
import { HttpStats } from '../server/http-stats.js';

/** Routes beyond this many per server are counted as `other`. */
const MAX_ROUTES = 64;

export class PatchedServerStats {
  readonly http = new HttpStats(MAX_ROUTES);
  inFlight = 0;
  overloaded = 0;
  private accepted = 0;
  private open = 0;

  constructor(private readonly server: Server) {}

  /** A connection was accepted (seen through the patched `emit('connection')`). */
  connected(socket: Socket): void {
    this.accepted++;
    this.open++;
    socket.once('close', () => this.open--);
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
