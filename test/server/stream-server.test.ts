import type net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Event, GreenletExit, getCurrent, Pool, Queue, sleep } from '../../src/index.js';
import { StreamServer } from '../../src/server/index.js';
import { captureErrors } from '../helpers.js';
import {
  closed,
  connect,
  expectStopDuringStartLeavesNothing,
  portOf,
  readAll,
  socketPath,
} from './helpers.js';

let servers: StreamServer[] = [];
const clients: net.Socket[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  for (const s of servers) await s.stop(0);
  servers = [];
  captureErrors.restore();
});

async function serve(
  handle: ConstructorParameters<typeof StreamServer>[1],
  opts?: ConstructorParameters<typeof StreamServer>[2],
) {
  const server = new StreamServer(0, handle, opts);
  servers.push(server);
  await server.start();
  return { server, port: portOf(server.address) };
}

async function client(port: number): Promise<net.Socket> {
  const c = await connect(port);
  clients.push(c);
  return c;
}

describe('StreamServer', () => {
  it('runs handle(socket, address) in its own greenlet per connection, and closes the connection when it returns', async () => {
    const { server, port } = await serve(async (socket, address) => {
      for await (const chunk of socket) {
        socket.write(`${getCurrent()?.name} from ${address.address}: ${String(chunk).toUpperCase()}`);
        break;
      }
    });
    expect(server.started).toBe(true);
    expect(server.address).toMatchObject({ address: '127.0.0.1' });
    const a = await client(port);
    const b = await client(port);
    const replies = [readAll(a), readAll(b)];
    a.write('hello');
    b.write('there');
    const [ra, rb] = await Promise.all(replies);
    expect(ra).toMatch(/^stream 127\.0\.0\.1:\d+ from 127\.0\.0\.1: HELLO$/);
    expect(rb).toMatch(/^stream 127\.0\.0\.1:\d+ from 127\.0\.0\.1: THERE$/);
    expect(ra.split(' ')[1]).not.toBe(rb.split(' ')[1]); // different peers, different greenlets
  });

  it('with spawn: n, at most n handlers run; further connections wait unread until a slot frees (accepting pauses)', async () => {
    const release = new Event();
    const started = new Queue<number>();
    let n = 0;
    const { server, port } = await serve(
      async (socket) => {
        const me = ++n;
        started.putNowait(me);
        await release.wait();
        socket.end(`handled ${me}`);
      },
      { spawn: 2 },
    );
    const replies = [] as Promise<string>[];
    for (let i = 0; i < 3; i++) replies.push(readAll(await client(port)));
    expect([await started.get(), await started.get()]).toEqual([1, 2]);
    expect(server.pool?.freeCount()).toBe(0);
    // The third connection is accepted by the kernel but not admitted: no handler runs for it.
    await expect(started.get({ timeout: 100 })).rejects.toThrow();
    expect(server.snapshot()).toMatchObject({ connections: 3, connectionsAccepted: 3 });
    release.set();
    expect(await started.get()).toBe(3);
    expect((await Promise.all(replies)).sort()).toEqual(['handled 1', 'handled 2', 'handled 3']);
  });

  it('refuses connections beyond maxPending at once, counted as overload', async () => {
    const release = new Event();
    const { server, port } = await serve(
      async (socket) => {
        await release.wait();
        socket.end('ok');
      },
      { spawn: new Pool(1), maxPending: 1 },
    );
    const first = readAll(await client(port));
    const second = readAll(await client(port));
    const third = await client(port);
    await closed(third);
    expect(server.snapshot().rejected).toEqual({ overload: 1 });
    release.set();
    expect([await first, await second]).toEqual(['ok', 'ok']);
  });

  it('stop(timeout) lets handlers finish within the timeout, then kills the rest and closes their connections', async () => {
    const finishing = new Event();
    const handlers = new Map<string, ReturnType<typeof getCurrent>>();
    const { server, port } = await serve(async (socket) => {
      for await (const chunk of socket) {
        const kind = String(chunk);
        handlers.set(kind, getCurrent());
        if (kind === 'quick') {
          await finishing.wait();
          socket.end('finished');
          return;
        }
        if (kind === 'sleepy') await sleep(60_000); // a checkpoint: the kill lands here
        // 'stuck': waits for more data forever, in I/O greenhub does not see: closing it ends it
      }
    });
    const [quick, sleepy, stuck] = [await client(port), await client(port), await client(port)];
    const quickReply = readAll(quick);
    const others = [closed(sleepy), closed(stuck)];
    quick.write('quick');
    sleepy.write('sleepy');
    stuck.write('stuck');
    while (handlers.size < 3) await new Promise((r) => setImmediate(r));
    setTimeout(() => finishing.set(), 20);
    const t0 = performance.now();
    await server.stop(300);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(250);
    expect(await quickReply).toBe('finished');
    await Promise.all(others);
    expect([...handlers.values()].every((g) => g?.dead)).toBe(true);
    expect(handlers.get('sleepy')?.value).toBeInstanceOf(GreenletExit);
    expect(handlers.get('quick')?.value).toBeUndefined();
    expect(server.closed).toBe(true);
    await expect(connect(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it("a handler's failure is reported through the hub, and its connection is closed", async () => {
    const reported = captureErrors.install();
    const { port } = await serve(() => {
      throw new Error('handler broke');
    });
    await closed(await client(port));
    while (reported.length === 0) await new Promise((r) => setImmediate(r));
    expect((reported[0]!.error as Error).message).toBe('handler broke');
    expect(reported[0]!.greenlet?.name).toMatch(/^stream 127\.0\.0\.1:\d+$/);
  });

  it("accepts gevent's listener forms and refuses bad arguments with messages naming them", async () => {
    for (const listener of [':0', '127.0.0.1:0', { port: 0 }, { host: '127.0.0.1' }] as const) {
      const s = new StreamServer(listener, () => {});
      servers.push(s);
      await s.start();
      expect(s.address).toMatchObject({ address: '127.0.0.1' });
    }
    expect(() => new StreamServer('nope', () => {})).toThrow(
      /new StreamServer\(\): expected `listener` to be a port, 'host:port', \{ host, port \} or \{ path \}, got `"nope"` \(string\)/,
    );
    expect(() => new StreamServer(70000, () => {})).toThrow(RangeError);
    expect(() => new StreamServer(0, 'x' as never)).toThrow(/expected `handle` to be a function/);
    expect(() => new StreamServer(0, () => {}, { spawn: 0 })).toThrow(
      /`opts.spawn` to be a Pool, a positive pool size or 'default'/,
    );
    expect(() => new StreamServer(0, () => {}, { spwan: 2 } as never)).toThrow(/unknown option `opts.spwan`/);
  });

  it("refuses an empty host, on which Node would listen on every interface ('' from an unset HOST)", () => {
    const expected =
      /new StreamServer\(\): expected `listener.host` to be a host name or address, not empty \('0.0.0.0' or '::' to listen on every interface\), got `""` \(string\)/;
    expect(() => new StreamServer({ host: '', port: 0 }, () => {})).toThrow(expected);
    expect(() => new StreamServer({ host: '', port: 0 }, () => {})).toThrow(TypeError);
    expect(() => new StreamServer(' :0', () => {})).toThrow(
      /expected `listener` to be a host name or address, not empty/,
    );
  });

  it('stop() during start(): nothing is left listening, whichever of the two is awaited first', async () => {
    await expectStopDuringStartLeavesNothing((where) => new StreamServer(where, () => {}));
  });

  it('stop() during a start() whose bind fails: start() rejects with the bind error, stop() resolves, the server is closed', async () => {
    const where = socketPath();
    const taken = new StreamServer({ path: where }, () => {});
    servers.push(taken);
    await taken.start();
    const server = new StreamServer({ path: where }, () => {});
    const starting = server.start();
    const stopping = server.stop();
    await expect(starting).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await stopping;
    expect(server.closed).toBe(true);
  });

  it('start() after stop() is refused; serveForever() returns once stopped', async () => {
    const server = new StreamServer(0, () => {});
    const forever = server.serveForever();
    while (!server.started) await new Promise((r) => setImmediate(r));
    await server.stop();
    await forever;
    await expect(server.start()).rejects.toThrow(/start\(\) after stop\(\)/);
  });
});
