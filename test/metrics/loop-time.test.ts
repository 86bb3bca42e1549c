/**
 * `greenhub_greenlet_loop_seconds_total{name}` (collectMetrics({ loopTime: true })): hub time by
 * greenlet name, per route for an HttpServer. Two routes of known CPU cost in a 3:1 ratio — each
 * spins in its first segment (run by the hub) and again after an await (an async callback) — must
 * be attributed within ±10 %: the ratio and the difference of the two counters against those of the
 * spins' own wall time (which a loaded machine stretches), and nothing of it lost.
 */
import { sleep } from 'greenhub';
import { collectMetrics } from 'greenhub/metrics';
import { HttpServer } from 'greenhub/server';
import client from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { parsePrometheusText, sampleValue } from './prom-text.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

/** Spin `ms` on the hub; returns the wall time it took (more than `ms` if the OS preempted us). */
function spin(ms: number): number {
  const start = performance.now();
  const end = start + ms;
  while (performance.now() < end);
  return performance.now() - start;
}

/**
 * Costs large against the framework's own per-request hub time (parsing aside, a few hundred µs:
 * the response write, the greenlet's end), which is the route's too but not part of the known cost.
 */
const REQUESTS = 20;
const WARM_UP = 5;
const HEAVY_MS = 12;
const LIGHT_MS = 4;

describe('collectMetrics({ loopTime: true })', () => {
  it('attributes hub time to routes within 10 %: two routes of CPU cost 3:1, in their first segment and after an await', async () => {
    const register = new client.Registry();
    const collection = collectMetrics({ register, defaultMetrics: false, loopTime: true });
    cleanups.push(() => collection.close());
    // The handlers' own wall time in their spins: the known cost as it really ran (on a loaded
    // 2-core machine a 4 ms spin preempted by the OS lasts longer, and the loop was busy as long).
    const spun: Record<string, number> = { '/heavy': 0, '/light': 0 };
    const server = new HttpServer(0, async (req, res) => {
      const ms = req.url === '/heavy' ? HEAVY_MS : LIGHT_MS;
      let took = spin(ms); // the first segment: run by the hub
      await sleep(1);
      took += spin(ms); // a continuation: an async callback
      spun[req.url!]! += took / 1000;
      res.end('ok');
    });
    await server.start();
    cleanups.push(() => server.stop(0));
    const drive = async (n: number) => {
      for (let i = 0; i < n; i++)
        for (const path of ['/heavy', '/light']) await (await fetch(`${server.url}${path}`)).text();
    };
    const read = async (name: string) =>
      sampleValue(parsePrometheusText(await register.metrics()), 'greenhub_greenlet_loop_seconds_total', {
        name,
      }) ?? 0;
    // Counters: the first requests (compiling the server's paths) are left out by difference.
    await drive(WARM_UP);
    const [heavy0, light0] = [await read('GET /heavy'), await read('GET /light')];
    spun['/heavy'] = spun['/light'] = 0;
    await drive(REQUESTS);
    const heavy = (await read('GET /heavy')) - heavy0;
    const light = (await read('GET /light')) - light0;
    const [ownHeavy, ownLight] = [spun['/heavy']!, spun['/light']!];
    expect(ownHeavy).toBeGreaterThanOrEqual((REQUESTS * 2 * HEAVY_MS) / 1000);
    expect(ownLight).toBeGreaterThanOrEqual((REQUESTS * 2 * LIGHT_MS) / 1000);
    // Nothing of the known cost is lost; what comes on top is the same for both routes (the
    // framework's per-request hub time), so the ratio and the difference are the known ones.
    expect(heavy).toBeGreaterThanOrEqual(ownHeavy);
    expect(light).toBeGreaterThanOrEqual(ownLight);
    const ratio = heavy / light / (ownHeavy / ownLight);
    expect(ratio, `${heavy}/${light} against ${ownHeavy}/${ownLight}`).toBeGreaterThan(0.9);
    expect(ratio, `${heavy}/${light} against ${ownHeavy}/${ownLight}`).toBeLessThan(1.1);
    const difference = (heavy - light) / (ownHeavy - ownLight);
    expect(difference).toBeGreaterThan(0.9);
    expect(difference).toBeLessThan(1.1);
  });

  it('is off by default, and closing the last collection stops timing', async () => {
    const register = new client.Registry();
    const off = collectMetrics({ register, defaultMetrics: false });
    await sleep(1);
    let f = parsePrometheusText(await register.metrics());
    expect(f.get('greenhub_greenlet_loop_seconds_total')?.samples ?? []).toEqual([]);
    off.close();
    const on = collectMetrics({ register, defaultMetrics: false, loopTime: true });
    const { spawn } = await import('greenhub');
    await spawn(function timed() {
      spin(2);
    }).join();
    f = parsePrometheusText(await register.metrics());
    expect(sampleValue(f, 'greenhub_greenlet_loop_seconds_total', { name: 'timed' })).toBeGreaterThanOrEqual(
      0.002,
    );
    on.close();
    const { getHub } = await import('greenhub');
    expect((getHub() as unknown as { _onRunSegment: unknown })._onRunSegment).toBeNull();
    expect(() => collectMetrics({ register, loopTime: 'yes' as never })).toThrow(
      /expected `opts.loopTime` to be a boolean/,
    );
  });
});
