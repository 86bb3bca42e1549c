/**
 * Several machines on one: two `greenhub run --workers 2` instances on loopback ports behind a real
 * HAProxy (Debian's `haproxy`, which `.ci/run` installs) running the shipped
 * deploy/haproxy/haproxy.cfg with its addresses moved to loopback, under a bounded load from a
 * process of its own. The balancer spreads the requests; each instance's one /metrics counts
 * exactly what its workers served; a rolling restart (SIGHUP) of one instance and a stop (SIGTERM)
 * of the other lose no request that HAProxy did not retry. A real Prometheus (Debian's
 * `prometheus`) runs the shipped deploy/prometheus/prometheus.yml, static targets and file-based
 * discovery both pointed at the two instances: it scrapes each with its own `instance` label, and
 * each instance's request counter there is what that instance served.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { get, startCli } from '../cli/helpers.js';
import { which } from '../helpers.js';
import { startProcess } from '../patch/scenario.js';
import { prometheus, startPrometheus, until } from '../prometheus.js';

const APP = 'test/cli/fixtures/cluster-app.mjs';
const LOAD = 'test/deploy/fixtures/load.mjs';

const haproxy = which('haproxy');
if (haproxy === null)
  console.warn('skipping the HAProxy test: haproxy not installed (.ci/run installs Debian haproxy)');
else if (prometheus === null)
  console.warn(
    'the HAProxy test runs without its Prometheus part: prometheus not installed (.ci/run installs Debian prometheus)',
  );

/**
 * The shipped deploy/prometheus files with the example machines' addresses moved to the two
 * instances' metrics ports (static app1, app2; file-discovered app3, app4) and a 1 s scrape.
 */
