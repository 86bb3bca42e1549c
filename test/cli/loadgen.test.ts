import { afterEach, describe, expect, it } from 'vitest';
import { generateLoad, type LoadProgress } from '../../src/cli/demo/loadgen.js';
import { sleep } from '../../src/index.js';
import { HttpServer } from '../../src/server/index.js';

let server: HttpServer | undefined;
afterEach(async () => {
  await server?.stop(0);
  server = undefined;
});

async function target(): Promise<HttpServer> {
  server = new HttpServer(0, async (req, res) => {
    if (req.url === '/fail') res.statusCode = 500;
    if (req.url === '/slow') await sleep(15);
    res.end('ok');
  });
  await server.start();
  return server;
}

describe('generateLoad()', () => {
  it('sends exactly maxRequests over `concurrency` keep-alive connections, routes in weighted round-robin, with percentiles', async () => {
    const s = await target();
    const report = await generateLoad({
      url: s.url,
      routes: [{ path: '/fast', weight: 3 }, '/slow'],
      concurrency: 4,
      maxRequests: 200,
      durationMs: 20_000,
    });
    expect(report.requests).toBe(200);
    expect(report.errors).toBe(0);
    expect(report.routes['GET /fast']!.requests).toBe(150);
    const slow = report.routes['GET /slow']!;
    expect(slow.requests).toBe(50);
    expect(slow.statuses).toEqual({ '200': 50 });
    expect(slow.p50Ms).toBeGreaterThanOrEqual(14);
    expect(slow.p50Ms!).toBeLessThanOrEqual(slow.p99Ms!);
    expect(slow.p99Ms!).toBeLessThanOrEqual(slow.maxMs!);
    expect(s.snapshot().connectionsAccepted).toBeLessThanOrEqual(4);
  });

  it('stops at durationMs, reports progress on the way, counts 5xx as errors', async () => {
    const s = await target();
    const progress: LoadProgress[] = [];
    const t0 = performance.now();
    const report = await generateLoad({
      url: s.url,
      routes: ['/slow', '/fail'],
      concurrency: 2,
      durationMs: 400,
      progressIntervalMs: 100,
      onProgress: (p) => progress.push(p),
    });
    const took = performance.now() - t0;
    expect(took).toBeGreaterThanOrEqual(390);
    expect(took).toBeLessThan(2000);
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.at(-1)!.currentRps).toBeGreaterThan(0);
    expect(report.routes['GET /fail']!.errors).toBe(report.routes['GET /fail']!.requests);
    expect(report.errors).toBe(report.routes['GET /fail']!.requests);
  });

  it('a network error counts as an error, not a crash', async () => {
    const s = await target();
    const url = s.url;
    await s.stop(0);
    const report = await generateLoad({ url, concurrency: 1, maxRequests: 3 });
    expect(report.routes['GET /']!.statuses).toEqual({ error: 3 });
  });

  it('refuses targets off the loopback interface and unbounded runs', async () => {
    await expect(generateLoad({ url: 'http://10.0.0.1:80' })).rejects.toThrow(
      /expected `opts.url` to be a loopback address/,
    );
    await expect(generateLoad({ url: 'http://127.0.0.1:1', durationMs: 3_600_000 })).rejects.toThrow(
      RangeError,
    );
    await expect(generateLoad({ url: 'http://127.0.0.1:1', concurrency: 0 })).rejects.toThrow(
      /`opts.concurrency`/,
    );
    await expect(generateLoad({ url: 'http://127.0.0.1:1', routes: ['nope'] })).rejects.toThrow(
      /`opts.routes\[0\].path`/,
    );
  });
});
