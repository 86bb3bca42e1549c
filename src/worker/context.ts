/**
 * The context of the task running now: what `currentSignal()` and `checkpoint()` read.
 *
 * Three kinds of code run task functions:
 * - a **pool worker** runs one task at a time; its entry module installs a {@link CellTaskContext}
 *   whose cancellation flag lives in a SharedArrayBuffer cell that the calling thread writes;
 * - the **hub** runs small `hybrid()` calls inline, many at once across `await`s, so each inline
 *   call carries its context in an AsyncLocalStorage;
 * - anything else (a unit test calling a task function directly) has no context, and the worker
 *   API answers "never cancelled", so task modules stay plain, directly callable functions.
 *
 * The registry lives on `globalThis` under a registered symbol: a task module that resolves
 * `greenhub/worker` to another copy of greenhub's modules still sees the context its entry
 * installed — and a pool worker's entry *is* another copy (a CommonJS bundle, see
 * scripts/build.mjs). So the errors a task sees are not made with the context's own classes: the
 * caller's copy of `TaskCancelledError` is handed to {@link TaskContext.signal}, so that the
 * signal's `reason` passes the task's `instanceof` (an older `greenhub/worker` that hands none gets
 * the context's copy, with the same `code` and `reason`).
 */
import type { AsyncLocalStorage } from 'node:async_hooks';
import { TaskCancelledError } from '../errors.js';
import {
  CANCEL_CLOSE,
  CANCEL_NONE,
  type CancelReason,
  codeFor,
  reasonOf,
  tagged,
} from '../threadpool/protocol.js';

/** `TaskCancelledError`, as the copy of greenhub that asks for a signal has it. */
export type CancelledErrorClass = new (reason: CancelReason) => Error;

/** What a running task can ask about its own cancellation. */
export interface TaskContext {
  /** The cancellation code: {@link CANCEL_NONE} while the caller still wants the result. */
  cancelCode(): number;
  /**
   * An AbortSignal that aborts, with a `new Cancelled(reason)`, when the task is cancelled.
   * `Cancelled` defaults to this copy's own class: an older `greenhub/worker` that shares this
   * registry passes none.
   */
  signal(Cancelled?: CancelledErrorClass): AbortSignal;
}

interface Registry {
  /** The pool worker's context, set by its entry for the duration of each task. */
  current: TaskContext | null;
  /** Inline hybrid calls on the hub; created by the first one. */
  inline: AsyncLocalStorage<TaskContext> | undefined;
}

const KEY = Symbol.for('greenhub.worker.context');
const holder = globalThis as unknown as Record<symbol, Registry | undefined>;

export const registry: Registry = (holder[KEY] ??= { current: null, inline: undefined });

export function currentContext(): TaskContext | null {
  const inline = registry.inline;
  if (inline !== undefined) {
    const context = inline.getStore();
    if (context !== undefined) return context;
  }
  return registry.current;
}

/**
 * A pool worker's context: one instance per worker, re-armed for each task. `cells` is the pool's
 * shared array; the task's slot holds its cancellation code, tagged with the slot's generation (see
 * `threadpool/protocol.ts`; a value of another generation means the slot was given to another task,
 * which only happens once this task's thread is being terminated, so it reads as cancelled).
 *
 * `signal()` is lazy: a task that never asks for one costs nothing. When asked, it either aborts at
 * once (already cancelled) or parks an `Atomics.waitAsync` on the slot, which the calling thread's
 * `Atomics.notify` wakes. At the end of the task a pending wait is flushed with a notify of our own,
 * so waits never pile up across tasks; a late wake-up of a finished task's wait is recognised by its
 * controller no longer being the watched one.
 */
export class CellTaskContext implements TaskContext {
  private slot = -1;
  private generation = 0;
  private controller: AbortController | null = null;
  private watched: AbortController | null = null;

  constructor(private readonly cells: Int32Array) {}

  begin(slot: number, generation: number): void {
    this.slot = slot;
    this.generation = generation;
    this.controller = null;
  }

  end(): void {
    if (this.watched !== null) {
      this.watched = null;
      Atomics.notify(this.cells, this.slot);
    }
    this.slot = -1;
    this.controller = null;
  }

  cancelCode(): number {
    if (this.slot < 0) return CANCEL_NONE;
    const code = codeFor(Atomics.load(this.cells, this.slot), this.generation);
    return code < 0 ? CANCEL_CLOSE : code;
  }

  signal(Cancelled: CancelledErrorClass = TaskCancelledError): AbortSignal {
    if (this.controller !== null) return this.controller.signal;
    const controller = new AbortController();
    this.controller = controller;
    if (this.slot >= 0) this.watch(controller, Cancelled);
    return controller.signal;
  }

  private watch(controller: AbortController, Cancelled: CancelledErrorClass): void {
    const wanted = tagged(this.generation, CANCEL_NONE);
    for (;;) {
      const code = this.cancelCode();
      if (code !== CANCEL_NONE) {
        controller.abort(new Cancelled(reasonOf(code)));
        return;
      }
      const wait = waitAsync(this.cells, this.slot, wanted);
      if (!wait.async) continue; // the value changed between the load and the wait
      this.watched = controller;
      wait.value.then(() => {
        if (this.watched !== controller) return;
        this.watched = null;
        this.watch(controller, Cancelled);
      });
      return;
    }
  }
}

/** `Atomics.waitAsync` (ES2024; TypeScript's ES2023 lib does not declare it). */
export const waitAsync = (
  Atomics as unknown as {
    waitAsync(
      array: Int32Array,
      index: number,
      value: number,
      timeoutMs?: number,
    ):
      | { async: false; value: 'not-equal' | 'timed-out' }
      | { async: true; value: Promise<'ok' | 'timed-out'> };
  }
).waitAsync;

const NEVER: AbortSignal = new AbortController().signal;

/** The signal of code that runs outside any task: never aborts. */
export function neverAborted(): AbortSignal {
  return NEVER;
}