function prometheusFiles(m1: number, m2: number) {
  const local = (text: string) =>
    text
      .replaceAll('10.0.0.11:9464', `127.0.0.1:${m1}`)
      .replaceAll('10.0.0.12:9464', `127.0.0.1:${m2}`)
      .replaceAll('10.0.0.21:9464', `127.0.0.1:${m1}`)
      .replaceAll('10.0.0.22:9464', `127.0.0.1:${m2}`);
  const config = local(readFileSync('deploy/prometheus/prometheus.yml', 'utf8')).replace(
    'scrape_interval: 15s',
    'scrape_interval: 1s',
  );
  const targets = local(readFileSync('deploy/prometheus/targets/greenhub.json', 'utf8'));
  for (const text of [config, targets]) expect(text.replace(/^\s*#.*$/gm, '')).not.toMatch(/10\.0\.0\./);
  expect(config).toContain('scrape_interval: 1s');
  return { config, targets };
}

/** `n` distinct free loopback ports (held open together, then released). */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Server>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** `greenhub run --workers 2` on `port`, its metrics on `metricsPort`. */
function startInstance(port: number, metricsPort: number) {
  return startCli(['run', '--workers', '2', '--metrics-port', String(metricsPort), APP, String(port)], {
    timeoutMs: 60_000,
  });
}

/** The sum of `greenhub_http_requests_total` for `route` in a scrape. */
function served(metrics: string, route: string): number {
  return metrics
    .split('\n')
    .filter((l) => l.startsWith('greenhub_http_requests_total{') && l.includes(`route="${route}"`))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

interface LoadResult {
  total: number;
  byBody: Record<string, number>;
  failures: unknown[];
}

/**
 * The load process. `progress(n)` resolves once it has made n more requests than now; `stop()` ends
 * it and resolves its result; `done()` waits for it to end by itself (its bound).
 */
function startLoad(port: number, max: number) {
  const load = startProcess([LOAD, String(port), '/load', '8', String(max), '40000'], { timeoutMs: 50_000 });
  let latest = 0;
  const waiters: [number, () => void][] = [];
  load.until(/^/).then(() => {
    load.child().stdout?.on('data', (chunk: Buffer) => {
      for (const m of chunk.toString().matchAll(/LOAD (\d+)/g)) latest = Math.max(latest, Number(m[1]));
      for (const w of waiters.filter(([n]) => latest >= n)) {
        waiters.splice(waiters.indexOf(w), 1);
        w[1]();
      }
    });
  });
  return {
    progress: (more: number) => new Promise<void>((resolve) => waiters.push([latest + more, resolve])),
    async stop(): Promise<LoadResult> {
      load.child().kill('SIGUSR2');
      return (await load.exited).result as LoadResult;
    },
    async done(): Promise<LoadResult> {
      return (await load.exited).result as LoadResult;
    },
  };
}

/** Requests served by each pid, from the load's bodies (`pid 1234`). */
function byPid(result: LoadResult): Map<number, number> {
  return new Map(Object.entries(result.byBody).map(([body, n]) => [Number(body.slice(4)), n]));
}

describe.skipIf(haproxy === null)('several greenhub instances behind HAProxy (deploy/haproxy)', () => {
  it('spreads requests, each instance’s /metrics counts what its workers served, Prometheus scrapes each instance under its own label, and a SIGHUP / SIGTERM loses no request', async () => {
    const [front, p1, p2, m1, m2] = await freePorts(5);
    const one = startInstance(p1, m1);
    const two = startInstance(p2, m2);
    onTestFinished(() => {
      for (const i of [one, two]) i.child().kill('SIGKILL');
    });
    const workerPids = async (instance: typeof one, n: number): Promise<number[]> => {
      const pids: number[] = [];
      for (let slot = 1; slot <= n; slot++)
        pids.push(Number((await instance.until(new RegExp(`worker ${slot} \\(pid (\\d+)\\) listening`)))[1]));
      return pids;
    };
    const files = prometheusFiles(m1, m2);
    const prom =
      prometheus === null
        ? null
        : await startPrometheus(files.config, { 'targets/greenhub.json': files.targets });
    if (prom) onTestFinished(() => prom.stop());
    const [pidsOne, pidsTwo] = await Promise.all([workerPids(one, 2), workerPids(two, 2)]);

    const dir = mkdtempSync(join(tmpdir(), 'greenhub-haproxy-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const config = readFileSync('deploy/haproxy/haproxy.cfg', 'utf8')
      .replaceAll('bind :80', `bind 127.0.0.1:${front}`)
      .replaceAll('10.0.0.11:8080', `127.0.0.1:${p1}`)
      .replaceAll('10.0.0.12:8080', `127.0.0.1:${p2}`)
      .replaceAll('inter 2s', 'inter 200ms');
    expect(config.replace(/^\s*#.*$/gm, '')).not.toMatch(/10\.0\.0\.|bind :80/);
    writeFileSync(join(dir, 'haproxy.cfg'), config);
    const balancer = spawn(haproxy!, ['-db', '-f', join(dir, 'haproxy.cfg')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let balancerLog = '';
    for (const stream of [balancer.stdout, balancer.stderr])
      stream.on('data', (c: Buffer) => (balancerLog += c));
    onTestFinished(({ task }) => {
      balancer.kill('SIGKILL');
      if (task.result?.state === 'fail') process.stderr.write(`haproxy said:\n${balancerLog}\n`);
    });
    // The balancer is up once its port answers (bounded).
    for (let i = 0; i < 100 && (await get(front, '/healthz')).status !== 200; i++)
      await new Promise((resolve) => setTimeout(resolve, 50));

    // 1. The balancer spreads the requests over both instances and their workers; each instance's
    //    /metrics equals what its workers served.
    const spread = await startLoad(front, 200).done();
    expect(spread.failures).toEqual([]);
    expect(spread.total).toBe(200);
    const counts = byPid(spread);
    for (const pid of [...pidsOne, ...pidsTwo]) expect(counts.get(pid) ?? 0, `pid ${pid}`).toBeGreaterThan(0);
    const servedBy = (pids: number[]) => pids.reduce((sum, pid) => sum + (counts.get(pid) ?? 0), 0);
    expect(servedBy(pidsOne) + servedBy(pidsTwo)).toBe(spread.total);
    expect(served((await get(m1, '/metrics')).body ?? '', '/load')).toBe(servedBy(pidsOne));
    expect(served((await get(m2, '/metrics')).body ?? '', '/load')).toBe(servedBy(pidsTwo));

    // Prometheus scrapes both instances, each with its own `instance` label, through the static
    // targets and the file-discovered ones; its request counter per instance is what that instance
    // served (once a scrape after the load has landed: asked until then, 20 s at most).
    if (prom) {
      const expected = { app1: servedBy(pidsOne), app2: servedBy(pidsTwo) };
      const perInstance = await until(
        () => prom.query('sum by (instance) (greenhub_http_requests_total{job="greenhub", route="/load"})'),
        (r) =>
          r.status === 'success' &&
          JSON.stringify(
            Object.fromEntries(r.data.result.map((x) => [x.metric.instance, Number(x.value[1])]).sort()),
          ) === JSON.stringify(expected),
        20_000,
        `Prometheus to see ${JSON.stringify(expected)} /load requests by instance`,
      );
      expect(perInstance.data.result).toHaveLength(2);
      const targets = (list: Awaited<ReturnType<typeof prom.targets>>) =>
        list.map((t) => [t.labels.job, t.labels.instance, t.health, t.lastError]).sort();
      const expectedTargets = [
        ['greenhub', 'app1', 'up', ''],
        ['greenhub', 'app2', 'up', ''],
        ['greenhub-file-sd', 'app3', 'up', ''],
        ['greenhub-file-sd', 'app4', 'up', ''],
      ];
      const scraped = await until(
        () => prom.targets(),
        (list) => JSON.stringify(targets(list)) === JSON.stringify(expectedTargets),
        20_000,
        'the four targets (two static, two file-discovered) to be scraped',
      );
      expect(targets(scraped)).toEqual(expectedTargets);
    }

    // 2. Under load: a rolling restart of one instance, then a stop of the other. Every request
    //    the client made succeeds (HAProxy retries a refused connection on the other instance).
    const load = startLoad(front, 20_000);
    await load.progress(50);
    one.child().kill('SIGHUP');
    await one.until(/rolling restart done: 2 workers replaced/);
    await load.progress(50);
    two.child().kill('SIGTERM');
    expect((await two.exited).code).toBe(0);
    await load.progress(50);
    const result = await load.stop();
    process.stderr.write(
      `haproxy: ${spread.total} requests spread over 4 workers; ${result.total} under a rolling restart ` +
        `and a stop, ${result.failures.length} failed\n`,
    );
    expect(result.failures).toEqual([]);
    // Instance one's counters include its replaced workers': all it served in both phases.
    const second = byPid(result);
    let servedByOne = servedBy(pidsOne);
    for (const [pid, n] of second) if (!pidsTwo.includes(pid)) servedByOne += n;
    expect(served((await get(m1, '/metrics')).body ?? '', '/load')).toBe(servedByOne);
    one.child().kill('SIGTERM');
    expect((await one.exited).code).toBe(0);
  }, 60_000);
});
