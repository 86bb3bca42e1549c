/**
 * `greenhub demo --load`: drive the demo with the built-in load generator, print progress once a
 * second on stderr, then a summary table on stdout — requests/s, p50/p99 by route, loop delay p99
 * over the run, and pool utilization.
 */
import { openLoopWindow } from '../../metrics/loop.js';
import type { ThreadPool } from '../../threadpool/pool.js';
import { generateLoad, type LoadReport } from './loadgen.js';

/** The mix `--load` sends: mostly I/O, some CPU, some hybrid. */
export const LOAD_ROUTES = [
  { path: '/io', weight: 3 },
  { path: '/cpu', weight: 1 },
  { path: '/hybrid', weight: 1 },
];

/** Connections the load generator keeps busy. */
export const LOAD_CONCURRENCY = 16;

/** What the summary reports besides the load generator's own figures. */
export interface LoadSummary {
  report: LoadReport;
  loopDelayP99Ms: number;
  poolUtilization: number;
}

const ms = (v: number | null): string => (v === null ? '-' : v.toFixed(1));

/** The summary table (plain text, one route a line, then the totals). */
export function formatSummary(summary: LoadSummary, heading: string): string {
  const { report } = summary;
  const header = ['route', 'requests', 'req/s', 'p50 ms', 'p99 ms', 'errors'];
  const rows = Object.entries(report.routes).map(([route, r]) => [
    route,
    String(r.requests),
    r.rps.toFixed(1),
    ms(r.p50Ms),
    ms(r.p99Ms),
    String(r.errors),
  ]);
  rows.push(['total', String(report.requests), report.rps.toFixed(1), '', '', String(report.errors)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [
    heading,
    line(header),
    ...rows.map(line),
    `loop delay p99: ${summary.loopDelayP99Ms.toFixed(1)} ms   pool utilization: ${(summary.poolUtilization * 100).toFixed(0)}%`,
    '',
  ].join('\n');
}

/**
 * Load `url` for `seconds` (until `signal` aborts), reporting progress on stderr unless `quiet`.
 *
 * @example
 * ```ts
 * const summary = await runLoad(demo.url, 5, demo.pool, { quiet: false });
 * process.stdout.write(formatSummary(summary, 'greenhub demo --mode hybrid'));
 * ```
 */
export async function runLoad(
  url: string,
  seconds: number,
  pool: ThreadPool,
  opts: { quiet: boolean; signal?: AbortSignal },
): Promise<LoadSummary> {
  const loop = openLoopWindow();
  try {
    const report = await generateLoad({
      url,
      routes: LOAD_ROUTES,
      concurrency: LOAD_CONCURRENCY,
      durationMs: seconds * 1000,
      ...(opts.signal === undefined ? {} : { signal: opts.signal }),
      ...(opts.quiet
        ? {}
        : {
            onProgress: (p) =>
              process.stderr.write(
                `load ${(p.elapsedMs / 1000).toFixed(0).padStart(3)}/${seconds} s  ` +
                  `${String(p.requests).padStart(7)} requests  ${p.currentRps.toFixed(0).padStart(5)} req/s  ` +
                  `${p.errors} errors\n`,
              ),
          }),
    });
    return { report, loopDelayP99Ms: loop.take().p99 * 1000, poolUtilization: pool.stats().utilization };
  } finally {
    loop.close();
  }
}
