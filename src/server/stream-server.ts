/**
 * StreamServer: a TCP (or Unix socket) server that runs `handle(socket, address)` in a greenlet per
 * connection — gevent's `StreamServer`.
 */
import type net from 'node:net';
import { addLink, CallbackLink } from '../greenlet/internal.js';
import { nativeClearTimeout, nativeSetTimeout } from '../internal/natives.js';
import { nativeNetCreateServer } from '../internal/net-natives.js';
import { checkFunction, checkOptions } from '../internal/validate.js';
import type { ServerMetricsSnapshot } from '../metrics/sources.js';
import { BASE_OPTIONS, BaseServer, type BaseServerOptions } from './base-server.js';
import type { Listener } from './listener.js';

/** The peer of a connection, as gevent's `address` tuple. */
export interface PeerAddress {
  address: string | undefined;
  port: number | undefined;
  family: string | undefined;
}

/** Options of {@link StreamServer}. */
export interface StreamServerOptions extends BaseServerOptions {
  /** After `handle` returns, how long the connection may take to flush and close before it is destroyed, ms (default 5000). */
  closeTimeout?: number;
}

/** A connection handler: runs in its own greenlet; the connection is closed when it returns. */
export type StreamHandler = (socket: net.Socket, address: PeerAddress) => unknown;

/**
 * A server that runs `handle(socket, address)` in a new greenlet for each connection. When the
 * handler returns (or fails, or is killed), the connection is ended. With `spawn` as a Pool or a
 * size, at most that many connections are handled at once; the others wait, unread, for a slot.
 *
 * The socket is a plain `net.Socket`: read it with `for await (const chunk of socket)`,
 * `socket.on('data', …)` or `events.once`; with `greenhub/patch` its reads are checkpoints.
 *
 * @example
 * ```ts
 * import { StreamServer } from 'greenhub/server';
 * const echo = new StreamServer(6000, async (socket) => {
 *   for await (const chunk of socket) socket.write(chunk);
 * }, { spawn: 100 });
 * await echo.serveForever();
 * ```
 */
export class StreamServer extends BaseServer {
  private readonly server: net.Server;
  private readonly handle: StreamHandler;
  private readonly closeTimeout: number;

  /**
   * `listener`: a port (host 127.0.0.1), `'host:port'`, `{ host, port }` or `{ path }`.
   * The server listens on `start()` / `serveForever()`.
   */
  constructor(listener: Listener, handle: StreamHandler, opts?: StreamServerOptions) {
    const where = 'new StreamServer()';
    checkOptions(where, 'opts', opts, [...BASE_OPTIONS, 'closeTimeout']);
    super(where, listener, opts, 'stream');
    checkFunction(where, 'handle', handle);
    this.handle = handle;
    this.closeTimeout = opts?.closeTimeout ?? 5000;
    this.server = nativeNetCreateServer({ pauseOnConnect: true }, this.onConnection);
  }

  protected get listener(): net.Server {
    return this.server;
  }

  protected async admit(socket: net.Socket): Promise<void> {
    // Handed over as a fresh socket: reading starts when the handler reads (Readable's setter;
    // the typings mark it read-only).
    (socket as { readableFlowing: boolean | null }).readableFlowing = null;
    const address: PeerAddress = {
      address: socket.remoteAddress,
      port: socket.remotePort,
      family: socket.remoteFamily,
    };
    const greenlet = await this.spawnHandler(
      `${this.name} ${address.address ?? 'local'}:${address.port ?? ''}`,
      this.handle,
      [socket, address],
    );
    addLink(greenlet, new CallbackLink(() => this.release(socket)));
  }

  protected refuse(socket: net.Socket, reason: string): void {
    this.countRejected(reason);
    socket.destroy();
  }

  protected extraSnapshot(): Partial<ServerMetricsSnapshot> {
    return { protocol: 'stream' };
  }

  /** The handler is done: end the connection, and destroy it if it does not close in time. */
  private release(socket: net.Socket): void {
    if (socket.destroyed) return;
    socket.end();
    const timer = nativeSetTimeout(() => socket.destroy(), this.closeTimeout);
    timer.unref();
    socket.once('close', () => nativeClearTimeout(timer));
  }
}
