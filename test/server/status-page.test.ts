import { existsSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium } from 'playwright-core';
import client from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { Event, sleep, spawn } from '../../src/index.js';
import { collectMetrics, OPERATION_KINDS } from '../../src/metrics/index.js';
import { HttpServer, mountStatusPage, type StatusSnapshot } from '../../src/server/index.js';
import { STATUS_CHARTS } from '../../src/server/status-html.js';
import { root } from '../helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const chromiumMissing = !existsSync(CHROMIUM);
if (chromiumMissing) {
  console.warn(
    `status page browser test skipped: ${CHROMIUM} is not installed (apt-get install -y chromium; .ci/run does)`,
  );
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

async function app(): Promise<HttpServer> {
  const server = new HttpServer(0, async (req, res) => {
    await sleep(req.url === '/slow' ? 20 : 2);
    res.end('ok');
  });
  cleanups.push(() => server.stop(0));
  const page = mountStatusPage(server, { path: '/' });
  cleanups.push(() => page.close());
  await server.start();
  return server;
}

/** Requests from a few greenlets until `stop` is set, bounded in count. */
function drive(url: string, stop: Event): Promise<unknown> {
  const one = () =>
    new Promise<void>((resolve) => {
      http.get(url, { agent: false }, (res) => res.resume().on('end', resolve)).on('error', () => resolve());
    });
  const worker = spawn(async () => {
    for (let i = 0; i < 2000 && !stop.isSet(); i++) await one();
  });
  return worker.join();
}

describe('status page', () => {
  it('serves a JSON snapshot with greenlets, loop, and per-route rate and latency over the last window', async () => {
    const server = await app();
    const get = async (path: string) =>
      (await fetch(`${server.url}${path}`)).json() as Promise<StatusSnapshot>;
    await get('/status.json'); // opens a window
    for (let i = 0; i < 5; i++) await fetch(`${server.url}/slow`);
    const s = await get('/status.json');
    const slow = s.routes.find((r) => r.route === '/slow')!;
    expect(slow).toMatchObject({ server: 'http', method: 'GET', total: 5 });
    expect(slow.rps).toBeGreaterThan(0);
    expect(slow.p50Ms).toBeGreaterThanOrEqual(15);
    expect(s.greenlets).toEqual({
      running: expect.any(Number),
      waiting: expect.any(Number),
      scheduled: expect.any(Number),
    });
    expect(s.loop.utilization).toBeGreaterThanOrEqual(0);
    const page = await fetch(`${server.url}/`);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain('<script src="/uplot.min.js"></script>');
    const js = await fetch(`${server.url}/uplot.min.js`);
    expect([js.status, (await js.text()).includes('uPlot')]).toEqual([200, true]);
  });

  it('no chart mixes units: counts, milliseconds and percentages each have their own charts', () => {
    for (const chart of STATUS_CHARTS) expect(['count', 'ms', '%', '/s'], chart.id).toContain(chart.unit);
    const unitOf = new Map(STATUS_CHARTS.flatMap((c) => c.series.map((name) => [name, c.unit] as const)));
    expect([
      unitOf.get('delay p99'),
      unitOf.get('loop'),
      unitOf.get('queued tasks'),
      unitOf.get('pool threads'),
    ]).toEqual(['ms', '%', 'count', '%']);
    // What the README promises besides: spawned per second, pending patched operations by kind.
    expect(STATUS_CHARTS.find((c) => c.id === 'spawned')).toMatchObject({ unit: '/s', series: ['spawned'] });
    expect(STATUS_CHARTS.find((c) => c.id === 'operations')).toMatchObject({
      unit: 'count',
      series: [...OPERATION_KINDS, 'other'],
    });
  });

  it("carries greenhub advise's advice over each advice window, from the registry's greenhub metrics", async () => {
    const register = new client.Registry();
    const metrics = collectMetrics({ register, defaultMetrics: false });
    cleanups.push(() => metrics.close());
    const server = new HttpServer(0, async (_req, res) => res.end('ok'));
    cleanups.push(() => server.stop(0));
    const page = mountStatusPage(server, { path: '/', register, adviceWindowMs: 0 });
    cleanups.push(() => page.close());
    await server.start();
    const advice = async () =>
      ((await (await fetch(`${server.url}/status.json`)).json()) as StatusSnapshot).advice!;
    expect(await advice()).toEqual({ windowSeconds: null, lines: [], note: 'advice after 0 s' });
    const second = await advice();
    expect(second.windowSeconds).toBeGreaterThan(0);
    expect(second.lines.length).toBeGreaterThanOrEqual(1);
    for (const line of second.lines)
      expect(line).toEqual({ rule: expect.any(String), text: expect.any(String) });

    const bare = new HttpServer(0, async (_req, res) => res.end('ok'));
    cleanups.push(() => bare.stop(0));
    const barePage = mountStatusPage(bare, { path: '/', register: new client.Registry() });
    cleanups.push(() => barePage.close());
    await bare.start();
    const none = ((await (await fetch(`${bare.url}/status.json`)).json()) as StatusSnapshot).advice;
    expect(none).toEqual({
      windowSeconds: null,
      lines: [],
      note: 'no advice: greenhub metrics are not registered (collectMetrics())',
    });
    expect(() => mountStatusPage(bare, { adviceWindowMs: -1 })).toThrow(/adviceWindowMs/);
  });

  it("serves a favicon; the page and its files are not counted among the application's routes", async () => {
    const server = await app();
    const icon = await fetch(`${server.url}/favicon.ico`);
    expect([icon.status, icon.headers.get('content-type')]).toEqual([200, 'image/svg+xml']);
    expect(await icon.text()).toMatch(/^<svg /);
    const html = await (await fetch(`${server.url}/`)).text();
    expect(html).toContain('<link rel="icon" type="image/svg+xml" href="/favicon.ico">');
    for (const path of ['/', '/uplot.min.js', '/uplot.min.css', '/status.json'])
      await fetch(`${server.url}${path}`);
    await fetch(`${server.url}/slow`);
    const s = (await (await fetch(`${server.url}/status.json`)).json()) as StatusSnapshot;
    expect(s.routes.map((r) => r.route)).toEqual(['/slow']);
    expect(server.snapshot().routes!.map((r) => r.route)).toEqual(['/slow']);
  });

  it('mounts on a plain http.Server, passing every other request to its own listener', async () => {
    const plain = http.createServer((_req, res) => res.end('app'));
    const page = mountStatusPage(plain, { path: '/status', title: 'a <b> title' });
    cleanups.push(() => page.close());
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => plain.close(r)));
    const base = `http://127.0.0.1:${(plain.address() as AddressInfo).port}`;
    expect(await (await fetch(`${base}/anything`)).text()).toBe('app');
    const html = await (await fetch(`${base}/status`)).text();
    expect(html).toContain('<title>a &#60;b&#62; title</title>');
    expect(html).toContain("fetch('/status/status.json'");
    expect(((await (await fetch(`${base}/status/status.json`)).json()) as StatusSnapshot).routes).toEqual([]);
    expect(() => mountStatusPage({} as never)).toThrow(
      /expected `server` to be an HttpServer or an http.Server/,
    );
  });

  it.skipIf(chromiumMissing)(
    'renders its charts in headless Chromium and updates them every second under load (screenshot in test-results/)',
    async () => {
      const server = await app();
      const stop = new Event();
      const load = drive(`${server.url}/slow`, stop);
      cleanups.push(async () => {
        stop.set();
        await load;
      });
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
      cleanups.push(() => browser.close());
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`${server.url}/`);
      // The page's state, read in the page (string expressions: the tests are not typed for the DOM).
      await page.waitForFunction('window.greenhubStatus.updates >= 3', null, { timeout: 15_000 });
      const first = (await page.evaluate(`({
        keys: window.greenhubStatus.charts.rate.keys,
        points: window.greenhubStatus.charts.rate.plot.data[0].length,
        canvases: document.querySelectorAll('canvas').length,
      })`)) as { keys: string[]; points: number; canvases: number };
      expect(first.canvases).toBeGreaterThanOrEqual(8);
      expect(first.keys).toContain('GET /slow');
      await page.waitForFunction(
        `window.greenhubStatus.charts.rate.plot.data[0].length >= ${first.points + 2}`,
        null,
        {
          timeout: 15_000,
        },
      );
      const rates = (await page.evaluate(`(() => {
        const c = window.greenhubStatus.charts.rate;
        return c.plot.data[1 + c.keys.indexOf('GET /slow')];
      })()`)) as (number | null)[];
      expect(Math.max(...rates.map((v) => v ?? 0))).toBeGreaterThan(5);
      expect(await page.locator('#routes tbody tr').count()).toBeGreaterThanOrEqual(1);
      // Above the fold: the route table starts before the first chart, inside the first screen.
      const layout = (await page.evaluate(`({
        table: document.getElementById('routes').getBoundingClientRect().top,
        firstChart: document.querySelector('.grid canvas').getBoundingClientRect().top,
        icon: document.querySelector('link[rel=icon]').href,
      })`)) as { table: number; firstChart: number; icon: string };
      expect(layout.table).toBeLessThan(layout.firstChart);
      expect(layout.table).toBeLessThan(900 / 2);
      expect(layout.icon).toBe(`${server.url}/favicon.ico`);
      expect(await page.locator('#advice h2').textContent()).toMatch(/^What to change/);
      // Without hovering, every legend shows its series' latest value (uPlot shows '--' for none).
      await page.mouse.move(0, 0);
      const legends =
        (await page.evaluate(`Object.fromEntries(Object.entries(window.greenhubStatus.charts).map(([id, c]) =>
        [id, [...c.plot.root.querySelectorAll('.u-legend .u-series:not(:first-child) .u-value')].map((e) => e.textContent)]))`)) as Record<
          string,
          string[]
        >;
      expect(legends.greenlets).toHaveLength(3);
      for (const value of legends.greenlets!) expect(value).toMatch(/^\d+$/);
      // Each request of the load spawns its handler's greenlet: some every second.
      expect(legends.spawned).toEqual([expect.stringMatching(/^[\d.]+\/s$/)]);
      expect(Number.parseFloat(legends.spawned![0]!)).toBeGreaterThan(0);
      // Count axes start at 0 and end just above their largest value: this app's pool chart, all
      // zeros, spans 0–1 (not uPlot's 0–100 for flat data, which would flatten 2 busy threads).
      expect(
        await page.evaluate(
          `(({ min, max }) => [min, max])(window.greenhubStatus.charts.pool.plot.scales.y)`,
        ),
      ).toEqual([0, 1]);
      expect(legends.operations).toHaveLength(OPERATION_KINDS.length + 1);
      for (const value of legends.operations!) expect(value).toMatch(/^\d+$/);
      expect(
        legends.loop!.every((v) => / ms$/.test(v)),
        JSON.stringify(legends.loop),
      ).toBe(true);
      expect(
        legends.utilization!.every((v) => /%$|^–$/.test(v)),
        JSON.stringify(legends.utilization),
      ).toBe(true);
      expect(
        legends.rate!.some((v) => / req\/s$/.test(v)),
        JSON.stringify(legends.rate),
      ).toBe(true);
      mkdirSync(`${root}test-results`, { recursive: true });
      await page.screenshot({ path: `${root}test-results/status-page.png`, fullPage: true });
      expect(errors).toEqual([]);
    },
    40_000,
  );
});
