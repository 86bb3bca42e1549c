import http from 'node:http';
import type net from 'node:net';
import client from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Event,
  type Greenlet,
  GreenletExit,
  getCurrent,
  Queue,
  RequestTimeoutError,
  sleep,
} from '../../src/index.js';
import { collectMetrics } from '../../src/metrics/index.js';
import { disconnectSignal, HttpServer, type HttpServerOptions } from '../../src/server/index.js';
import { captureErrors } from '../helpers.js';
import { parsePrometheusText, sampleValue } from '../metrics/prom-text.js';
import { connect, expectStopDuringStartLeavesNothing, readAll, socketPath } from './helpers.js';

let servers: HttpServer[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers) await s.stop(0);
  servers = [];
  captureErrors.restore();
});

async function serve(
  handler: ConstructorParameters<typeof HttpServer>[1],
  opts?: HttpServerOptions,
): Promise<HttpServer> {
  const server = new HttpServer(0, handler, opts);
  servers.push(server);
  await server.start();
  return server;
}

interface Reply {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** One request on its own connection (no keep-alive pool in the way). */
function request(
  url: string,
  opts: { method?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: opts.method ?? 'GET', agent: false, headers: opts.headers },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('HttpServer: a greenlet per request', () => {
  it('runs each request in its own greenlet named after method and route; counts requests by method, route and status', async () => {
    const server = await serve(async (req, res) => {
      await sleep(1);
      res.statusCode = req.url === '/missing' ? 404 : 200;
      res.end(`${getCurrent()?.name}`);
    });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const replies = await Promise.all([
      request(`${server.url}/users/42?full=1`),
      request(`${server.url}/users/7`),
      request(`${server.url}/missing`),
      request(`${server.url}/users/7`, { method: 'DELETE' }),
    ]);
    expect(replies.map((r) => [r.status, r.body])).toEqual([
      [200, 'GET /users/:id'],
      [200, 'GET /users/:id'],
      [404, 'GET /missing'],
      [200, 'DELETE /users/:id'],
    ]);
    const routes = server.snapshot().routes!;
    const get = routes.find((r) => r.method === 'GET' && r.route === '/users/:id')!;
    expect(get.statuses).toEqual({ '200': 2 });
    expect(get.duration.count).toBe(2);
    expect(routes.find((r) => r.route === '/missing')?.statuses).toEqual({ '404': 1 });

    const register = new client.Registry();
    const collection = collectMetrics({ register, defaultMetrics: false });
    try {
      const f = parsePrometheusText(await register.metrics());
      const labels = { server: 'http', method: 'GET', route: '/users/:id' };
      expect(sampleValue(f, 'greenhub_http_requests_total', { ...labels, status: '200' })).toBe(2);
      expect(sampleValue(f, 'greenhub_http_request_duration_seconds_count', labels)).toBe(2);
      expect(sampleValue(f, 'greenhub_server_connections_accepted_total', { server: 'http' })).toBe(4);
      expect(sampleValue(f, 'greenhub_http_requests_in_flight', { server: 'http' })).toBe(0);
    } finally {
      collection.close();
    }
  });

  it('a custom route function labels requests; past maxRoutes, routes count as other', async () => {
    const server = await serve((_req, res) => res.end('ok'), {
      route: (req) => req.url!.split('?')[0]!,
      maxRoutes: 2,
    });
    for (const path of ['/a', '/b', '/c', '/d']) await request(`${server.url}${path}`);
    expect(
      server
        .snapshot()
        .routes!.map((r) => r.route)
        .sort(),
    ).toEqual(['/a', '/b', 'other']);
  });

  it('with spawn: n, requests beyond n wait for a slot in order; past maxPending waiting requests the server answers 503', async () => {
    const release = new Event();
    const running = new Queue<string>();
    const server = await serve(
      async (req, res) => {
        running.putNowait(req.url!);
        await release.wait();
        res.end(req.url);
      },
      { spawn: 1, maxPending: 1 },
    );
    const first = request(`${server.url}/1`);
    expect(await running.get()).toBe('/1');
    const second = request(`${server.url}/2`); // waits for the slot
    while (server.snapshot().connections < 2) await sleep(1);
    const third = await request(`${server.url}/3`); // the pool is full and one request already waits
    expect([third.status, third.headers['retry-after'], third.body]).toEqual([
      503,
      '1',
      'server overloaded, retry later\n',
    ]);
    release.set();
    expect([(await first).body, (await second).body]).toEqual(['/1', '/2']);
    expect(server.snapshot().rejected.overload).toBeGreaterThanOrEqual(1);
  });

  it("with cancelOnDisconnect, a client that disconnects kills its request's greenlet (counted as status 499)", async () => {
    const greenlets = new Queue<Greenlet>();
    const server = await serve(
      async (_req, res) => {
        greenlets.putNowait(getCurrent()!);
        await sleep(60_000);
        res.end('too late');
      },
      { cancelOnDisconnect: true },
    );
    const req = http.request(`${server.url}/slow`, { agent: false });
    req.on('error', () => {});
    req.end();
    const g = await greenlets.get();
    req.destroy();
    expect(await g.join(5000)).toBe(true);
    expect(g.value).toBeInstanceOf(GreenletExit);
    expect((g.value as Error).message).toBe('client disconnected');
    while (!server.snapshot().routes?.some((r) => r.statuses['499'] === 1)) await sleep(1);
  });

  it('by default a client that disconnects does not kill: the handler runs to its end, a setInterval it started keeps ticking, disconnectSignal(req) aborts (499)', async () => {
    const started = new Event();
    const closed = new Event();
    const threeTicksAfterClose = new Event();
    const reported = captureErrors.install();
    let ticks = 0;
    let ticksAtClose: number | null = null;
    let interval: ReturnType<typeof setInterval> | undefined;
    let signal: AbortSignal | undefined;
    let wentOn = false;
    const greenlets = new Queue<Greenlet>();
    const server = await serve(async (req, res) => {
      greenlets.putNowait(getCurrent()!);
      signal = disconnectSignal(req);
      interval = setInterval(() => {
        ticks++;
        if (ticksAtClose !== null && ticks >= ticksAtClose + 3) threeTicksAfterClose.set();
      }, 2);
      res.on('close', () => {
        ticksAtClose = ticks;
        closed.set();
      });
      started.set();
      await closed.wait();
      await sleep(20); // where a kill would land
      wentOn = true;
    });
    const req = http.request(`${server.url}/slow`, { agent: false });
    req.on('error', () => {});
    req.end();
    await started.wait();
    req.destroy();
    const g = await greenlets.get();
    expect(await g.join(5000)).toBe(true);
    await threeTicksAfterClose.wait();
    clearInterval(interval);
    expect(wentOn).toBe(true);
    expect(g.successful()).toBe(true);
    expect(signal!.aborted).toBe(true);
    expect(signal!.reason).toBeInstanceOf(GreenletExit);
    expect((signal!.reason as Error).message).toBe('client disconnected');
    expect(reported).toEqual([]); // returning without a response to a client that left is no error
    while (!server.snapshot().routes?.some((r) => r.statuses['499'] === 1)) await sleep(1);
  });

  it('disconnectSignal(req) does not abort once the response is complete, and is refused for a request HttpServer does not serve', async () => {
    const closed = new Event();
    let signal: AbortSignal | undefined;
    const server = await serve((req, res) => {
      signal = disconnectSignal(req);
      res.on('close', () => closed.set());
      res.end('ok');
    });
    expect((await request(`${server.url}/fine`)).body).toBe('ok');
    await closed.wait();
    await sleep(1);
    expect(signal!.aborted).toBe(false);
    expect(() => disconnectSignal({} as http.IncomingMessage)).toThrow(
      /^disconnectSignal\(\): expected `req` to be a request of a server greenhub handles/,
    );
  });

  it('requestTimeout: the client gets 503 at the deadline and the greenlet is killed with RequestTimeoutError', async () => {
    const greenlets = new Queue<Greenlet>();
    const server = await serve(
      async (_req, res) => {
        greenlets.putNowait(getCurrent()!);
        await sleep(60_000);
        res.end('too late');
      },
      { requestTimeout: 100 },
    );
    const t0 = performance.now();
    const reply = await request(`${server.url}/slow`);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(95);
    expect([reply.status, reply.body]).toEqual([503, 'request timed out\n']);
    const g = await greenlets.get();
    await g.join(5000);
    expect(g.exception).toBeInstanceOf(RequestTimeoutError);
    expect(server.snapshot().rejected.request_timeout).toBe(1);
  });

  it('a handler that throws answers 500 and its error is reported through the hub; one that returns without responding too', async () => {
    const reported = captureErrors.install();
    const server = await serve(async (req, res) => {
      if (req.url === '/throw') throw new Error('handler exploded');
      if (req.url === '/partial') {
        res.writeHead(200);
        res.write('part');
      }
    });
    expect((await request(`${server.url}/throw`)).status).toBe(500);
    expect((await request(`${server.url}/silent`)).status).toBe(500);
    expect(await request(`${server.url}/partial`)).toMatchObject({ status: 200, body: 'part' });
    while (reported.length < 2) await sleep(1);
    expect(reported.map((r) => (r.error as Error).message)).toEqual([
      'handler exploded',
      'HttpServer handler returned without responding to GET /silent',
    ]);
    expect(reported[0]!.greenlet?.name).toBe('GET /throw');
  });
});

describe('HttpServer: security defaults', () => {
  it('listens on 127.0.0.1 unless told otherwise', async () => {
    const server = await serve((_req, res) => res.end());
    expect(server.address).toMatchObject({ address: '127.0.0.1', family: 'IPv4' });
  });

  /**
   * A server with headersTimeout 300 ms and a client connected to it that sends what `trickle`
   * writes at once and then every `everyMs`; resolves once the server closed the connection with
   * what it answered, whether the handler ran, and the time from the first write.
   */
  async function slowClient(everyMs: number, trickle: (socket: net.Socket) => void) {
    const handled = new Event();
    const server = await serve(
      (_req, res) => {
        handled.set();
        res.end();
      },
      { headersTimeout: 300, receiveTimeout: 1000 },
    );
    const socket = await connect((server.address as net.AddressInfo).port);
    sockets.push(socket);
    const reply = readAll(socket);
    const t0 = performance.now();
    trickle(socket);
    const timer = setInterval(() => socket.writable && trickle(socket), everyMs);
    try {
      return { reply: await reply, handled: handled.isSet(), tookMs: performance.now() - t0 };
    } finally {
      clearInterval(timer);
    }
  }

  it('a slowloris client that trickles its headers is answered 408 and disconnected after headersTimeout', async () => {
    let first = true;
    const { reply, handled, tookMs } = await slowClient(50, (socket) => {
      socket.write(first ? 'GET / HTTP/1.1\r\nHost: x\r\n' : 'X-Slow: yes\r\n');
      first = false;
    });
    expect(reply).toMatch(/^HTTP\/1\.1 408 Request Timeout/);
    expect(tookMs).toBeGreaterThanOrEqual(250);
    expect(tookMs).toBeLessThan(2000);
    expect(handled).toBe(false);
  });

  it('a slowloris client that sends its request line a byte at a time never reaches the handler: 408, then closed', async () => {
    const bytes = Buffer.from('GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: '.padEnd(400, 'x'));
    let sent = 0;
    const { reply, handled } = await slowClient(10, (socket) => {
      if (sent < bytes.length) socket.write(bytes.subarray(sent, ++sent));
    });
    expect(reply).toMatch(/^HTTP\/1\.1 408 Request Timeout/); // readAll resolved: the server closed
    expect(sent, 'the headers were still incomplete').toBeLessThan(bytes.length);
    expect(handled).toBe(false);
  });

  it('headers beyond maxHeaderSize are refused with 431', async () => {
    const server = await serve((_req, res) => res.end('ok'), { maxHeaderSize: 1024 });
    expect((await request(server.url, { headers: { 'x-big': 'a'.repeat(2000) } })).status).toBe(431);
  });

  it('a body beyond maxBodySize is refused with 413: by Content-Length before the handler runs, or as it arrives', async () => {
    const seen: number[] = [];
    const server = await serve(
      async (req, res) => {
        let n = 0;
        for await (const chunk of req) n += (chunk as Buffer).length;
        seen.push(n);
        res.end(`read ${n}`);
      },
      { maxBodySize: 1000 },
    );
    expect((await request(server.url, { method: 'POST', body: 'x'.repeat(2000) })).status).toBe(413);
    expect(await request(server.url, { method: 'POST', body: 'x'.repeat(500) })).toMatchObject({
      status: 200,
      body: 'read 500',
    });
    // Chunked: no Content-Length, so the limit is enforced while the body streams in.
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${server.url}/upload`, { method: 'POST', agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.write('y'.repeat(600));
      setTimeout(() => req.end('y'.repeat(600)), 20);
    });
    expect(chunked).toBe(413);
    expect(seen).toEqual([500]);
    expect(server.snapshot().rejected.body_too_large).toBe(2);
  });
});

describe('HttpServer: stop and mounts', () => {
  it('stop(timeout) finishes running requests, closes idle keep-alive connections and refuses new ones', async () => {
    const release = new Event();
    const started = new Event();
    const server = await serve(async (req, res) => {
      if (req.url === '/slow') {
        started.set();
        await release.wait();
      }
      res.end('done');
    });
    const agent = new http.Agent({ keepAlive: true });
    const idle = await new Promise<http.IncomingMessage>((resolve) =>
      http.get(`${server.url}/warm`, { agent }, resolve),
    );
    idle.resume();
    await new Promise((r) => idle.on('end', r));
    const running = request(`${server.url}/slow`);
    await started.wait();
    const stopping = server.stop(5000);
    setTimeout(() => release.set(), 50);
    expect(await running).toMatchObject({ status: 200, body: 'done' });
    await stopping;
    expect(server.snapshot().connections).toBe(0);
    await expect(request(`${server.url}/after`)).rejects.toThrow();
    agent.destroy();
  });

  it('a mounted path answers without a pool slot: on an admitted keep-alive connection, even while the pool is full', async () => {
    const release = new Event();
    const running = new Event();
    const server = await serve(
      async (_req, res) => {
        running.set();
        await release.wait();
        res.end('app');
      },
      { spawn: 1 },
    );
    server.mount('/healthz', (_req, res) => res.end('alive'));
    // A status page polls over one keep-alive connection: admitted once, it stays admitted.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const poll = () =>
      new Promise<string>((resolve, reject) => {
        http
          .get(`${server.url}/healthz?verbose=1`, { agent }, (res) => {
            let body = '';
            res.on('data', (d) => {
              body += d;
            });
            res.on('end', () => resolve(body));
          })
          .on('error', reject);
      });
    expect(await poll()).toBe('alive');
    const app = request(`${server.url}/app`);
    await running.wait();
    expect(server.pool?.full()).toBe(true);
    expect(await poll()).toBe('alive');
    release.set();
    expect((await app).body).toBe('app');
    agent.destroy();
    expect(() => server.mount('healthz', () => {})).toThrow(
      /expected `path` to be a path starting with '\/'/,
    );
  });

  it('a mount with { metrics: false } (the /metrics route, a status page) is not counted among the routes, nor takes a route label', async () => {
    const server = await serve((_req, res) => res.end('app'), { maxRoutes: 1 });
    server.mount('/metrics', (_req, res) => res.end('# metrics'), { metrics: false });
    server.mount('/healthz', (_req, res) => res.end('alive'));
    expect((await request(`${server.url}/metrics`)).body).toBe('# metrics');
    expect((await request(`${server.url}/healthz`)).body).toBe('alive');
    expect((await request(`${server.url}/app`)).body).toBe('app');
    const routes = server.snapshot().routes!.map((r) => [r.route, r.statuses]);
    // maxRoutes 1: /healthz took the one label, /app is other; /metrics took none and is absent.
    expect(routes).toEqual([
      ['/healthz', { '200': 1 }],
      ['other', { '200': 1 }],
    ]);
    expect(() => server.mount('/x', () => {}, { metrics: 'no' } as never)).toThrow(
      /HttpServer.mount\(\): expected `opts.metrics` to be a boolean/,
    );
    expect(() => server.mount('/x', () => {}, { metric: false } as never)).toThrow(
      /unknown option `opts.metric`/,
    );
  });

  it("refuses an empty host, on which Node would listen on every interface ('' from an unset HOST)", () => {
    expect(() => new HttpServer({ host: '', port: 0 }, () => {})).toThrow(
      /new HttpServer\(\): expected `listener.host` to be a host name or address, not empty \('0.0.0.0' or '::' to listen on every interface\), got `""` \(string\)/,
    );
    expect(() => new HttpServer({ host: '', port: 0 }, () => {})).toThrow(TypeError);
  });

  it('stop() during start(): nothing is left listening, whichever of the two is awaited first', async () => {
    await expectStopDuringStartLeavesNothing((where) => new HttpServer(where, () => {}));
  });

  it('stop() during a start() whose bind fails: start() rejects with the bind error, stop() resolves, the server is closed', async () => {
    const where = socketPath();
    const taken = new HttpServer({ path: where }, () => {});
    servers.push(taken);
    await taken.start();
    const server = new HttpServer({ path: where }, () => {});
    const starting = server.start();
    const stopping = server.stop();
    await expect(starting).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await stopping;
    expect(server.closed).toBe(true);
  });

  it('refuses bad options with messages naming them', () => {
    expect(() => new HttpServer(0, () => {}, { headersTimeout: 5000, receiveTimeout: 1000 })).toThrow(
      /expected `opts.headersTimeout` to be at most `receiveTimeout` \(1000\), got `5000`/,
    );
    expect(() => new HttpServer(0, () => {}, { maxBodySize: -1 })).toThrow(RangeError);
    expect(() => new HttpServer(0, () => {}, { cancelOnDisconnect: 'yes' as never })).toThrow(
      /expected `opts.cancelOnDisconnect` to be/,
    );
    expect(() => new HttpServer(0, () => {}, { requestTimout: 5 } as never)).toThrow(
      /unknown option `opts.requestTimout`/,
    );
  });
});
