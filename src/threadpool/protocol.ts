/**
 * The thread protocol: everything both sides of the thread boundary must agree on, in one file
 * (as piscina keeps its `symbols.ts` + `common.ts`). The calling thread (pool.ts, submission.ts,
 * thread.ts, hybrid.ts) and the worker side (worker-entry.ts, thread-entry.ts, `greenhub/worker`)
 * import these names and nothing else of each other, so a value can only mean one thing on both
 * sides. This module imports nothing at run time: `greenhub/worker` depends on it alone.
 *
 * It holds:
 * - the task message the caller posts through piscina, and what a TaskRef's kind means in it;
 * - what pool and Thread workers receive as `workerData`, and what a Thread posts back;
 * - the cancellation codes the caller writes and the task reads, and their reasons;
 * - the layout of the pool's shared cells (one SharedArrayBuffer per pool, read and written by both
 *   sides with the same arithmetic).
 *
 * ## The shared cells
 *
 * Four Int32 cells per task *slot*:
 * - `cancel[slot]`: {@link CANCEL_NONE} while the caller wants the result, else why it does not.
 *   The caller writes it and `Atomics.notify`s; the task reads it in `checkpoint()` and waits on it
 *   in `currentSignal()`.
 * - `state[slot]`: queued → running → finished, written by the worker, so that the caller knows
 *   whether a cancelled task must be removed from the queue or asked to stop, and whether a crash
 *   happened while sending the result back.
 * - `micros[slot]`: the synchronous run time of the call, in microseconds, for `hybrid()`'s cost
 *   model (only when asked, {@link FLAG_MEASURE}).
 * - `runMicros[slot]`: the task's whole run on its thread (from taking it to settling it, awaits
 *   included), in microseconds, for the pool's run-time and wait-time metrics.
 *
 * A worker being terminated may still write for a moment after piscina settled its task and the
 * slot went to another task, so every cancel and state value carries the slot's *generation*
 * (bumped at each reuse): `generation << 2 | code`. A value of another generation is stale.
 */
import type { WireError } from './wire-errors.js';

// ---- Task messages -------------------------------------------------------------------------

/**
 * The task message the calling thread posts through piscina to a worker. An array rather than an
 * object: it is cloned for every task, and a short array is the cheapest thing to clone.
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

/** Run export `exportName` of module `target` (also the kind of a TaskRef made by `task()`). */
export const MSG_MODULE = 0;
/** Run the function whose source is `target` (the kind of a TaskRef made by `run(fn)`/`hybrid(fn)`). */
export const MSG_SOURCE = 1;
/** `args[0]` is a comlink request for module `target` (the kind of a module proxy's TaskRef). */
export const MSG_COMLINK = 2;
/** Do nothing: sent to make piscina start a thread for queued work (see pool.ts, `kick`). */
export const MSG_NOOP = 3;

/** Measure the call's synchronous run time into the slot's `micros` cell (hybrid). */
export const FLAG_MEASURE = 1;

/** What pool workers receive as `workerData`. */
export interface PoolWorkerData {
  greenhub: { cells: SharedArrayBuffer; capacity: number };
}

/** What a real Thread's entry receives as `workerData` (`kind`: {@link MSG_MODULE} or {@link MSG_SOURCE}). */
export interface ThreadWorkerData {
  greenhubThread: { kind: number; target: string; exportName: string; args: unknown[] };
}

/** What a Thread's entry posts when the target returned or threw. */
export interface ThreadOutcome {
  ok: boolean;
  error?: WireError;
}

/** A plain object that stands for a Shared primitive once cloned (see shared.ts). */
export const SHARED_BRAND = '__greenhubShared';

// ---- Cancellation --------------------------------------------------------------------------

/** Cancellation codes written into a task's cell by the calling thread. */
export const CANCEL_NONE = 0;
export const CANCEL_KILL = 1;
export const CANCEL_TIMEOUT = 2;
export const CANCEL_CLOSE = 3;

/** Why a task was cancelled, as `TaskCancelledError.reason` says it. */
export type CancelReason = 'kill' | 'timeout' | 'close';

/** The reason of a (non-zero) cancellation code. */
export function reasonOf(code: number): CancelReason {
  return code === CANCEL_TIMEOUT ? 'timeout' : code === CANCEL_CLOSE ? 'close' : 'kill';
}

// ---- Shared cells --------------------------------------------------------------------------

export const STATE_QUEUED = 0;
export const STATE_RUNNING = 1;
export const STATE_FINISHED = 2;

/** A cell value: `generation << 2 | code` (code < 4). */
export function tagged(generation: number, code: number): number {
  return (generation << 2) | code;
}

/** The code of `value` if it carries `generation`, else -1. */
export function codeFor(value: number, generation: number): number {
  return value >> 2 === generation ? value & 3 : -1;
}

/** The cells' layout: `capacity` slots, four cells each (see the module comment). */
export class TaskCells {
  readonly int32: Int32Array;
  constructor(
    readonly capacity: number,
    buffer: SharedArrayBuffer = new SharedArrayBuffer(capacity * 4 * 4),
  ) {
    this.int32 = new Int32Array(buffer);
  }

  get buffer(): SharedArrayBuffer {
    return this.int32.buffer as SharedArrayBuffer;
  }

  /** The `cancel` cell of a slot is the slot's own index. */
  stateIndex(slot: number): number {
    return this.capacity + slot;
  }

  microsIndex(slot: number): number {
    return 2 * this.capacity + slot;
  }

  runIndex(slot: number): number {
    return 3 * this.capacity + slot;
  }
}
