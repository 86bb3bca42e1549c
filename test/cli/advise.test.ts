/**
 * `greenhub advise` end to end, against services in child processes, each rule on a workload made
 * to trigger it: a route burning CPU on the hub must be named and told to offload; an unmodified
 * application under `greenhub run` whose route blocks in `fs.readFileSync` must have that API
 * named; the demo with its pool's threads as many as the cores, driven past them, must be told to
 * add processes, not threads; and the demo in `--mode hybrid` under light load must get no rule
 * that fires wrongly. Load is bounded in count and time, and runs exactly while the advisor's two
 * scrapes do (it stops when the advisor exits).
 */
import http from 'node:http';
import { createServer } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startProcess } from '../patch/scenario.js';
import { get, runCli, startCli, startDemo } from './helpers.js';

/**
 * Requests to `paths` in turn from `clients` keep-alive clients until `stop` resolves, at most
 * `maxRequests` in all; resolves with the number of 200 answers.
 */
async function load(
  port: number,
  paths: string[],
  clients: number,
  stop: Promise<unknown>,
  maxRequests = 5_000,
) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  let done = false;
  let sent = 0;
  let ok = 0;
  void stop.then(() => (done = true));
  const client = async (offset: number) => {
    for (let i = offset; !done && sent < maxRequests; i++) {
      sent++;
      if ((await get(port, paths[i % paths.length]!, agent)).status === 200) ok++;
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, i) => client(i))).finally(() => agent.destroy());
  return ok;
}

/** Run `greenhub advise <metrics URL> ...flags` while `drive(advisorDone)` loads the service. */
async function adviseUnderLoad(
  metricsUrl: string,
  flags: string[],
  drive: (advisorDone: Promise<void>) => Promise<number>,
) {
  let advised!: () => void;
  const advisorDone = new Promise<void>((resolve) => (advised = resolve));
  const driving = drive(advisorDone);
  const result = await runCli(['advise', metricsUrl, ...flags], { timeoutMs: 20_000 }).finally(advised);
  return { ...result, answered: await driving };
}

/** A loopback port nothing listens on (one that was free a moment ago). */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** A server whose /metrics is Prometheus text without greenhub's metrics. */
const NOT_METRICS = `
const server = require('node:http').createServer((req, res) => res.end('other_metric_total 1\\n'));
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ listening: server.address().port })));
`;

