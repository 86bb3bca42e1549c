/**
 * greenhub/patch: make Node's core async I/O greenlet-aware without changing the application —
 * gevent's `monkey.patch_all()`, translated.
 *
 * In Node, I/O is already asynchronous; what existing code lacks is what greenlets give: an
 * operation started by a greenlet dies with it. After `patchAll()`, a timer, fetch, socket
 * connection, http request, dns query, fs call, child process, `events.once` or `stream/promises`
 * wait started inside a greenlet is accounted to it (run info, `getHub().stats().operations`) and
 * stopped, with its resource freed, when the greenlet is killed or its Timeout fires. Outside any
 * greenlet every patched function behaves exactly as the original. Each patch module's comment
 * says exactly what it does; the README lists them.
 *
 * @example
 * ```ts
 * import { patchAll } from 'greenhub/patch';
 * patchAll({ blocking: 'warn', http: { requestTimeout: 30_000, maxConcurrency: 256 } });
 * ```
 */
export { BlockingCallError } from '../errors.js';
export { onShutdown } from '../internal/shutdown-hooks.js';
export { isThreadPatched } from '../internal/thread-mode.js';
export { disconnectSignal } from '../server/disconnect-signal.js';
export {
  type BlockingMode,
  type BlockingReport,
  type BlockingStats,
  blockingStats,
  onBlockingCall,
} from './blocking.js';
export type { HttpServerOptions } from './http-server.js';
export type { LateCapture } from './late.js';
export { type PatchOptions, patchAll, unpatchAll } from './patch-all.js';
export { getOriginal, isModulePatched, isObjectPatched } from './queries.js';
export type { PatchReport } from './report.js';
export { type ShutdownOptions, type SignalOptions, shutdown } from './signal.js';
export {
  BLOCKING_FUNCTIONS,
  CHILD_PROCESS_FUNCTIONS,
  DNS_FUNCTIONS,
  EVENTS_FUNCTIONS,
  FETCH_FUNCTIONS,
  FS_FUNCTIONS,
  HTTP_CLIENT_FUNCTIONS,
  HTTP_SERVER_FUNCTIONS,
  NET_FUNCTIONS,
  SIGNAL_FUNCTIONS,
  STREAM_FUNCTIONS,
  TIMER_FUNCTIONS,
} from './surface.js';
export type { BlockingOptions, PatchTarget } from './table.js';
export {
  patchBlocking,
  patchChildProcess,
  patchDns,
  patchEvents,
  patchFetch,
  patchFs,
  patchHttp,
  patchNet,
  patchSignal,
  patchStream,
  patchThread,
  patchTimers,
} from './targets.js';

import { activateDeferredPatches } from './deferred.js';

// Under `greenhub/register` with its default settings, greenhub is loaded now: patch
// (patch/deferred.ts). Called after every import above has been evaluated.
activateDeferredPatches();
