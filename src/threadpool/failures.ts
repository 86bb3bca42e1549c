/**
 * What a failed pool task tells its caller. piscina rejects a task with whatever went wrong: the
 * task's own error (a wire error from our entry), a worker that exited, died of an uncaught
 * exception or ran out of memory, arguments that could not be cloned, or the pool's destruction.
 * {@link explainFailure} turns each into an error that says which and why, naming the task and the
 * pool, and what the pool did about it.
 */
import type { ResourceLimits } from 'node:worker_threads';
import { PoolClosedError, UncloneableError, WorkerCrashError } from '../errors.js';
import { describeUncloneable, locateUncloneable } from './clone-check.js';
import { STATE_FINISHED, STATE_QUEUED } from './protocol.js';
import { fromWire, isWireError } from './wire-errors.js';

/** What the pool knows about the failed task. */
export interface FailedTask {
  /** The public call, for messages: `ThreadPool.apply()`. */
  readonly where: string;
  readonly pool: string;
  readonly task: string;
  /** `STATE_*` of its slot when it failed. */
  readonly state: number;
  readonly args: readonly unknown[];
  readonly closing: boolean;
  readonly resourceLimits: ResourceLimits | undefined;
}

const REPLACED = 'Only this task failed; the pool replaces the thread.';

function describeCause(cause: unknown): string {
  if (cause instanceof Error) return `${cause.name}: ${cause.message}`;
  return typeof cause === 'object' && cause !== null && Object.keys(cause).length === 0
    ? 'an error that could not be sent from the worker'
    : String(cause);
}

function field(error: unknown, key: string): unknown {
  return typeof error === 'object' && error !== null ? (error as Record<string, unknown>)[key] : undefined;
}

export function explainFailure(error: unknown, task: FailedTask): unknown {
  if (isWireError(error)) return fromWire(error);
  const prefix = `Task ${task.task} in ThreadPool "${task.pool}"`;
  const message = field(error, 'message');
  if (task.closing && (field(error, 'name') === 'AbortError' || message === 'Terminating worker thread')) {
    return new PoolClosedError(`${prefix} was dropped: the pool was closed before it finished`);
  }
  if (field(error, 'code') === 'ERR_WORKER_OUT_OF_MEMORY') {
    const limits =
      task.resourceLimits === undefined ? '' : ` (resourceLimits: ${JSON.stringify(task.resourceLimits)})`;
    return new WorkerCrashError(
      `${prefix} failed: its worker thread ran out of memory${limits} and was stopped. ${REPLACED}`,
      'out-of-memory',
      { cause: error },
    );
  }
  const exit = typeof message === 'string' ? /^worker exited with code: (-?\d+)/.exec(message) : null;
  if (exit !== null) {
    const exitCode = Number(exit[1]);
    return new WorkerCrashError(
      `${prefix} failed: its worker thread exited with code ${exitCode} while running it ` +
        `(process.exit() in a worker ends that thread). ${REPLACED}`,
      'exit',
      { cause: error, exitCode },
    );
  }
  // The task was never taken by a thread: sending it failed (piscina's postMessage threw on the
  // calling thread, and no thread was harmed). Whatever was thrown — a DataCloneError, a getter's
  // own error, a RangeError from a structure too deep for the serializer's stack — ask structured
  // clone about each argument again, to name the one that refused and where.
  if (task.state === STATE_QUEUED) {
    for (let i = 0; i < task.args.length; i++) {
      const bad = locateUncloneable(task.args[i], `args[${i}]`);
      if (bad !== null) {
        return new UncloneableError(
          `${task.where}: argument ${i} of task ${task.task} cannot be sent to a worker thread: ` +
            `${describeUncloneable(bad)}. Only data crosses threads (structured clone): pass plain ` +
            'values, typed arrays, or a module export to call there',
          bad.path,
          bad.type,
        );
      }
    }
  }
  if (task.state === STATE_FINISHED) {
    return new UncloneableError(
      `${prefix} finished, but its return value could not be sent back to the calling thread ` +
        `(${describeCause(error)}): return plain data. ${REPLACED}`,
      'the return value',
      'unknown',
    );
  }
  return new WorkerCrashError(
    `${prefix} failed: its worker thread died from an uncaught exception thrown outside the task's own ` +
      `call stack (in a timer, a callback or an unhandled rejection): ${describeCause(error)}. ${REPLACED}`,
    'uncaught',
    { cause: error },
  );
}
