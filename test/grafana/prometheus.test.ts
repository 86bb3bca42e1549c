/**
 * The shipped Prometheus configuration and Grafana dashboard against a real Prometheus (Debian's
 * `prometheus` package, which `.ci/run` installs): `promtool` accepts `grafana/prometheus.yml`; the
 * same file, pointed at a live greenhub service, scrapes it; and every dashboard query is valid
 * PromQL that Prometheus evaluates, the panels of a busy service returning data.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { root } from '../helpers.js';
import { prometheus, promtool, startPrometheus, until } from '../prometheus.js';

const missing =
  prometheus && promtool ? null : 'prometheus/promtool not installed (.ci/run installs Debian prometheus)';
if (missing) console.warn(`skipping the real-Prometheus test: ${missing}`);

const shippedConfig = `${root}grafana/prometheus.yml`;
const dashboard = JSON.parse(readFileSync(`${root}grafana/dashboards/greenhub.json`, 'utf8')) as {
  panels: { title: string; targets?: { expr: string }[] }[];
};

/** Resolves with the first stdout line of `child` that parses as JSON. */
function firstJsonLine(child: ChildProcess): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      const line = buffered.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line));
    });
    child.on('exit', (code) => reject(new Error(`the workload exited (${code}) before listening`)));
  });
}

describe.skipIf(missing !== null)('the Grafana setup against a real Prometheus', () => {
  let workload: ChildProcess;
  let prom: Awaited<ReturnType<typeof startPrometheus>>;

  beforeAll(async () => {
    workload = spawn(process.execPath, [`${root}test/grafana/fixtures/workload.mjs`], {
      cwd: root,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const ports = await firstJsonLine(workload);
    // The shipped file, changed only where it must be: the target and a faster scrape.
    const shipped = readFileSync(shippedConfig, 'utf8');
    const config = shipped
      .replace("'host.docker.internal:8080'", `'127.0.0.1:${ports.metrics}'`)
      .replace('scrape_interval: 5s', 'scrape_interval: 1s');
    expect(config).toContain(`127.0.0.1:${ports.metrics}`);
    expect(config).toContain('scrape_interval: 1s');
    prom = await startPrometheus(config);
    // Enough scrapes for rate() over the busy series.
    await until(
      () => prom.query('count_over_time(greenhub_http_requests_total[1m])'),
      (r) => r.status === 'success' && r.data.result.length > 0 && Number(r.data.result[0]!.value[1]) >= 4,
      40_000,
      'four scrapes of the workload',
    );
  }, 60_000);

  afterAll(async () => {
    workload?.stdin?.end();
    workload?.kill();
    await prom?.stop();
  });

  it('promtool accepts the shipped prometheus.yml', () => {
    const out = execFileSync(promtool as string, ['check', 'config', shippedConfig], { encoding: 'utf8' });
    expect(out).toMatch(/SUCCESS/);
  });

  it('scrapes the service with the shipped job: the target is up', async () => {
    const targets = await prom.targets();
    expect(targets.map((t) => [t.labels.job, t.health])).toEqual([['greenhub', 'up']]);
  });

  it('evaluates every dashboard query, and the panels of a busy service show data', async () => {
    const exprs = dashboard.panels.flatMap((p) =>
      (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })),
    );
    expect(exprs.length).toBeGreaterThan(20);
    // Grafana's variables, as Grafana substitutes them for "All jobs" and a short range.
    const expand = (e: string) =>
      e
        .replaceAll('$job', '.+')
        .replaceAll('$instance', '.*')
        .replaceAll('$worker', '.*')
        .replaceAll('$__rate_interval', '30s')
        .replaceAll('$__range', '1m');
    const empty: string[] = [];
    for (const { panel, expr } of exprs) {
      const r = await prom.query(expand(expr));
      expect({ panel, expr, status: r.status, error: r.error }).toEqual({
        panel,
        expr,
        status: 'success',
        error: undefined,
      });
      if (r.data.result.length === 0) empty.push(panel);
    }
    // The workload makes these panels non-empty; the others (blocked time, hybrid placements on an
    // idle run, rejections, 5xx) may legitimately be empty.
    for (const panel of [
      'Greenlets by state',
      'Spawn and finish rate',
      'Event loop delay',
      'Threads by state',
      'Task wait and run p99',
      'Utilization',
      'Run time p50 by task',
      'Priority lanes: wait p99 and queued',
      'Requests per second by route',
      'Latency p99 by route',
      'Process CPU and heap',
    ])
      expect(empty).not.toContain(panel);
  });

  it('finds the service through the dashboard variable query (label_values of greenhub_greenlets, job)', async () => {
    const res = (await (
      await fetch(`${prom.api}/api/v1/label/job/values?match[]=greenhub_greenlets`)
    ).json()) as {
      data: string[];
    };
    expect(res.data).toEqual(['greenhub']);
  });
});
