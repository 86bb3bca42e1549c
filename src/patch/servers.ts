/**
 * The servers a graceful shutdown stops: every `net.Server` (http, https, tls, plain) that calls
 * `listen()` once the signal patch is in, and every server whose requests the http patch handles.
 */
import type { Server } from 'node:net';

const servers = new Set<Server>();

function forget(this: Server): void {
  servers.delete(this);
}

/** Remember `server` until it closes. */
export function trackServer(server: Server): void {
  if (servers.has(server)) return;
  servers.add(server);
  server.once('close', forget);
}

/** The servers known to be listening (or about to). */
export function trackedServers(): Server[] {
  return [...servers];
}
