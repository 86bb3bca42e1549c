// Shared by the thread pool tests: typed references to the fixture tasks, and small waits that
// synchronise on what the worker did (a flag in shared memory), never on a sleep.
import { task } from 'greenhub/threadpool';

type Tasks = typeof import('./fixtures/tasks.mjs');

export const TASKS = new URL('./fixtures/tasks.mjs', import.meta.url);

export function ref<K extends keyof Tasks>(name: K) {
  return task<Extract<Tasks[K], (...args: never[]) => unknown>>(TASKS, name);
}

/** Two Int32 flags a task writes (see fixtures/tasks.mjs): [0] stopped/result, [1] started. */
export function flags(): { buffer: SharedArrayBuffer; view: Int32Array } {
  const buffer = new SharedArrayBuffer(8);
  return { buffer, view: new Int32Array(buffer) };
}

const waitAsync = (
  Atomics as unknown as {
    waitAsync(
      view: Int32Array,
      index: number,
      value: number,
      timeoutMs: number,
    ): { async: false; value: string } | { async: true; value: Promise<string> };
  }
).waitAsync;

/** Resolve once a task set `view[index]` (it notifies), or fail after `limitMs`. */
export async function until(view: Int32Array, index: number, limitMs = 10_000): Promise<void> {
  while (Atomics.load(view, index) === 0) {
    const wait = waitAsync(view, index, 0, limitMs);
    if (wait.async && (await wait.value) === 'timed-out') throw new Error(`flag ${index} was never set`);
  }
}
