/**
 * Noticing that our parent process died: the one way a process learns that whoever started it is
 * gone without a word (SIGKILL, or a wrapper such as `npm start`'s shell or `npx` that exits on
 * SIGTERM without passing it on). Linux and macOS reparent an orphan (to init or a subreaper), so
 * `process.ppid` changes; it is checked on an unref'd timer, which keeps no process alive.
 *
 * Used by `greenhub run`'s application (run-preload.ts), by `greenhub run` itself (run.ts) and by
 * `greenhub demo`: each then shuts down gracefully rather than serve on with nobody to stop it.
 */
import { nativeClearInterval, nativeSetInterval } from '../internal/natives.js';

/** How often the parent is checked, in ms. */
export const ORPHAN_CHECK_MS = 500;

/**
 * Call `onOrphaned` once, within {@link ORPHAN_CHECK_MS}, when this process's parent changes (it
 * died and this process was reparented). Returns a function that stops watching.
 *
 * @example
 * ```ts
 * const unwatch = watchParent(() => void stop('parent process is gone'));
 * // …once stopping for another reason:
 * unwatch();
 * ```
 */
export function watchParent(onOrphaned: () => void): () => void {
  const parent = process.ppid;
  const watch = nativeSetInterval(() => {
    if (process.ppid === parent) return;
    nativeClearInterval(watch);
    onOrphaned();
  }, ORPHAN_CHECK_MS);
  watch.unref();
  return () => nativeClearInterval(watch);
}
