import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { get, gone, runCli, type Seen, startCli } from './helpers.js';

const APP = 'test/cli/fixtures/cluster-app.mjs';

/** Start `greenhub run --workers …`; resolves the shared port and the metrics port from its output. */
function startCluster(flags: string[], args: string[] = []) {
  const started = startCli(['run', '--metrics-port', '0', ...flags, APP, ...args], { timeoutMs: 30_000 });
  const worker = (slot: number) =>
    started
      .until(new RegExp(`worker ${slot} \\(pid (\\d+)\\) listening on 127\\.0\\.0\\.1:(\\d+)`))
      .then((m) => ({ pid: Number(m[1]), port: Number(m[2]) }));
  return {
    ...started,
    worker,
    metricsPort: started
      .until(/greenhub: metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/)
      .then((m) => Number(m[1])),
  };
}

/** The value of the one series of `name` with these exact labels in a scrape, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** The sum of every `greenhub_http_requests_total` series. */
function requestsServed(text: string): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith('greenhub_http_requests_total{'))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

/** Sockets that carried a complete response: a later request on one is on a reused connection. */
const usedSockets = new WeakSet<object>();

/**
 * GET `path` through `agent` (`false`: a connection of its own, `connection: close`). A request
 * written to a keep-alive connection that the server closed as idle at that very moment fails with
 * ECONNRESET before any response; HTTP/1.1 leaves that race to the client, and Node's documentation
 * has it retry such a request (`req.reusedSocket`; a socket the agent handed on to a queued request
 * counts too). That is done here, and counted in `retried`.
 */
function getRetrying(
  port: number,
  path: string,
  agent: http.Agent | false,
  retried: { n: number },
): Promise<Seen> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      const socket = req.socket;
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => {
        if (socket !== null) usedSockets.add(socket);
        resolve({ status: res.statusCode, body });
      });
      res.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (
        agent !== false &&
        e.code === 'ECONNRESET' &&
        (req.reusedSocket || usedSockets.has(req.socket ?? {}))
      ) {
        retried.n++;
        resolve(getRetrying(port, path, agent, retried));
      } else resolve({ error: e.code ?? e.message });
    });
  });
}

/**
 * A bounded load: `clients` loops of GET `path`, on keep-alive connections or a new connection for
 * each request, until `stop` resolves or `max` requests were made in all. Resolves with every
 * outcome, and how many requests were retried on a reset keep-alive connection.
 */
async function load(
  port: number,
  path: string,
  opts: { clients: number; max: number; keepAlive: boolean; stop: Promise<unknown> },
) {
  // Without keep-alive: no agent at all (an agent with maxSockets keeps connections alive).
  const agent = opts.keepAlive ? new http.Agent({ keepAlive: true, maxSockets: opts.clients }) : false;
  const seen: Seen[] = [];
  const retried = { n: 0 };
  let stopped = false;
  void opts.stop.then(() => (stopped = true));
  await Promise.all(
    Array.from({ length: opts.clients }, async () => {
      while (!stopped && seen.length < opts.max) seen.push(await getRetrying(port, path, agent, retried));
    }),
  );
  if (agent !== false) agent.destroy();
  return { seen, retried: retried.n };
}

