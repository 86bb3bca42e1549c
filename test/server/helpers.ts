import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

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
