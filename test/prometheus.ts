/**
 * A real Prometheus for the tests (Debian's `prometheus` package, which `.ci/run` installs): started
 * on a free loopback port with a configuration written to a temporary directory, asked through its
 * HTTP API. Tests that need it skip with a printed reason when it is not installed.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort, which } from './helpers.js';

export const prometheus = which('prometheus');
export const promtool = which('promtool');

/** An instant query's answer. */
export interface QueryResult {
  status: string;
  error?: string;
  data: { result: { metric: Record<string, string>; value: [number, string] }[] };
}

/** One active scrape target, as `/api/v1/targets` lists it. */
export interface Target {
  labels: Record<string, string>;
  health: string;
  lastError: string;
}

/**
 * Asks until `accept` holds for the answer, at most `timeoutMs`. Prometheus has no push
 * notification for "scraped": its API is the event source, asked every 250 ms.
 */
export async function until<T>(
  ask: () => Promise<T>,
  accept: (v: T) => boolean,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    try {
      last = await ask();
      if (accept(last)) return last;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}; last answer: ${JSON.stringify(last)?.slice(0, 500)}`);
}

/**
 * Start Prometheus with `config` (prometheus.yml's text) and `files` (more files beside it, by
 * relative path: file-based service discovery's target lists). `stop()` ends it and removes its
 * directory.
 *
 * @example
 * ```ts
 * const prom = await startPrometheus(config);
 * const up = await prom.query('up');
 * await prom.stop();
 * ```
 */
export async function startPrometheus(config: string, files: Record<string, string> = {}) {
  if (prometheus === null) throw new Error('prometheus is not installed');
  const dir = mkdtempSync(join(tmpdir(), 'greenhub-prom-'));
  writeFileSync(join(dir, 'prometheus.yml'), config);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  const server = spawn(
    prometheus,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: 'ignore' },
  );
  return {
    api,
    async query(expr: string): Promise<QueryResult> {
      const res = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(expr)}`);
      return (await res.json()) as QueryResult;
    },
    async targets(): Promise<Target[]> {
      const res = (await (await fetch(`${api}/api/v1/targets`)).json()) as {
        data: { activeTargets: Target[] };
      };
      return res.data.activeTargets;
    },
    async stop(): Promise<void> {
      if (server.exitCode === null && server.signalCode === null) {
        const exited = new Promise((resolve) => server.once('exit', resolve));
        server.kill();
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
