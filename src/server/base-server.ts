/**
 * What StreamServer and HttpServer share (gevent's `BaseServer`): listening, the spawn pool,
 * "accepting pauses while the pool is full", graceful stop, and metrics.
 *
 * Node cannot stop accepting on a listening socket without closing it, so the listener accepts with
 * `pauseOnConnect` (nothing is read from a new connection) and hands each connection to a queue; an
 * *acceptor* greenlet takes them one by one and admits each only when the pool has a free slot. While
 * the pool is full, new connections wait unread, in order — the client sees what it sees with gevent,
 * whose listening socket's backlog fills. The queue is bounded (`maxPending`); a connection beyond it
 * is refused at once (StreamServer: closed; HttpServer: `503` with `Retry-After`), never held without
 * bound.
 *
 * `stop(timeout)`: stop listening, refuse the connections still waiting, wait up to `timeout` for
 * the handler greenlets, then kill the rest (and close their connections, so that one stuck in
 * unpatched I/O ends too).
 */

import type net from 'node:net';
import { InvalidStateError, QueueShutDown } from '../errors.js';
import { Event } from '../greenlet/event.js';
import { Greenlet } from '../greenlet/greenlet.js';
import { runOutside } from '../greenlet/internal.js';
import { Group, Pool } from '../greenlet/pool.js';
import { Queue } from '../greenlet/queue.js';
import { kGreenhubServer } from '../internal/net-natives.js';
import { checkDelay, checkInteger, checkString, rangeError, typeError } from '../internal/validate.js';
import { registerMetricsSource, type ServerMetricsSnapshot } from '../metrics/sources.js';
import { type ListenTarget, parseListener } from './listener.js';

/** How handler greenlets are spawned: a `Pool` (shared or not), a pool size, or `'default'` (unbounded). */
export type SpawnOption = Pool | number | 'default';

/** Options common to StreamServer and HttpServer. */
export interface BaseServerOptions {
  /** A `Pool`, a size for a new Pool, or `'default'`: unbounded, as gevent's default (default `'default'`). */
  spawn?: SpawnOption;
  /** Connections that may wait for a free slot; more are refused (default 1024). */
  maxPending?: number;
  /** `stop()`'s default timeout, ms (default 1000, as gevent's `stop_timeout`). */
  stopTimeout?: number;
  /** The `server` label in metrics and the acceptor greenlet's name (default `http` or `stream`). */
  name?: string;
}

export const BASE_OPTIONS = ['spawn', 'maxPending', 'stopTimeout', 'name'] as const;

/**
 * `starting`: `start()` is binding. A `stop()` then does not race it: it marks the server
 * `stopping` and waits for the bind to settle; `start()` sees that, closes what it bound without
 * accepting, and both settle with the server stopped (a SIGTERM during startup must not leave a
 * listening socket behind a `stop()` that already resolved).
 */
type State = 'new' | 'starting' | 'started' | 'stopping' | 'stopped';

export abstract class BaseServer {
  /** The `server` label in metrics. */
  readonly name: string;
  /** The pool handler greenlets are spawned in (`null`: unbounded). */
  readonly pool: Pool | null;
  /** Every handler greenlet this server spawned and that is still alive. */
  protected readonly handlers = new Group();
  protected readonly target: ListenTarget;
  protected readonly stopTimeout: number;
  protected readonly sockets = new Set<net.Socket>();
  protected readonly rejected: Record<string, number> = {};
  protected accepted = 0;
  protected state: State = 'new';
  /** Connections waiting for a slot, in arrival order (bounded by `maxPending` with `holding`). */
  private readonly pending = new Queue<net.Socket>();
  /** The connection the acceptor took and holds until a slot frees. */
  private holding: net.Socket | null = null;
  protected readonly maxPending: number;
  private acceptor: Greenlet | null = null;
  /** The bind `start()` is waiting for, while `starting` (and after, for a `stop()` that came then). */
  private binding: Promise<void> | null = null;
  private readonly stopped = new Event();
  private unregister: (() => void) | null = null;

