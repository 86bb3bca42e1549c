/**
 * How many workers `greenhub run --workers` forks, and how many threads each worker's default pool
 * gets, so that N workers do not each size their pool to every core (N × cores threads fighting
 * for the same cores).
 */
import { availableParallelism } from 'node:os';
import { UsageError } from '../usage-error.js';

/** The most workers `--workers` accepts: beyond it, a typo rather than a plan. */
export const MAX_WORKERS = 512;

/** The most threads `--threads` accepts (the thread pool's own bound). */
export const MAX_THREADS = 1024;

/**
 * Read `--workers` (or `GREENHUB_WORKERS`): a count from 1 to {@link MAX_WORKERS}, or `0`/`auto` for
 * one per core. Throws a {@link UsageError} naming the source, the expected form and what came.
 *
 * @example
 * ```ts
 * parseWorkers('4', '--workers', 8);    // 4
 * parseWorkers('auto', '--workers', 8); // 8
 * parseWorkers('-1', '--workers', 8);   // throws UsageError
 * ```
 */
export function parseWorkers(text: string, source: string, cores = availableParallelism()): number {
  const fail = (why: string): never => {
    throw new UsageError(
      `greenhub run: expected ${source} to be a number of workers from 1 to ${MAX_WORKERS}, ` +
        `or 0 or "auto" for one per core (${cores} here), got ${JSON.stringify(text)}${why}`,
      source,
    );
  };
  if (text === 'auto') return cores;
  if (!/^\d+$/.test(text)) return fail('');
  const n = Number(text);
  if (n === 0) return cores;
  return n <= MAX_WORKERS ? n : fail(`: more than ${MAX_WORKERS}`);
}

/**
 * The default thread pool size of each of `workers` workers: the cores shared among them, at least 1.
 *
 * @example
 * ```ts
 * threadsPerWorker(2, 8); // 4
 * threadsPerWorker(16, 8); // 1
 * ```
 */
export function threadsPerWorker(workers: number, cores = availableParallelism()): number {
  return Math.max(1, Math.floor(cores / workers));
}
