/**
 * `patchThread()`: as in gevent, a patched `Thread` is a greenlet. The thread pool's `Thread` facade
 * reads the mode when a Thread starts (see internal/thread-mode.ts); `patchAll({ thread: false })`
 * keeps real worker threads, tracked by the hub.
 */
import { setThreadPatched } from '../internal/thread-mode.js';

/** Make `Thread`s started from now on run as greenlets. Returns what it changed. */
export function patchThread(): string[] {
  setThreadPatched(true);
  return ['Thread: greenlet mode'];
}

/** Back to real worker threads. */
export function unpatchThread(): void {
  setThreadPatched(false);
}