describe('greenhub advise', () => {
  it('a bad command line exits 2 naming the argument; an unreachable URL exits 1 saying why', async () => {
    const none = await runCli(['advise']);
    expect([none.code, none.stderr.trim()]).toEqual([
      2,
      'greenhub advise: expected <url> to be an http:// or https:// URL of a metrics endpoint, got nothing',
    ]);
    const interval = await runCli(['advise', 'http://127.0.0.1:9/metrics', '--interval', 'soon']);
    expect([interval.code, interval.stderr.trim()]).toEqual([
      2,
      'greenhub advise: expected --interval to be a number of milliseconds from 100 to 600000, got "soon"',
    ]);
    const port = await closedPort();
    const closed = await runCli(['advise', `http://127.0.0.1:${port}`, '--interval', '100']);
    expect([closed.code, closed.stderr.trim()]).toEqual([
      1,
      `greenhub advise: cannot read http://127.0.0.1:${port}/metrics: ECONNREFUSED`,
    ]);
    const page = startProcess(['-e', NOT_METRICS], { timeoutMs: 15_000 });
    onTestFinished(() => void page.child().kill());
    const pagePort = Number((await page.until(/\{"listening":(\d+)\}/))[1]);
    const wrong = await runCli(['advise', `http://127.0.0.1:${pagePort}/metrics`, '--interval', '100']);
    expect([wrong.code, wrong.stderr.trim()]).toEqual([
      1,
      `greenhub advise: http://127.0.0.1:${pagePort}/metrics has no greenhub metrics: expected greenhub_loop_busy_seconds_total (is collectMetrics() registered in what it serves?)`,
    ]);
  });

  it('tells a service whose route burns CPU on the hub to offload that route', async () => {
    const service = startProcess(['test/cli/fixtures/cpu-inline.mjs'], { timeoutMs: 30_000 });
    onTestFinished(() => void service.child().kill());
    const port = Number((await service.until(/\{"listening":(\d+)\}/))[1]);
    let advised!: () => void;
    const advisorDone = new Promise<void>((resolve) => (advised = resolve));
    const driving = load(port, ['/cpu', '/cpu', '/cpu', '/io'], 4, advisorDone);
    const advisor = runCli(['advise', `http://127.0.0.1:${port}/metrics`, '--interval', '2000'], {
      timeoutMs: 20_000,
    }).finally(advised);
    const { code, stdout, stderr } = await advisor;
    await driving;
    process.stdout.write(`advise, CPU-inline service:\n${stdout}`);
    expect([code, stderr]).toEqual([0, '']);
    expect(stdout).toMatch(/^greenhub advise: http:\/\/127\.0\.0\.1:\d+\/metrics over 2\.\d s, \d+ cores\n/);
    expect(stdout).toMatch(
      /^route GET \/cpu holds the loop \d+ % of busy time \([\d.]+ of [\d.]+ busy s over 2\.\d s, \d+ ms per call\) → offload it \(pool\.run \/ hybrid\)$/m,
    );
    expect(stdout).not.toContain('GET /io holds');
    expect(stdout).not.toContain('nothing to change');
  }, 40_000);

  // The pipe the application reads is a Unix FIFO (mkfifo).
  it.skipIf(process.platform === 'win32')(
    'names fs.readFileSync and the route it blocks in (GET /report) as what blocks the loop of an unmodified application under greenhub run',
    async () => {
      const app = startCli(['run', '--metrics-port', '0', 'test/cli/advise/fixtures/report-blocks.mjs'], {
        timeoutMs: 40_000,
      });
      onTestFinished(async () => {
        app.child().kill('SIGTERM');
        await app.exited;
      });
      const [port, metricsPort] = await Promise.all([
        app.until(/APP LISTENING (\d+)/).then((m) => Number(m[1])),
        app.until(/greenhub: metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/).then((m) => Number(m[1])),
      ]);
      // One client, one request at a time: each /report blocks the loop ≥ 150 ms; at most 40 of them.
      const { code, stdout, stderr, answered } = await adviseUnderLoad(
        `http://127.0.0.1:${metricsPort}/metrics`,
        ['--interval', '2000'],
        (done) => load(port, ['/report', '/io'], 1, done, 80),
      );
      process.stdout.write(`advise, application blocking in fs.readFileSync:\n${stdout}`);
      expect([code, stderr]).toEqual([0, '']);
      expect(answered).toBeGreaterThan(0);
      const blocked = stdout.match(
        /^loop blocked ([\d.]+) s\/min by fs\.readFileSync in GET \/report → use its asynchronous form, or run it in the pool$/m,
      );
      expect(blocked, stdout).not.toBeNull();
      // Over the threshold (0.5 s/min), and no more than the window's wall time.
      const perMinute = Number(blocked![1]);
      expect(perMinute).toBeGreaterThanOrEqual(0.5);
      expect(perMinute).toBeLessThanOrEqual(60);
      expect(stdout).not.toMatch(/by code outside any patched API/);
      expect(stdout).not.toContain('nothing to change');
      // The application was told too, by the blocking patch, naming the call and its route's greenlet.
      await app.until(/greenhub: blocking call fs\.readFileSync\(\) took [\d.]+ (ms|s) \(limit 100 ms\)/);
    },
    60_000,
  );

  it('tells the demo whose pool threads equal the cores and whose tasks queue to add processes, not threads', async () => {
    const demo = startDemo(['--mode', 'offload', '--threads', '2', '--quiet'], { timeoutMs: 40_000 });
    onTestFinished(async () => {
      demo.child().kill('SIGTERM');
      await demo.exited;
    });
    const port = await demo.port;
    for (const path of ['/cpu', '/cpu']) expect((await get(port, path)).status).toBe(200);
    // 12 clients on /cpu (~20 ms of CPU each) against 2 threads: ~10 tasks queued at any time.
    const { code, stdout, stderr, answered } = await adviseUnderLoad(
      `http://127.0.0.1:${port}/metrics`,
      ['--interval', '2000', '--cores', '2'],
      (done) => load(port, ['/cpu'], 12, done, 2_000),
    );
    process.stdout.write(`advise, demo --mode offload --threads 2 under 12 clients of /cpu:\n${stdout}`);
    expect([code, stderr]).toEqual([0, '']);
    const wait = stdout.match(
      /^pool (\S+): queue wait p99 (\d+(?:\.\d)?) ms over (\d+) tasks \((\d+) waited over 50 ms\) with threads 2 = cores 2 → add processes or machines, not threads$/m,
    );
    expect(wait, stdout).not.toBeNull();
    const [, , p99, tasks, slow] = wait!.map(Number);
    expect(p99).toBeGreaterThanOrEqual(50);
    expect(slow).toBeGreaterThanOrEqual(5);
    expect(slow).toBeLessThanOrEqual(tasks!);
    // The window's tasks are among the requests the clients sent (plus the warm-up).
    expect(tasks).toBeLessThanOrEqual(answered + 12 + 2);
    expect(stdout).not.toMatch(/holds the loop|loop blocked|nothing to change/);
  }, 60_000);

  it('finds nothing to change in the demo (--mode hybrid) under light load', async () => {
    const demo = startDemo(['--mode', 'hybrid', '--quiet'], { timeoutMs: 40_000 });
    onTestFinished(async () => {
      demo.child().kill('SIGTERM');
      await demo.exited;
    });
    const port = await demo.port;
    // Warm up: the pool's threads start, hybrid() learns the cheap and the expensive calls.
    for (const path of ['/io', '/cpu', '/hybrid', '/hybrid', '/hybrid', '/hybrid', '/cpu']) {
      expect((await get(port, path)).status).toBe(200);
    }
    let advised!: () => void;
    const advisorDone = new Promise<void>((resolve) => (advised = resolve));
    // Light load: one client, one request at a time, the demo's route mix.
    const driving = load(port, ['/io', '/io', '/io', '/cpu', '/hybrid'], 1, advisorDone);
    const { code, stdout, stderr } = await runCli(
      ['advise', `http://127.0.0.1:${port}/metrics`, '--interval', '3000'],
      { timeoutMs: 20_000 },
    ).finally(advised);
    await driving;
    process.stdout.write(`advise, demo --mode hybrid under light load:\n${stdout}`);
    expect([code, stderr]).toEqual([0, '']);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^greenhub advise: .* over 3\.\d s/);
    expect(lines.slice(1)).toEqual([
      expect.stringMatching(/^nothing to change: loop utilization \d+ %, loop delay p99 /),
    ]);
  }, 60_000);
});
