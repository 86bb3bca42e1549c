/**
 * Whether `thread` is patched: the one piece of state the patch layer and the `Thread` facade
 * share. As in gevent, an unpatched `Thread` is a real thread (here: a worker thread, tracked by the
 * hub), and after `patchAll()` (whose `thread` option defaults to true) a `Thread` is a greenlet.
 * A Thread reads the mode when it starts, so one created before a patch change behaves by the mode
 * in force at `start()`.
 */
let threadPatched = false;

/**
 * True when `Thread`s started now run as greenlets (exported by `greenhub/patch`).
 *
 * @example
 * ```ts
 * patchAll({ thread: false });
 * isThreadPatched(); // false: Threads are real worker threads
 * ```
 */
export function isThreadPatched(): boolean {
  return threadPatched;
}

/** Set by `greenhub/patch` (`patchAll()`, `patchThread()`, `unpatchAll()`). */
export function setThreadPatched(patched: boolean): void {
  threadPatched = patched;
}
