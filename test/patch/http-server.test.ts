import { describe, expect, it } from 'vitest';
import { scenario } from './scenario.js';

/** `serve(handler)` starts a server patched with these http options (`null`: as `greenhub/register` did); `get(path)` resolves `{ status, body, headers }`. */
const SERVER = (options: string | null = '{}') => `
import { patchAll, disconnectSignal } from 'greenhub/patch';
import { spawn, sleep, getCurrent, getHub, GreenletExit, Timeout } from 'greenhub';
import http from 'node:http';
${options === null ? '' : `patchAll({ signal: false, http: ${options} });`}
let base;
const servers = [];
const serve = async (handler) => {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  base = 'http://127.0.0.1:' + server.address().port;
  return server;
};
const request = (path, method = 'GET') => {
  let req;
  const response = new Promise((resolve, reject) => {
    req = http.request(base + path, { method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c) => (body += c)).on('end', () => resolve({ status: res.statusCode, body, retryAfter: res.headers['retry-after'] }));
    });
    req.on('error', reject).end();
  });
  return { req, response };
};
const get = (path, method) => request(path, method).response;
const stop = () => { for (const s of servers) { s.closeAllConnections(); s.close(); } };
`;

describe.concurrent('patchHttp: a greenlet per request', () => {
  it('each request runs in its own greenlet, named by method and route (without the query string)', async () => {
    const { code, result } = await scenario(`${SERVER()}
      const seen = [];
      await serve(async (req, res) => {
        const me = getCurrent();
        await sleep(5);
        seen.push({ name: me?.name, same: getCurrent() === me });
        res.end('ok');
      });
      const bodies = await Promise.all([get('/orders/42?full=1'), get('/items', 'POST')]);
      report({ seen: seen.sort((a, b) => a.name.localeCompare(b.name)), bodies: bodies.map((b) => b.body), live: getHub().stats().greenlets.live });
      stop();
    `);
    expect(code).toBe(0);
    expect(result).toEqual({
      seen: [
        { name: 'GET /orders/42', same: true },
        { name: 'POST /items', same: true },
      ],
      bodies: ['ok', 'ok'],
      live: 0,
    });
  });

  it("the handler runs inside emit('request'), as without greenhub: in its greenlet, named, before emit returns", async () => {
    const { code, result } = await scenario(`${SERVER()}
      const order = [];
      const server = await serve((req, res) => {
        order.push(['handler', getCurrent()?.name ?? null]);
        res.end('ok');
      });
      // An own emit that calls the (patched) prototype's and notes when it returned.
      server.emit = function emit(event, ...args) {
        const returned = Object.getPrototypeOf(server).emit.call(this, event, ...args);
        if (event === 'request') order.push(['emit returned', getCurrent()?.name ?? null]);
        return returned;
      };
      const body = (await get('/x')).body;
      report({ order, body });
      stop();
    `);
    expect(code).toBe(0);
    expect(result).toEqual({
      order: [
        ['handler', 'GET /x'],
        ['emit returned', null],
      ],
      body: 'ok',
    });
  });

  it('the name option gives bounded route names; a name it cannot give falls back to method and path', async () => {
    const { code, result } =
      await scenario(`${SERVER("{ name: (req) => (req.url.startsWith('/orders/') ? 'GET /orders/:id' : undefined) }")}
      const names = [];
      await serve((req, res) => { names.push(getCurrent().name); res.end(); });
      for (const path of ['/orders/1', '/orders/2', '/health']) await get(path);
      report(names);
      stop();
    `);
    expect(code).toBe(0);
    expect(result).toEqual(['GET /orders/:id', 'GET /orders/:id', 'GET /health']);
  });

  it.each([
    ['patchAll({ http: { cancelOnDisconnect: true } })', SERVER('{ cancelOnDisconnect: true }'), {}],
    [
      'GREENHUB_PATCH=http.cancelOnDisconnect=true',
      SERVER(null),
      { register: true, env: { GREENHUB_PATCH: '-signal,http.cancelOnDisconnect=true' } },
    ],
  ])(
    'with %s a client that disconnects kills its greenlet: the upstream call stops and the upstream sees its connection close',
    async (_how, prelude, opts) => {
      const { code, result, stderr } = await scenario(
        `${prelude}
      let upstreamAsked, upstreamClosed, handlerSaw;
      const asked = new Promise((r) => (upstreamAsked = r));
      const closed = new Promise((r) => (upstreamClosed = r));
      const outcome = new Promise((r) => (handlerSaw = r));
      const upstream = http.createServer((req) => { upstreamAsked(); req.socket.on('close', upstreamClosed); });
      servers.push(upstream);
      await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
      const upstreamUrl = 'http://127.0.0.1:' + upstream.address().port + '/slow';
      await serve(async (req, res) => {
        try { res.end(await (await fetch(upstreamUrl)).text()); }
        catch (error) { handlerSaw(error.constructor.name); throw error; }
      });
      const client = request('/proxy');
      client.response.catch(() => {});
      await asked;
      client.req.destroy();
      await closed;
      report({ handler: await outcome, live: (await sleep(5), getHub().stats().greenlets.live), killed: getHub().stats().finished.killed });
      stop();
    `,
        opts,
      );
      expect(stderr).toBe('');
      expect(code).toBe(0);
      // Killed: the proxy's request greenlet, and the upstream's (a patched server in the same process).
      expect(result).toEqual({ handler: 'GreenletExit', live: 0, killed: 2 });
    },
  );

  it('by default a client that disconnects does not kill: the handler goes on, a setInterval it started keeps ticking, disconnectSignal(req) aborts with GreenletExit', async () => {
    const { code, result, stderr } = await scenario(`${SERVER()}
      let started, closedSeen, handlerDone, ticked;
      const isStarted = new Promise((r) => (started = r));
      const closed = new Promise((r) => (closedSeen = r));
      const outcome = new Promise((r) => (handlerDone = r));
      const threeTicksAfterClose = new Promise((r) => (ticked = r));
      let ticks = 0, ticksAtClose = null, greenlet, interval;
      await serve(async (req, res) => {
        greenlet = getCurrent();
        const signal = disconnectSignal(req);
        interval = setInterval(() => { ticks++; if (ticksAtClose !== null && ticks >= ticksAtClose + 3) ticked(); }, 2);
        res.on('close', () => { ticksAtClose = ticks; closedSeen(); });
        started();
        try {
          await closed;
          await sleep(20);                 // where a kill would land
          handlerDone({ went: 'on', aborted: signal.aborted, reason: signal.reason?.constructor.name, message: signal.reason?.message, same: disconnectSignal(req) === signal });
        } catch (error) { handlerDone({ went: error.constructor.name }); throw error; }
      });
      const client = request('/slow');
      client.response.catch(() => {});
      await isStarted;
      client.req.destroy();
      const handler = await outcome;
      await threeTicksAfterClose;
      clearInterval(interval);
      await greenlet.join();
      report({ handler, greenletDead: greenlet.dead, killed: getHub().stats().finished.killed });
      stop();
    `);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(result).toEqual({
      handler: {
        went: 'on',
        aborted: true,
        reason: 'GreenletExit',
        message: 'client disconnected',
        same: true,
      },
      greenletDead: true,
      killed: 0,
    });
  });

  it('disconnectSignal(req) does not abort once the response is complete; a request greenhub does not serve is refused', async () => {
    const { code, result, stderr } = await scenario(`${SERVER()}
      let closedSeen, signal;
      const closed = new Promise((r) => (closedSeen = r));
      await serve((req, res) => {
        signal = disconnectSignal(req);
        res.on('close', closedSeen);
        res.end('ok');
      });
      const response = await get('/fine');
      await closed;
      await new Promise((r) => setImmediate(r));
      let refused;
      try { disconnectSignal(new http.IncomingMessage(null)); } catch (error) { refused = [error.constructor.name, error.message]; }
      report({ body: response.body, aborted: signal.aborted, refused });
      stop();
    `);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(result).toEqual({
      body: 'ok',
      aborted: false,
      refused: [
        'InvalidArgumentTypeError',
        expect.stringMatching(
          /^disconnectSignal\(\): expected `req` to be a request of a server greenhub handles .*, got /,
        ),
      ],
    });
  });

  it('requestTimeout: the handler is interrupted with a Timeout and the client gets 504; late headers do not throw', async () => {
    const { code, result, stderr } = await scenario(`${SERVER('{ requestTimeout: 50 }')}
      let handlerSaw;
      const outcome = new Promise((r) => (handlerSaw = r));
      await serve(async (req, res) => {
        try { await new Promise((resolve) => setTimeout(resolve, 10_000)); }
        catch (error) {
          handlerSaw(error instanceof Timeout);
          await new Promise((resolve) => setImmediate(resolve)); // answers too late
          res.writeHead(500).end('handler');
        }
      });
      const response = await get('/slow');
      report({ response, timeoutSeen: await outcome });
      await sleep(10);
      stop();
    `);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(result).toEqual({ response: { status: 504, body: 'Gateway Timeout\n' }, timeoutSeen: true });
  });

  it('maxConcurrency: requests beyond the limit get 503 at once, and are accepted again once a slot frees', async () => {
    const { code, result } = await scenario(`${SERVER('{ maxConcurrency: 2 }')}
      let release;
      const gate = new Promise((r) => (release = r));
      let started = 0, bothStarted;
      const both = new Promise((r) => (bothStarted = r));
      await serve(async (req, res) => {
        if (req.url === '/hold') { if (++started === 2) bothStarted(); await gate; }
        res.end(req.url);
      });
      const held = [get('/hold'), get('/hold')];
      await both;
      const refused = await get('/extra');
      release();
      const done = await Promise.all(held);
      const after = await get('/after');
      report({ refused, done: done.map((r) => r.status), after });
      stop();
    `);
    expect(code).toBe(0);
    expect(result).toEqual({
      refused: { status: 503, body: 'Service Unavailable\n', retryAfter: '1' },
      done: [200, 200],
      after: { status: 200, body: '/after' },
    });
  });

  it('a handler that throws, synchronously or in its promise: 500, reported through the hub, the server goes on', async () => {
    const { code, result } = await scenario(`${SERVER()}
      const reported = [];
      getHub().onError = (error, greenlet) => reported.push([error.message, greenlet?.name]);
      await serve((req, res) => {
        if (req.url === '/boom') throw new Error('boom');
        if (req.url === '/later') return sleep(1).then(() => { throw new Error('later'); });
        res.end('fine');
      });
      const boom = await get('/boom');
      const later = await get('/later');
      const fine = await get('/fine');
      await sleep(5);
      report({ boom, later, fine, reported });
      stop();
    `);
    expect(code).toBe(0);
    expect(result).toEqual({
      boom: { status: 500, body: 'Internal Server Error\n' },
      later: { status: 500, body: 'Internal Server Error\n' },
      fine: { status: 200, body: 'fine' },
      reported: [
        ['boom', 'GET /boom'],
        ['later', 'GET /later'],
      ],
    });
  });
});

