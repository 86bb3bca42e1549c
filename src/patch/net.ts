/**
 * `patchNet()`: connecting a socket, for `net` and `tls` (`net.connect`, `net.createConnection`,
 * `tls.connect`, `new net.Socket().connect()`, and every client built on them: database drivers,
 * undici, http agents).
 *
 * A socket that starts connecting in a greenlet is that greenlet's operation until it is connected
 * (`'connect'`, or `'secureConnect'` after the TLS handshake) or closed: a kill or Timeout during
 * the connection destroys the socket, with the kill's exception as its `'error'` when someone
 * listens for it. A connected socket is a resource, not a pending call, as in gevent: killing a
 * greenlet does not close connections it opened earlier (a pooled database connection outlives the
 * request that opened it); what the greenlet waits on afterwards (`events.once(socket, 'data')`,
 * `stream/promises`) is interrupted by those patches.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { type Fn, liveGreenlet, trackEmitter, wrapFunctions } from './call.js';
import { builtin } from './registry.js';
import { NET_FUNCTIONS } from './surface.js';

/** Destroy a socket or request; with an error only when someone listens for it (see call.ts). */
export function destroyWith(emitter: { destroy(error?: Error): unknown }, reason: unknown): void {
  emitter.destroy(reason as Error | undefined);
}

/** Patch socket connection (see the module comment). Returns what it replaced. */
export function patchNet(): string[] {
  const net = builtin<typeof import('node:net')>('net');
  return wrapFunctions(
    'net',
    net.Socket.prototype,
    NET_FUNCTIONS['net.Socket.prototype'],
    (original: Fn) =>
      function connect(this: Socket, ...args: unknown[]): unknown {
        const greenlet = liveGreenlet();
        const result = Reflect.apply(original, this, args);
        if (greenlet !== undefined && this.connecting) {
          // `encrypted` (always true on a TLSSocket) rather than `instanceof tls.TLSSocket`: this
          // patch need not load node:tls (and crypto with it) for a program that never uses it.
          const connected = (this as TLSSocket).encrypted === true ? 'secureConnect' : 'connect';
          trackEmitter('net', greenlet, this, [connected, 'close'], destroyWith);
        }
        return result;
      },
  ).map((name) => `net.Socket.prototype.${name}`);
}
