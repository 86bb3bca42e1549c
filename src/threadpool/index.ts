/**
 * greenhub/threadpool: real worker threads whose tasks look like greenlets, the `Thread` facade in
 * both modes, `hybrid()` placement, and primitives shared across threads.
 *
 * @example
 * ```ts
 * import { task, ThreadPool, hybrid } from 'greenhub/threadpool';
 * import { getHub, withTimeout } from 'greenhub';
 *
 * const fib = task<(n: number) => number>(new URL('./tasks.js', import.meta.url), 'fib');
 * const pool = getHub().threadpool;                       // or new ThreadPool({ maxThreads: 4 })
 * const g = pool.spawn(fib, 40);                         // a Greenlet
 * const n = await withTimeout(10_000, () => g.get(), { fallback: null }); // stops the wait, not the task
 * if (n === null) await g.kill();                         // a kill cancels the task on its thread
 * await pool.withOptions({ timeout: 10_000 }).apply(fib, 40); // a task cancelled after 10 s
 * ```
 */
import './default-pool.js';

export {
  ClosureError,
  PoolClosedError,
  PoolFull,
  TaskCancelledError,
  ThreadModeError,
  UncloneableError,
  WorkerCrashError,
} from '../errors.js';
export { move } from '../worker/index.js';
export {
  type Hybrid,
  type HybridClass,
  type HybridOptions,
  type HybridStats,
  hybrid,
  type Placement,
} from './hybrid.js';
export type { LaneOptions, LaneStats } from './lanes.js';
export type { ModuleProxyOptions } from './module-proxy.js';
export { ThreadPool } from './pool.js';
export type { PoolImapOptions } from './pool-map.js';
export type { CloseOptions, ThreadPoolOptions, ThreadPoolStats, TimingSummary } from './pool-options.js';
export type { PoolView, TaskOptions } from './pool-view.js';
export { type SharedAcquireOptions, SharedEvent, SharedLock, SharedSemaphore } from './shared.js';
export { type TaskExport, TaskRef, task } from './task.js';
export { Thread, type ThreadOptions } from './thread.js';

import { activateDeferredPatches } from '../patch/deferred.js';

// Under `greenhub/register` with its default settings, greenhub is loaded now: patch
// (patch/deferred.ts). Called after every import above has been evaluated.
activateDeferredPatches();