describe.concurrent('patchHttp: request metrics', () => {
  it('a patched server reports requests by method, bounded route and status, like greenhub’s own HttpServer', async () => {
    const { code, result } = await scenario(`${SERVER('{ maxConcurrency: 1 }')}
      const { collectMetrics } = await import('greenhub/metrics');
      const { Event } = await import('greenhub');
      const metrics = collectMetrics({ defaultMetrics: false });
      const release = new Event();
      await serve(async (req, res) => {
        if (req.url === '/slow') await release.wait();
        res.end('ok');
      });
      const slow = get('/slow');
      await sleep(20);
      const refused = await get('/users/7');        // the only slot is taken: 503 at once
      release.set();
      await slow;
      await get('/users/42?tab=posts');
      await get('/users/43');
      const text = await metrics.register.metrics();
      const port = base.split(':').at(-1);
      const line = (route, status) =>
        text.split('\\n').find((l) => l.startsWith('greenhub_http_requests_total{') && l.includes('server="http:' + port + '"') && l.includes('route="' + route + '"') && l.includes('status="' + status + '"'));
      report({
        refused: refused.status,
        ok: line('/users/:id', '200')?.split(' ').at(-1),
        overload: line('/users/:id', '503')?.split(' ').at(-1),
        slow: line('/slow', '200')?.split(' ').at(-1),
        rejected: text.includes('greenhub_server_rejected_total{server="http:' + port + '",reason="overloaded"} 1'),
      });
      metrics.close();
      stop();
    `);
    expect(code).toBe(0);
    expect(result).toEqual({ refused: 503, ok: '2', overload: '1', slow: '1', rejected: true });
  });

  it('route labels are bounded: 1,000 distinct paths give at most 64 routes plus other; an Express-shaped request is labelled by its template', async () => {
    const { code, result, stderr } = await scenario(`${SERVER()}
      const { collectMetrics } = await import('greenhub/metrics');
      const metrics = collectMetrics({ defaultMetrics: false });
      await serve((req, res) => {
        if (req.url.startsWith('/api/users/')) {
          // what Express leaves on a request routed by app.use('/api', router); router.get('/users/:id')
          req.baseUrl = '/api';
          req.route = { path: '/users/:id' };
        }
        res.end('ok');
      });
      const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
      const hit = (path) => new Promise((resolve, reject) => {
        http.get(base + path, { agent }, (res) => res.resume().on('end', resolve)).on('error', reject);
      });
      await hit('/api/users/alice');
      await hit('/api/users/bob');
      const paths = Array.from({ length: 1000 }, (_, i) => '/scan/x' + i);
      for (let i = 0; i < paths.length; i += 8) await Promise.all(paths.slice(i, i + 8).map(hit));
      agent.destroy();
      const text = await metrics.register.metrics();
      const port = base.split(':').at(-1);
      const counts = text.split('\\n').filter((l) => l.startsWith('greenhub_http_requests_total{') && l.includes('server="http:' + port + '"'));
      const routes = new Set(counts.map((l) => l.match(/route="([^"]*)"/)[1]));
      const count = (route) => Number(counts.find((l) => l.includes('route="' + route + '"'))?.split(' ').at(-1));
      report({ routes: routes.size, template: count('/api/users/:id'), other: count('other'), bytes: text.length });
      metrics.close();
      stop();
    `);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const { routes, template, other, bytes } = result as Record<string, number>;
    expect(routes).toBeLessThanOrEqual(65);
    expect(template).toBe(2);
    expect(other).toBe(1000 - 63); // 63 of the paths got a label of their own, the rest share other
    // 2.5 MB when every path was a route; what is left is mostly 65 routes' duration histograms.
    expect(bytes).toBeLessThan(500_000);
  });

  it('a patched server counts its connections: accepted, and open until each closes', async () => {
    const { code, result, stderr } = await scenario(`${SERVER()}
      const { collectMetrics } = await import('greenhub/metrics');
      const metrics = collectMetrics({ defaultMetrics: false });
      const server = await serve((req, res) => res.end('ok'));
      const port = base.split(':').at(-1);
      let closes = 0;
      const waiters = [];
      server.on('connection', (socket) => socket.on('close', () => { closes++; for (const w of waiters.splice(0)) w(); }));
      const closed = async (n) => { while (closes < n) await new Promise((r) => waiters.push(r)); };
      const read = async () => {
        const text = await metrics.register.metrics();
        const value = (name) => Number(text.split('\\n').find((l) => l.startsWith(name + '{server="http:' + port + '"'))?.split(' ').at(-1));
        return { open: value('greenhub_server_connections'), accepted: value('greenhub_server_connections_accepted_total') };
      };
      await get('/a');
      await get('/b');
      await closed(2);
      const agent = new http.Agent({ keepAlive: true });
      await new Promise((resolve, reject) => http.get(base + '/c', { agent }, (res) => res.resume().on('end', resolve)).on('error', reject));
      const whileKeptAlive = await read();
      agent.destroy();
      await closed(3);
      report({ whileKeptAlive, afterwards: await read() });
      metrics.close();
      stop();
    `);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(result).toEqual({
      whileKeptAlive: { open: 1, accepted: 3 },
      afterwards: { open: 0, accepted: 3 },
    });
  });

  it('leaves greenhub’s own servers alone: one greenlet per request, not two', async () => {
    const { code, result } = await scenario(`${SERVER()}
      const { HttpServer } = await import('greenhub/server');
      const server = new HttpServer(0, async (req, res) => {
        res.end('ok');
      });
      await server.start();
      base = 'http://127.0.0.1:' + server.address.port;
      const before = getHub().stats().spawned;
      await get('/a');
      report({ spawned: getHub().stats().spawned - before });
      await server.stop();
    `);
    expect(code).toBe(0);
    expect((result as { spawned: number }).spawned).toBe(1);
  });

  it('pipelined requests on a connection the client half-closes are all answered, however short the switch interval', async () => {
    // The handlers start on the run queue. A switch interval that ran out after the first one must
    // not push the second one's start past the next poll of the socket (its FIN): plain Node runs
    // both at once, and Koa's own suite checks that both responses arrive.
    const { code, result } = await scenario(`${SERVER()}
      import net from 'node:net';
      import { once } from 'node:events';
      getHub().switchIntervalMs = 0.001; // every turn runs out of time after its first item
      let count = 0;
      const server = await serve((req, res) => {
        count++;
        const end = performance.now() + 2; // a handler that takes a while
        while (performance.now() < end);
        res.end('request ' + count);
      });
      const buf = Buffer.from('GET / HTTP/1.1\\r\\nHost: x\\r\\nConnection: keep-alive\\r\\n\\r\\n');
      const client = net.connect(server.address().port, '127.0.0.1');
      const chunks = [];
      client.on('data', (d) => chunks.push(d));
      await once(client, 'connect');
      client.write(buf);
      client.write(buf);
      client.end();
      await once(client, 'end');
      client.destroy();
      server.close();
      report({ count, answers: Buffer.concat(chunks).toString().match(/request \\d/g) });
    `);
    expect(code).toBe(0);
    expect(result).toEqual({ count: 2, answers: ['request 1', 'request 2'] });
  });
});
