/**
 * greenhub: gevent's programming model for Node.js — the hub, greenlets and their primitives.
 *
 * @example
 * ```ts
 * import { spawn, sleep, joinAll } from 'greenhub';
 * const gs = [1, 2, 3].map((n) => spawn(async () => { await sleep(10 * n); return n; }));
 * await joinAll(gs);
 * ```
 */
export * from './errors.js';
export { AsyncResult, Event } from './greenlet/event.js';
export {
  type GetOptions,
  Greenlet,
  type GreenletState,
  getCurrent,
  type KillOptions,
  spawn,
  spawnDetached,
  spawnLater,
} from './greenlet/greenlet.js';
export { getHub, Hub, type HubStats } from './greenlet/hub.js';
export { Local } from './greenlet/local.js';
export {
  BlockingMonitor,
  type BlockingMonitorEvents,
  type BlockingMonitorOptions,
  type BlockingReport,
  formatBlockingReport,
  getBlockingMonitor,
  setBlockingApi,
  startBlockingMonitor,
} from './greenlet/monitor.js';
export { beginOperation, Operation } from './greenlet/operation.js';
export { Group, type GroupJoinOptions, type ImapOptions, Pool } from './greenlet/pool.js';
export {
  Channel,
  JoinableQueue,
  LifoQueue,
  PriorityQueue,
  Queue,
  type QueueWaitOptions,
} from './greenlet/queue.js';
export type { RunInfo, RunInfoEntry, WaitInfo } from './greenlet/run-info.js';
export { type AcquireOptions, BoundedSemaphore, Lock, RLock, Semaphore } from './greenlet/semaphore.js';
export { sleep } from './greenlet/sleep.js';
export { Timeout, type WithTimeoutOptions, withTimeout } from './greenlet/timeout.js';
export {
  iwait,
  type JoinAllOptions,
  joinAll,
  killAll,
  type Waitable,
  type WaitOptions,
  wait,
} from './greenlet/wait.js';

import './threadpool/default-pool.js';

import { activateDeferredPatches } from './patch/deferred.js';

// Under `greenhub/register` with its default settings, greenhub is loaded now: patch
// (patch/deferred.ts). Called after every import above has been evaluated.
activateDeferredPatches();
