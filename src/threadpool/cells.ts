/**
 * The pool's shared cells: one SharedArrayBuffer per pool, handed to every worker once (through
 * `workerData`), holding four Int32 cells per task *slot*:
 *
 * - `cancel[slot]`: 0 while the caller wants the result, else why it does not (kill, timeout,
 *   close). The caller writes it and `Atomics.notify`s; the task reads it in `checkpoint()` and
 *   waits on it in `currentSignal()`.
 * - `state[slot]`: queued → running → finished, written by the worker, so that the caller knows
 *   whether a cancelled task must be removed from the queue or asked to stop, and whether a crash
 *   happened while sending the result back.
 * - `micros[slot]`: the synchronous run time of the call, in microseconds, for `hybrid()`'s cost
 *   model (only when asked).
 * - `runMicros[slot]`: the task's whole run on its thread (from taking it to settling it, awaits
 *   included), in microseconds, for the pool's run-time and wait-time metrics.
 *
 * Each task in flight owns one slot, taken from a free list when it is submitted and given back when
 * piscina settles it, so two live tasks never share cells. There are `maxThreads + maxQueue` slots:
 * exactly what `maxQueue` admits. A worker being terminated may still write for a moment after
 * piscina settled its task, so every value carries the slot's *generation* (bumped at each reuse):
 * `generation << 2 | code`. A write or a read with another generation is recognised as stale.
 */
export const STATE_QUEUED = 0;
export const STATE_RUNNING = 1;
export const STATE_FINISHED = 2;

const GENERATION_MASK = 0x0fffffff;

/** A cell value: `generation << 2 | code` (code < 4). */
export function tagged(generation: number, code: number): number {
  return (generation << 2) | code;
}

/** The code of `value` if it carries `generation`, else -1. */
export function codeFor(value: number, generation: number): number {
  return value >> 2 === generation ? value & 3 : -1;
}

/** The cells' layout; the same arithmetic on both sides of the thread boundary. */
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

/** The calling thread's side: slot allocation. */
export class SlotTable {
  readonly cells: TaskCells;
  /** The current generation of each slot. */
  readonly generations: Int32Array;
  private readonly free: Int32Array;
  private top: number;

  constructor(capacity: number) {
    this.cells = new TaskCells(capacity);
    this.generations = new Int32Array(capacity);
    this.free = new Int32Array(capacity);
    for (let i = 0; i < capacity; i++) this.free[i] = capacity - 1 - i;
    this.top = capacity;
  }

  /** A clean slot with a new generation, or -1 when all are taken. */
  take(): number {
    if (this.top === 0) return -1;
    const slot = this.free[--this.top]!;
    const generation = (this.generations[slot]! + 1) & GENERATION_MASK;
    this.generations[slot] = generation;
    const int32 = this.cells.int32;
    Atomics.store(int32, slot, tagged(generation, 0));
    Atomics.store(int32, this.cells.capacity + slot, tagged(generation, STATE_QUEUED));
    Atomics.store(int32, this.cells.microsIndex(slot), -1);
    Atomics.store(int32, this.cells.runIndex(slot), -1);
    return slot;
  }

  /** The state of the task in `slot` (queued if a stale write hides it). */
  state(slot: number): number {
    const code = codeFor(Atomics.load(this.cells.int32, this.cells.capacity + slot), this.generations[slot]!);
    return code < 0 ? STATE_QUEUED : code;
  }

  /** Ask the task in `slot` to stop, with a cancellation code; wakes its `currentSignal()`. */
  cancel(slot: number, code: number): void {
    const int32 = this.cells.int32;
    Atomics.store(int32, slot, tagged(this.generations[slot]!, code));
    Atomics.notify(int32, slot);
  }

  /** The synchronous run time the worker measured, in milliseconds; negative when it measured none. */
  runMs(slot: number): number {
    const micros = Atomics.load(this.cells.int32, this.cells.microsIndex(slot));
    return micros < 0 ? -1 : micros / 1000;
  }

  /** The task's whole run time on its thread, in milliseconds; negative when it never ran. */
  taskMs(slot: number): number {
    const micros = Atomics.load(this.cells.int32, this.cells.runIndex(slot));
    return micros < 0 ? -1 : micros / 1000;
  }

  give(slot: number): void {
    this.free[this.top++] = slot;
  }
}
