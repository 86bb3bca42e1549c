/**
 * The calling thread's side of the pool's shared cells (their layout is in protocol.ts): each task
 * in flight owns one slot, taken from a free list when it is submitted and given back when piscina
 * settles it, so two live tasks never share cells. There are `maxThreads + maxQueue` slots: exactly
 * what `maxQueue` admits. Each reuse bumps the slot's generation, so that a late write of a
 * terminated worker is recognised as stale.
 */
import { codeFor, STATE_QUEUED, TaskCells, tagged } from './protocol.js';

const GENERATION_MASK = 0x0fffffff;

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