describe('greenhub run --workers', () => {
  it.each([
    [['--workers', '-1'], /expected --workers to be a number of workers from 1 to 512, or 0 or "auto"/],
    [['--workers', 'abc'], /expected --workers to be .* got "abc"$/m],
    [['--workers', '10000'], /got "10000": more than 512$/m],
    [['--threads', '2'], /--threads needs --workers/],
    [
      ['--workers', '2', '--threads', '0'],
      /expected --threads to be a number of threads from 1 to 1024, got "0"/,
    ],
  ])('refuses %j with exit status 2 and a message naming the bound', async (flags, message) => {
    const { code, stderr } = await runCli(['run', ...flags, APP]);
    expect(stderr).toMatch(message);
    expect(code).toBe(2);
  });

  it('refuses a bad GREENHUB_WORKERS the same way', async () => {
    const { code, stderr } = await runCli(['run', APP], { env: { GREENHUB_WORKERS: 'many' } });
    expect(stderr).toMatch(/expected GREENHUB_WORKERS to be a number of workers from 1 to 512.* got "many"/);
    expect(code).toBe(2);
  });

  it('forks N workers sharing one port, each with its share of the cores; one /metrics sums requests, averages utilization, keeps quantiles per worker', async () => {
    const app = startCluster(['--workers', '2']);
    const [one, two, metricsPort] = await Promise.all([app.worker(1), app.worker(2), app.metricsPort]);
    expect(one.port).toBe(two.port);
    expect(one.pid).not.toBe(two.pid);
    const threads = Math.max(1, Math.floor(availableParallelism() / 2));
    await app.until(new RegExp(`pid=${one.pid} threads=${threads}\\n`));
    await app.until(new RegExp(`pid=${two.pid} threads=${threads}\\n`));
    const pids = new Set<string>();
    for (let i = 0; i < 20; i++) pids.add((await get(one.port, '/')).body ?? '');
    expect(pids).toEqual(new Set([`pid ${one.pid}`, `pid ${two.pid}`]));
    expect(await get(metricsPort, '/healthz')).toEqual({ status: 200, body: 'ok\n' });
    const metrics = (await get(metricsPort, '/metrics')).body ?? '';
    expect(requestsServed(metrics)).toBe(20);
    expect(sample(metrics, 'greenhub_cluster_workers')).toBe(2);
    const utilization = metrics.split('\n').filter((l) => l.startsWith('greenhub_loop_utilization_ratio'));
    expect(utilization).toHaveLength(1);
    expect(sample(metrics, 'greenhub_loop_utilization_ratio')).toBeLessThanOrEqual(1);
    // Loop delay (a histogram) and loop busy seconds stay per worker: their worker label is what
    // the dashboard's worker variable lists, and averaging busy rates per worker is utilization.
    expect(metrics).toMatch(/^greenhub_loop_delay_seconds_count\{worker="1"\} /m);
    expect(metrics).toMatch(/^greenhub_loop_delay_seconds_count\{worker="2"\} /m);
    expect(metrics).not.toMatch(/^greenhub_loop_delay_seconds_count /m);
    expect(metrics).toMatch(/^greenhub_loop_busy_seconds_total\{worker="1"\} /m);
    expect(metrics).not.toMatch(/^greenhub_loop_busy_seconds_total /m);
    expect(metrics).toMatch(/^nodejs_eventloop_lag_p99_seconds\{worker="1"\} /m);

    // SIGTERM: every worker stops gracefully, the request in flight finishes.
    const slow = get(one.port, '/slow');
    await new Promise((resolve) => setTimeout(resolve, 50));
    app.child().kill('SIGTERM');
    const { code, stderr } = await app.exited;
    expect(await slow).toEqual({ status: 200, body: expect.stringMatching(/^pid \d+$/) });
    expect(stderr).toContain('SIGTERM: stopping 2 workers gracefully, 10000 ms grace each');
    expect(stderr.match(/greenhub: shutdown complete: /g)).toHaveLength(2);
    expect(code).toBe(0);
    expect(await gone(one.pid)).toBe(true);
    expect(await gone(two.pid)).toBe(true);
  });

  it('/healthz on the metrics port is 503 while no worker listens', async () => {
    const app = startCluster(['--workers', '1'], ['idle']);
    const [metricsPort] = await Promise.all([app.metricsPort, app.until(/APP IDLE/)]);
    expect(await get(metricsPort, '/healthz')).toEqual({ status: 503, body: 'no worker is listening\n' });
    app.child().kill('SIGTERM');
    expect((await app.exited).code).toBe(0);
  });

  it('a second SIGTERM during the graceful stop makes every worker exit at once (143)', async () => {
    const app = startCluster(['--workers', '2', '--grace', '20000']);
    const [one] = await Promise.all([app.worker(1), app.worker(2)]);
    void get(one.port, '/forever');
    await app.until(/APP FOREVER/);
    const started = performance.now();
    app.child().kill('SIGTERM');
    // Each worker says it got the first one (two signals pending at once would be one).
    await app.until(/SIGTERM: shutting down gracefully[\s\S]*SIGTERM: shutting down gracefully/);
    app.child().kill('SIGTERM');
    const { code, stderr } = await app.exited;
    expect(stderr).toContain('greenhub: SIGTERM again: exiting now with 143');
    expect(code).toBe(143);
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('a greenhub run killed with SIGKILL: the primary notices and stops its workers gracefully', async () => {
    const app = startCluster(['--workers', '2']);
    const [one, two] = await Promise.all([app.worker(1), app.worker(2)]);
    const primary = Number((await app.until(/primary pid=(\d+)/))[1]);
    app.child().kill('SIGKILL');
    await app.exited;
    // The output pipes are inherited by the primary and workers: wait for the processes instead.
    expect(await gone(primary, 10_000)).toBe(true);
    expect(await gone(one.pid, 10_000)).toBe(true);
    expect(await gone(two.pid, 10_000)).toBe(true);
  });

  it('a primary killed with SIGKILL: its orphaned workers shut down by themselves', async () => {
    const app = startCluster(['--workers', '2']);
    const [one, two] = await Promise.all([app.worker(1), app.worker(2)]);
    const primary = Number((await app.until(/primary pid=(\d+)/))[1]);
    process.kill(primary, 'SIGKILL');
    expect((await app.exited).code).toBe(137);
    expect(await gone(one.pid, 10_000)).toBe(true);
    expect(await gone(two.pid, 10_000)).toBe(true);
  });

  it('--threads sets each worker’s default pool size', async () => {
    const app = startCluster(['--workers', '1', '--threads', '3', '--no-metrics']);
    await app.until(/APP LISTENING \d+ pid=\d+ threads=3\n/);
    app.child().kill('SIGTERM');
    expect((await app.exited).code).toBe(0);
  });

  it('replaces a worker that dies, says how it died, and its counters do not go backwards', async () => {
    const app = startCluster(['--workers', '2']);
    const [one, , metricsPort] = await Promise.all([app.worker(1), app.worker(2), app.metricsPort]);
    for (let i = 0; i < 10; i++) await get(one.port, '/');
    const before = (await get(metricsPort, '/metrics')).body ?? '';
    expect(requestsServed(before)).toBe(10);
    process.kill(one.pid, 'SIGKILL');
    const replaced = await app.until(
      new RegExp(`worker 1 \\(pid ${one.pid}\\) was killed by SIGKILL; replacing it in 100 ms`),
    );
    expect(replaced).not.toBeNull();
    const fresh = await app.until(new RegExp(`worker 1 \\(pid (?!${one.pid}\\))(\\d+)\\) listening`));
    expect(Number(fresh[1])).not.toBe(one.pid);
    const after = (await get(metricsPort, '/metrics')).body ?? '';
    expect(requestsServed(after)).toBeGreaterThanOrEqual(requestsServed(before));
    expect(sample(after, 'greenhub_cluster_workers')).toBe(2);
    expect(sample(after, 'greenhub_cluster_worker_deaths_total')).toBe(1);
    app.child().kill('SIGTERM');
    expect((await app.exited).code).toBe(0);
  });

  it('a crash loop (an application that exits at startup every time) stops with a clear error and exit 1', async () => {
    const started = performance.now();
    const { code, stderr } = await runCli(['run', '--workers', '2', '--no-metrics', APP, 'crash']);
    expect(stderr).toMatch(
      /worker \d \(pid \d+\) exited with code 1 before it listened; replacing it in 100 ms/,
    );
    expect(stderr).toMatch(/replacing it in 200 ms/);
    expect(stderr).toMatch(
      /greenhub run: crash loop: 5 worker deaths within 30 s, the last: worker \d \(pid \d+\) exited with code 1 before it listened; stopping every worker and exiting with 1/,
    );
    expect(code).toBe(1);
    expect(performance.now() - started).toBeLessThan(20_000);
  });

  it.each([
    [1, 'a new connection per request'],
    [2, 'a new connection per request'],
    [2, 'keep-alive connections'],
  ])(
    'SIGHUP with %i worker(s) restarts them one by one under load (%s) without a failed request; a SIGHUP during it is queued once',
    async (workers, how) => {
      const keepAlive = how === 'keep-alive connections';
      const app = startCluster(['--workers', String(workers)]);
      const [one, metricsPort] = await Promise.all([app.worker(1), app.metricsPort]);
      const old = await Promise.all(Array.from({ length: workers }, (_, i) => app.worker(i + 1)));
      let finish: () => void = () => {};
      const stop = new Promise<void>((resolve) => {
        finish = resolve;
      });
      const outcomes = load(one.port, '/slow', { clients: 8, max: 3_000, keepAlive, stop });
      app.child().kill('SIGHUP');
      await app.until(new RegExp(`SIGHUP: rolling restart of ${workers} workers?`));
      app.child().kill('SIGHUP');
      app.child().kill('SIGHUP');
      await app.until(/SIGHUP during a rolling restart: queued, one more restart follows this one/);
      await app.until(/rolling restart done[\s\S]*rolling restart done: /);
      finish();
      const { seen, retried } = await outcomes;
      process.stderr.write(
        `rolling restart x2, ${workers} worker(s), ${how}: ${seen.length} requests, ` +
          `${seen.filter((s) => s.status !== 200).length} failed, ${retried} retried on a reset keep-alive connection\n`,
      );
      expect(seen.filter((s) => s.status !== 200)).toEqual([]);
      if (!keepAlive) expect(retried).toBe(0);
      expect(seen.length).toBeGreaterThan(20);
      const metrics = (await get(metricsPort, '/metrics')).body ?? '';
      expect(sample(metrics, 'greenhub_cluster_rolling_restarts_total')).toBe(2);
      expect(requestsServed(metrics)).toBe(seen.length);
      for (const { pid } of old) expect(await gone(pid)).toBe(true);
      app.child().kill('SIGTERM');
      const { code, stderr } = await app.exited;
      expect(stderr.match(/SIGHUP: rolling restart of/g)).toHaveLength(2);
      expect(code).toBe(0);
    },
  );

  it('a rolling restart whose new worker dies before it listens stops there: the old workers keep serving', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'greenhub-broken-deploy-'));
    const broken = join(dir, 'broken');
    try {
      const app = startCluster(['--workers', '2'], ['crash-if', broken]);
      const [one, two] = await Promise.all([app.worker(1), app.worker(2)]);
      writeFileSync(broken, '');
      app.child().kill('SIGHUP');
      await app.until(
        /rolling restart stopped: the new worker 1 died before it listened; the old workers keep serving/,
      );
      expect(await gone(one.pid, 100)).toBe(false);
      expect(await gone(two.pid, 100)).toBe(false);
      for (let i = 0; i < 4; i++) expect((await get(one.port, '/')).status).toBe(200);
      app.child().kill('SIGTERM');
      const { code, stderr } = await app.exited;
      expect(stderr).toMatch(
        /worker 1 \(pid \d+\) exited with code 1 before it listened; worker 1 keeps the one it was to replace/,
      );
      expect(code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('SIGTTIN adds a worker, SIGTTOU removes one', async () => {
    const app = startCluster(['--workers', '1']);
    const [, metricsPort] = await Promise.all([app.worker(1), app.metricsPort]);
    app.child().kill('SIGTTIN');
    await app.worker(2);
    expect(sample((await get(metricsPort, '/metrics')).body ?? '', 'greenhub_cluster_workers')).toBe(2);
    app.child().kill('SIGTTOU');
    await app.until(/SIGTTOU: 1 worker; worker 2 stops gracefully/);
    await app.until(/SIGTTOU[\s\S]*shutdown complete/);
    expect(sample((await get(metricsPort, '/metrics')).body ?? '', 'greenhub_cluster_workers')).toBe(1);
    app.child().kill('SIGTTOU');
    await app.until(/SIGTTOU: already at one worker/);
    app.child().kill('SIGTERM');
    expect((await app.exited).code).toBe(0);
  });
});
