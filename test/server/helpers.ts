import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';

/** Connect to 127.0.0.1:port; resolves once connected. */
export function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Everything the peer sends until it closes the connection. */
export function readAll(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      text += d;
    });
    socket.on('error', () => {});
    socket.once('close', () => resolve(text));
  });
}

/** Resolves when the socket is closed by the peer. */
export function closed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    socket.resume();
    socket.on('error', () => {});
    socket.once('close', () => resolve());
  });
}

export function portOf(address: net.AddressInfo | string | null): number {
  if (address === null || typeof address === 'string') throw new Error('not a TCP address');
  return address.port;
}

let paths = 0;
/** A fresh Unix socket path in the temporary directory (a bind whose address is known before it happens). */
export function socketPath(): string {
  return path.join(os.tmpdir(), `greenhub-test-${process.pid}-${++paths}.sock`);
}

/** Resolves with the error code of a connection attempt to `where` (a Unix socket path), or `'connected'`. */
export function tryConnect(where: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(where, () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? String(error)));
  });
}

/** What the start/stop race tests need of a server (HttpServer and StreamServer share it). */
interface Startable {
  start(): Promise<unknown>;
  stop(): Promise<unknown>;
  readonly started: boolean;
  readonly closed: boolean;
}

/**
 * `stop()` called while `start()` is still binding a Unix socket: whichever of the two is awaited
 * first, nothing is left listening, both settle, and the server ends closed (and refuses a later
 * `start()`). Shared by the HttpServer and StreamServer tests.
 */
export async function expectStopDuringStartLeavesNothing(
  make: (where: { path: string }) => Startable,
): Promise<void> {
  // stop() awaited first: when it resolves, nothing listens, and start() has settled too.
  const where1 = socketPath();
  const first = make({ path: where1 });
  const starting1 = first.start();
  const stopping1 = first.stop();
  let startSettled = false;
  void starting1.then(() => {
    startSettled = true;
  });
  await stopping1;
  expect(await tryConnect(where1)).not.toBe('connected');
  await starting1;
  expect(startSettled).toBe(true);
  expect([first.started, first.closed]).toEqual([false, true]);

  // start() awaited first: it resolves having closed what it bound; stop() then resolves.
  const where2 = socketPath();
  const second = make({ path: where2 });
  const starting2 = second.start();
  const stopping2 = second.stop();
  await starting2;
  expect(await tryConnect(where2)).not.toBe('connected');
  await stopping2;
  expect([second.started, second.closed]).toEqual([false, true]);
  await expect(second.start()).rejects.toThrow(/start\(\) after stop\(\)/);
}