  protected constructor(
    where: string,
    listener: unknown,
    opts: BaseServerOptions | undefined,
    defaultName: string,
  ) {
    this.target = parseListener(where, listener);
    const spawn = opts?.spawn ?? 'default';
    if (spawn instanceof Pool) this.pool = spawn.size === null ? null : spawn;
    else if (typeof spawn === 'number') {
      checkInteger(where, 'opts.spawn', spawn, 1, "a Pool, a positive pool size or 'default'");
      this.pool = new Pool(spawn);
    } else if (spawn === 'default') this.pool = null;
    else throw typeError(where, 'opts.spawn', "a Pool, a positive pool size or 'default'", spawn);
    const maxPending = opts?.maxPending ?? 1024;
    checkInteger(where, 'opts.maxPending', maxPending, 0, 'a non-negative integer');
    this.maxPending = maxPending;
    this.stopTimeout =
      opts?.stopTimeout === undefined ? 1000 : checkDelay(where, 'opts.stopTimeout', opts.stopTimeout);
    this.name = opts?.name ?? defaultName;
    checkString(where, 'opts.name', this.name);
    if (this.name === '') throw rangeError(where, 'opts.name', 'a non-empty string', this.name);
  }

  /** The listening `net.Server` (for `address()`, `ref()`…; do not listen or close it yourself). */
  protected abstract get listener(): net.Server;

  /** Admit one connection: a slot is free (or the pool is unbounded). Runs in the acceptor greenlet. */
  protected abstract admit(socket: net.Socket): Promise<void>;

  /** Refuse one connection that cannot wait (`maxPending` reached, or stopping). */
  protected abstract refuse(socket: net.Socket, reason: string): void;

  /** Extra figures for metrics and the status page. */
  protected abstract extraSnapshot(): Partial<ServerMetricsSnapshot>;

  /** True between `start()` and `stop()`. */
  get started(): boolean {
    return this.state === 'started';
  }

  /** True once stopped. */
  get closed(): boolean {
    return this.state === 'stopped';
  }

  /** The bound address (`{ address, family, port }`, or the Unix socket path); `null` before `start()`. */
  get address(): net.AddressInfo | string | null {
    return this.listener.address();
  }

  /**
   * Start listening; resolves once bound. A second call while starting or started waits for the
   * same bind. If `stop()` is called before the bind completes, `start()` closes what it bound
   * and resolves without accepting (`closed` is then true), or rejects with the bind's error.
   */
  start(): Promise<void> {
    if (this.state === 'started') return Promise.resolve();
    if (this.state === 'starting') return this.binding!;
    if (this.state !== 'new')
      return Promise.reject(new InvalidStateError(`${this}: start() after stop(); create a new server`));
    this.state = 'starting';
    this.binding = this.bind();
    return this.binding;
  }

  private async bind(): Promise<void> {
    const listener = this.listener;
    (listener as unknown as Record<symbol, boolean>)[kGreenhubServer] = true;
    try {
      await new Promise<void>((resolve, reject) => {
        listener.once('error', reject);
        const done = () => {
          listener.off('error', reject);
          resolve();
        };
        if ('path' in this.target) listener.listen({ path: this.target.path }, done);
        else listener.listen({ host: this.target.host, port: this.target.port }, done);
      });
    } catch (error) {
      // A failed bind leaves the server new (it may be started again), unless stop() came meanwhile.
      if (this.state === 'starting') this.state = 'new';
      throw error;
    }
    if (this.state !== 'starting') {
      // stop() was called while binding: it waits for this; nothing was accepted (onConnection
      // destroys connections unless started).
      await new Promise<void>((resolve) => listener.close(() => resolve()));
      return;
    }
    this.state = 'started';
    const acceptor = new Greenlet(() => this.acceptLoop());
    acceptor.name = `${this.name} acceptor`;
    acceptor.start();
    this.acceptor = acceptor;
    this.unregister = registerMetricsSource({
      kind: 'server',
      name: this.name,
      metricsSnapshot: () => this.snapshot(),
    });
  }

  /** `start()`, then wait until the server is stopped (gevent's `serve_forever`). */
  async serveForever(): Promise<void> {
    await this.start();
    await this.stopped.wait();
  }

