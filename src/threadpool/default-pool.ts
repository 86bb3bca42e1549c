/**
 * The hub's default thread pool (`getHub().threadpool`): installed here rather than imported by the
 * hub, so that `greenhub` reaches the pool through its index and the hub module stays free of it.
 *
 * Its size is the thread pool's default (one thread per core) unless `GREENHUB_THREADS` is an
 * integer from 1 to 1024: `greenhub run --workers N` sets it in each worker to that worker's share
 * of the cores, so that N processes do not each start a thread per core. Any other value is ignored.
 */
import { defaultPool } from '../greenlet/internal.js';
import { ThreadPool } from './pool.js';

/** `GREENHUB_THREADS` when it is a valid thread count, else `undefined` (the pool's default). */
export function defaultPoolThreads(text = process.env.GREENHUB_THREADS): number | undefined {
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && n <= 1024 ? n : undefined;
}

defaultPool.create = () => {
  const maxThreads = defaultPoolThreads();
  return new ThreadPool(maxThreads === undefined ? { name: 'default' } : { name: 'default', maxThreads });
};
defaultPool.isPool = (value: unknown): value is ThreadPool => value instanceof ThreadPool;
