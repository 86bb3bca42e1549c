import client from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { Event, spawn } from '../../src/index.js';
import { type MetricsServer, startMetricsServer } from '../../src/metrics/index.js';
import { parsePrometheusText, sampleValue } from './prom-text.js';

let servers: MetricsServer[] = [];
afterEach(async () => {
  for (const s of servers) await s.close();
  servers = [];
});

async function start(opts: Parameters<typeof startMetricsServer>[0] = {}): Promise<MetricsServer> {
  const server = await startMetricsServer({ port: 0, register: new client.Registry(), ...opts });
  servers.push(server);
  return server;
}

describe('startMetricsServer()', () => {
  it('serves /metrics as Prometheus text with greenhub and default series, on 127.0.0.1 by default', async () => {
    const server = await start();
    expect(server.host).toBe('127.0.0.1');
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    const ev = new Event();
    const gs = Array.from({ length: 3 }, () => spawn(() => ev.wait()));
    await gs[0]!.join(0);
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const families = parsePrometheusText(await res.text());
    expect(sampleValue(families, 'greenhub_greenlets', { state: 'waiting' })).toBe(3);
    expect(families.get('process_resident_memory_bytes')?.type).toBe('gauge');
    ev.set();
  });

  it('/healthz answers ok; unknown paths 404; other methods 405; HEAD has no body', async () => {
    const server = await start();
    const health = await fetch(`${server.url}/healthz`);
    expect([health.status, await health.text()]).toEqual([200, 'ok\n']);
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    const post = await fetch(`${server.url}/metrics`, { method: 'POST', body: 'x' });
    expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
    const head = await fetch(`${server.url}/metrics`, { method: 'HEAD' });
    expect([head.status, await head.text()]).toEqual([200, '']);
  });

  it('/debug/greenlets is off unless enabled', async () => {
    const server = await start();
    expect((await fetch(`${server.url}/debug/greenlets`)).status).toBe(404);
  });

  it('/debug/greenlets serves run info as text, and as JSON on request', async () => {
    const server = await start({ debug: true });
    const ev = new Event();
    const g = spawn(() => ev.wait());
    g.name = 'parked-consumer';
    await g.join(0);
    const text = await (await fetch(`${server.url}/debug/greenlets`)).text();
    expect(text).toMatch(
      /"parked-consumer" \(Greenlet-\d+\) running .*: waiting in wait\(\) on Event\(unset\)/,
    );
    const json = (await (await fetch(`${server.url}/debug/greenlets?format=json`)).json()) as {
      stats: { greenlets: { waiting: number } };
      runInfo: { greenlets: { name: string; waits: { op: string }[] }[] };
    };
    expect(json.stats.greenlets.waiting).toBeGreaterThanOrEqual(1);
    const entry = json.runInfo.greenlets.find((e) => e.name === 'parked-consumer');
    expect(entry?.waits[0]?.op).toBe('wait');
    const viaAccept = await fetch(`${server.url}/debug/greenlets`, {
      headers: { accept: 'application/json' },
    });
    expect(viaAccept.headers.get('content-type')).toContain('application/json');
    ev.set();
  });

  it('with a token, /debug/greenlets needs the bearer token (401 otherwise); /metrics stays open', async () => {
    const server = await start({ debug: true, token: 'correct horse battery' });
    const none = await fetch(`${server.url}/debug/greenlets`);
    expect([none.status, none.headers.get('www-authenticate')]).toEqual([401, 'Bearer realm="greenhub"']);
    const wrong = await fetch(`${server.url}/debug/greenlets`, {
      headers: { authorization: 'Bearer nope-nope' },
    });
    expect(wrong.status).toBe(401);
    const right = await fetch(`${server.url}/debug/greenlets`, {
      headers: { authorization: 'Bearer correct horse battery' },
    });
    expect(right.status).toBe(200);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(200);
  });

  it('refuses debug on a non-loopback address without a token, and bad options', async () => {
    await expect(startMetricsServer({ port: 0, host: '0.0.0.0', debug: true })).rejects.toThrow(
      /expected `opts.token` to be set when `debug` is on and `host` is not a loopback address \("0.0.0.0"\)/,
    );
    await expect(startMetricsServer({ port: 70_000 })).rejects.toThrow(RangeError);
    await expect(startMetricsServer({ token: 'short', debug: true })).rejects.toThrow(
      /at least 8 characters/,
    );
    await expect(startMetricsServer({ prot: 1 } as never)).rejects.toThrow(/unknown option `opts.prot`/);
  });

  it("refuses an empty host, on which Node would listen on every interface ('' from an unset HOST)", async () => {
    const refused = start({ host: '' });
    await expect(refused).rejects.toThrow(TypeError);
    await expect(refused).rejects.toThrow(
      /startMetricsServer\(\): expected `opts.host` to be a host name or address, not empty \('0.0.0.0' or '::' to listen on every interface\), got `""` \(string\)/,
    );
  });

  it('a port in use fails with the listen error', async () => {
    const first = await start();
    await expect(
      startMetricsServer({ port: first.port, register: new client.Registry() }),
    ).rejects.toMatchObject({
      code: 'EADDRINUSE',
    });
  });
});