  /**
   * Stop accepting, refuse connections still waiting for a slot, wait up to `timeout` ms (default
   * `stopTimeout`) for running handlers, then kill the rest and close their connections. Idempotent.
   */
  async stop(timeout?: number): Promise<void> {
    const ms =
      timeout === undefined
        ? this.stopTimeout
        : checkDelay(`${this.constructor.name}.stop()`, 'timeout', timeout);
    if (this.state === 'new') {
      this.state = 'stopped';
      this.stopped.set();
      return;
    }
    if (this.state === 'starting') {
      this.state = 'stopping';
      try {
        await this.binding;
      } catch {
        // The bind failed: start() rejects with its error; there is nothing to close.
      }
      this.state = 'stopped';
      this.stopped.set();
      return;
    }
    if (this.state !== 'started') return this.stopped.wait().then(() => undefined);
    this.state = 'stopping';
    const closed = new Promise<void>((resolve) => this.listener.close(() => resolve()));
    for (const socket of this.pending.shutdown({ immediate: true })) this.refuse(socket, 'stopping');
    if (this.holding !== null) this.refuse(this.holding, 'stopping');
    this.holding = null;
    await this.acceptor?.kill();
    this.beforeDrain();
    if (!(await this.handlers.join({ timeout: ms }))) {
      await this.handlers.kill({ block: false });
      for (const socket of this.sockets) socket.destroy();
      await this.handlers.join({ timeout: 1000 });
    }
    this.afterDrain();
    // A socket leaves `sockets` on its 'close' event (emitted a tick after `socket.closed` is true).
    const closing = [...this.sockets].map(
      (socket) => new Promise((resolve) => socket.once('close', resolve)),
    );
    for (const socket of this.sockets) socket.destroy();
    await Promise.all(closing);
    await closed;
    this.unregister?.();
    this.state = 'stopped';
    this.stopped.set();
  }

  /** Hook: handlers are about to be waited for (HttpServer closes idle keep-alive connections). */
  protected beforeDrain(): void {}

  /** Hook: handlers are done or killed. */
  protected afterDrain(): void {}

  /** Stop, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  /** A snapshot of the server's counters (the metrics source). */
  snapshot(): ServerMetricsSnapshot {
    return {
      protocol: 'stream',
      connections: this.sockets.size,
      connectionsAccepted: this.accepted,
      rejected: { ...this.rejected },
      ...this.extraSnapshot(),
    };
  }

  toString(): string {
    const a = this.address;
    const where =
      a === null
        ? 'not listening'
        : typeof a === 'string'
          ? a
          : `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
    return `${this.constructor.name}(${this.name}, ${where})`;
  }

  /** The listener's `'connection'` handler: queue the (paused) connection for the acceptor. */
  protected readonly onConnection = (socket: net.Socket): void => {
    if (this.state !== 'started') {
      socket.destroy();
      return;
    }
    this.accepted++;
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    if (this.pool === null) {
      runOutside(admitOutside, this, socket);
      return;
    }
    const waiting = this.pending.qsize() + (this.holding === null ? 0 : 1);
    if ((waiting > 0 || this.pool.full()) && waiting >= this.maxPending) this.refuse(socket, 'overload');
    else this.pending.putNowait(socket);
  };

  protected countRejected(reason: string): void {
    this.rejected[reason] = (this.rejected[reason] ?? 0) + 1;
  }

  /** Spawn `fn(...args)` as a handler greenlet named `name`, in the pool (waiting for a slot). */
  protected async spawnHandler<A extends unknown[]>(
    name: string,
    fn: (...args: A) => unknown,
    args: A,
  ): Promise<Greenlet> {
    const greenlet = new Greenlet(fn as (...args: never[]) => unknown, ...args);
    greenlet.name = name;
    if (this.pool !== null) await this.pool.add(greenlet);
    this.handlers.add(greenlet);
    greenlet.start();
    return greenlet;
  }

  private async acceptLoop(): Promise<void> {
    for (;;) {
      let socket: net.Socket;
      try {
        socket = await this.pending.get();
      } catch (error) {
        if (error instanceof QueueShutDown) return;
        throw error;
      }
      if (this.pool?.full()) {
        this.holding = socket;
        try {
          await this.pool.waitAvailable();
        } finally {
          this.holding = null;
        }
      }
      if (socket.destroyed) continue;
      if (this.state !== 'started') {
        this.refuse(socket, 'stopping');
        continue;
      }
      await this.admit(socket);
    }
  }
}

function admitOutside(server: BaseServer, socket: net.Socket): void {
  (server as unknown as { admit(s: net.Socket): Promise<void> }).admit(socket).catch((error: unknown) => {
    socket.destroy(error as Error);
  });
}
