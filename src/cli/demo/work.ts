/**
 * The demo's CPU work, loaded both on the hub (`--mode inline`, calibration) and by the thread
 * pool's workers. The benchmark's other servers import it too (`bench/http/servers/work.js`), so
 * that `npm run bench:http` compares greenhub's demo with them like with like.
 */
import { pbkdf2Sync } from 'node:crypto';

/** The latency of the demo's upstream, and of `/io` with `--io timer`. */
export const IO_DELAY_MS = 20;

/**
 * `iterations` rounds of pbkdf2-sha256: about 20 ms of CPU at the calibrated count.
 *
 * @example
 * ```ts
 * cpuWork(1000); // 'a1b2c3d4e5f60718'
 * ```
 */
export function cpuWork(iterations: number): string {
  return pbkdf2Sync('greenhub', 'benchmark-salt', iterations, 32, 'sha256').toString('hex').slice(0, 16);
}

/**
 * Iterations of {@link cpuWork} that take about `targetMs` here. The fastest of several probes is
 * the one least disturbed by other processes: it measures the work, not the machine's load.
 *
 * @example
 * ```ts
 * const iterations = calibrate(20); // ~20 ms of CPU per call
 * ```
 */
export function calibrate(targetMs = 20): number {
  const probe = 20_000;
  cpuWork(probe); // warm up
  let fastest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    cpuWork(probe);
    fastest = Math.min(fastest, performance.now() - t0);
  }
  return Math.max(1, Math.round(targetMs / (fastest / probe)));
}
