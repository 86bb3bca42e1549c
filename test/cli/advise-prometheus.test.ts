/**
 * `greenhub advise --prometheus` against a real Prometheus (Debian's `prometheus`, which `.ci/run`
 * installs) scraping a service whose route burns CPU on the hub: the same advice as from the
 * service itself, read through `/api/v1/query` at both ends of `--range`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { freePort, which } from '../helpers.js';
import { startProcess } from '../patch/scenario.js';
import { get, runCli } from './helpers.js';

const prometheus = which('prometheus');
if (prometheus === null) console.warn('skipping greenhub advise --prometheus: prometheus is not installed');

describe.skipIf(prometheus === null)('greenhub advise --prometheus', () => {
  it('reads the service through a Prometheus and tells it to offload the CPU-inline route', async () => {
    const service = startProcess(['test/cli/fixtures/cpu-inline.mjs'], { timeoutMs: 60_000 });
    onTestFinished(() => void service.child().kill());
    const port = Number((await service.until(/\{"listening":(\d+)\}/))[1]);

    const dir = mkdtempSync(join(tmpdir(), 'greenhub-advise-prom-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: cpu-inline\n    static_configs:\n      - targets: ['127.0.0.1:${port}']\n`,
    );
    const promPort = await freePort();
    const api = `http://127.0.0.1:${promPort}`;
    const server: ChildProcess = spawn(
      prometheus!,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      { stdio: 'ignore' },
    );
    onTestFinished(() => void server.kill());

    // Load on /cpu from four clients until the advisor is done (at most 60 s, 20 000 requests).
    let done = false;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const deadline = Date.now() + 60_000;
    let sent = 0;
    const client = async () => {
      while (!done && Date.now() < deadline && sent++ < 20_000) await get(port, '/cpu', agent);
    };
    const driving = Promise.all([client(), client(), client(), client()]).finally(() => agent.destroy());
    onTestFinished(async () => {
      done = true;
      await driving;
    });

    // Prometheus has no "scraped" notification: its API is the event source, asked every 250 ms
    // until it holds five scrapes under load.
    const query = `count_over_time(greenhub_loop_busy_seconds_total[1m])`;
    for (let scrapes = 0; scrapes < 5; ) {
      expect(Date.now(), 'five scrapes within the load window').toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 250));
      try {
        const res = (await (
          await fetch(`${api}/api/v1/query?query=${encodeURIComponent(query)}`)
        ).json()) as {
          data: { result: { value: [number, string] }[] };
        };
        scrapes = Number(res.data.result[0]?.value[1] ?? 0);
      } catch {
        // not up yet
      }
    }
    const { code, stdout, stderr } = await runCli(['advise', '--prometheus', api, '--range', '3s'], {
      timeoutMs: 20_000,
    });
    done = true;
    await driving;
    process.stdout.write(`advise --prometheus, CPU-inline service:\n${stdout}`);
    expect([code, stderr]).toEqual([0, '']);
    expect(stdout).toMatch(
      new RegExp(
        `^greenhub advise: ${api}/ \\(instance 127\\.0\\.0\\.1:${port}\\) over [23]\\.\\d s, \\d+ cores\\n`,
      ),
    );
    expect(stdout).toMatch(
      /^route GET \/cpu holds the loop \d+ % of busy time .* → offload it \(pool\.run \/ hybrid\)$/m,
    );
  }, 90_000);
});
