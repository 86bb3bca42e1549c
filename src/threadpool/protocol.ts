/**
 * The task message the calling thread posts through piscina to a worker, shared by both sides. An
 * array rather than an object: it is cloned for every task, and a short array is the cheapest
 * thing to clone.
 */
export type TaskMessage = [
  kind: number,
  /** The module URL (functions and module proxies) or the function's source. */
  target: string,
  exportName: string,
  args: unknown[],
  slot: number,
  generation: number,
  flags: number,
  /** The TaskRef's id: the worker caches functions by it (cheaper than by URL and name). */
  id: number,
];

/** Run export `exportName` of module `target`. */
export const MSG_MODULE = 0;
/** Run the function whose source is `target`. */
export const MSG_SOURCE = 1;
/** `args[0]` is a comlink request for module `target`. */
export const MSG_COMLINK = 2;
/** Do nothing: sent to make piscina start a thread for queued work (see pool.ts, `kick`). */
export const MSG_NOOP = 3;

/** Measure the call's synchronous run time into the slot's `micros` cell (hybrid). */
export const FLAG_MEASURE = 1;

/** What pool workers receive as `workerData`. */
export interface PoolWorkerData {
  greenhub: { cells: SharedArrayBuffer; capacity: number };
}

/** A plain object that stands for a Shared primitive once cloned (see shared.ts). */
export const SHARED_BRAND = '__greenhubShared';
