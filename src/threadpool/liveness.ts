/**
 * Which other threads of this process greenhub knows to be alive: pools with a task in flight and
 * running real `Thread`s. A greenlet waiting cooperatively on a Shared primitive can only be woken
 * by one of them, so such a wait keeps the hub from raising `LoopExit` exactly while this count is
 * above zero (Node's loop does not count a pending `Atomics.waitAsync` as work). When it drops to
 * zero the waits re-check their condition once, since a thread may have released them just before
 * it ended, and then become ordinary hub waits that `LoopExit` can end.
 *
 * A worker the application created itself (`new Worker`) is not counted; code that waits for one
 * holds a waker itself (`getHub().holdWaker()`).
 */

/** Notified when the count leaves or reaches zero. */
export interface LivenessWatcher {
  onThreadsLive(): void;
  onThreadsGone(): void;
}

let live = 0;
const watchers = new Set<LivenessWatcher>();

export function liveThreads(): number {
  return live;
}

export function threadBegan(): void {
  if (live++ === 0) for (const watcher of watchers) watcher.onThreadsLive();
}

export function threadEnded(): void {
  if (--live === 0) for (const watcher of [...watchers]) watcher.onThreadsGone();
}

export function watchLiveness(watcher: LivenessWatcher): void {
  watchers.add(watcher);
}

export function unwatchLiveness(watcher: LivenessWatcher): void {
  watchers.delete(watcher);
}
