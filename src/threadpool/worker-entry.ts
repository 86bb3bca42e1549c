/**
 * The pool worker's entry: piscina runs this module's default export for every task.
 *
 * For each task it marks the slot *running* (so the caller knows to ask it to stop rather than to
 * drop it from the queue), installs the task's cancellation context for `greenhub/worker`, runs the
 * function, and marks the slot *finished*. Errors leave as {@link toWire} objects, which piscina
 * passes through as they are; the caller rebuilds them.
 *
 * The hot path is synchronous: a cached function, arguments that need no revival, a result that
 * is not a promise. Loading a module, compiling a source, reviving Shared primitives and comlink
 * calls take the asynchronous path.
 *
 * Every worker loads this module's static imports before it can take its first task, so they are
 * kept to what the hot path needs: what only a failure needs (wire-errors.ts) is imported by the
 * first failure. The build bundles this module and its static imports into one CommonJS file,
 * dist/threadpool/worker-entry.cjs, which piscina require()s: about 4 ms of a new thread where
 * Node's ES-module loader took 11-16 ms for the same code in 7 files (scripts/build.mjs). Being
 * CommonJS also keeps piscina's require() clear of a Node 20 crash: a worker terminated while
 * require() instantiates an ES module aborts the whole process, and a pool terminates starting
 * threads on purpose (a cancelled task's thread, `resourceLimits`). The modules it import()s
 * (wire-errors, shared, module-worker, the task's own) are ES modules, whose loading a
 * termination stops cleanly.
 */
import { performance } from 'node:perf_hooks';
import { workerData } from 'node:worker_threads';
import { TaskCancelledError, UncloneableError } from '../errors.js';
import { CellTaskContext, registry } from '../worker/context.js';
import { describeUncloneable, findUncloneable } from './clone-check.js';
import {
  CANCEL_NONE,
  FLAG_MEASURE,
  MSG_COMLINK,
  MSG_MODULE,
  MSG_NOOP,
  type PoolWorkerData,
  reasonOf,
  SHARED_BRAND,
  STATE_FINISHED,
  STATE_RUNNING,
  TaskCells,
  type TaskMessage,
  tagged,
} from './protocol.js';
import { compileSource, exportOf } from './task-loader.js';

type WireErrors = typeof import('./wire-errors.js');
let wireErrors: WireErrors | undefined;

type TaskFunction = (...args: unknown[]) => unknown;

const shared = (workerData as PoolWorkerData).greenhub;
const cells = new TaskCells(shared.capacity, shared.cells);
const context = new CellTaskContext(cells.int32);
const MAX_CACHED = 512;
const functions = new Map<number, TaskFunction>();

let slot = -1;
let generation = 0;
/** When the current task was taken (`performance.now()`), for its run time. */
let taken = 0;

/** piscina's task handler. */
export default function handle(message: TaskMessage): unknown {
  const kind = message[0];
  if (kind === MSG_NOOP) return undefined;
  slot = message[4];
  generation = message[5];
  taken = performance.now();
  Atomics.store(cells.int32, cells.stateIndex(slot), tagged(generation, STATE_RUNNING));
  context.begin(slot, generation);
  registry.current = context;
  const code = context.cancelCode();
  if (code !== CANCEL_NONE) return onError(new TaskCancelledError(reasonOf(code)));
  if (kind === MSG_COMLINK) return comlinkCall(message).then(onValue, onError);
  const key = message[7];
  const fn = functions.get(key);
  const args = message[3];
  if (fn === undefined || needsRevival(args)) {
    return prepare(message, key).then(([loaded, revived]) => call(loaded, revived, message[6]), onError);
  }
  return call(fn, args, message[6]);
}

function call(fn: TaskFunction, args: unknown[], flags: number): unknown {
  let result: unknown;
  const start = (flags & FLAG_MEASURE) === 0 ? -1 : performance.now();
  try {
    result = fn(...args);
  } catch (error) {
    return onError(error);
  }
  if (start >= 0) {
    Atomics.store(cells.int32, cells.microsIndex(slot), microsSince(start));
  }
  if (typeof (result as PromiseLike<unknown> | null)?.then === 'function') {
    return Promise.resolve(result).then(onValue, onError);
  }
  return onValue(result);
}

/** Microseconds since `since`, as an Int32 cell holds them. */
function microsSince(since: number): number {
  return Math.min(0x7fffffff, Math.round((performance.now() - since) * 1000));
}

function finish(): void {
  Atomics.store(cells.int32, cells.runIndex(slot), microsSince(taken));
  Atomics.store(cells.int32, cells.stateIndex(slot), tagged(generation, STATE_FINISHED));
  context.end();
  registry.current = null;
}

function onValue(value: unknown): unknown {
  finish();
  const bad = findUncloneable(value, 'result');
  if (bad === null) return value;
  return rejectWith(
    new UncloneableError(
      `The task's return value cannot be sent back to the calling thread: ${describeUncloneable(bad)}`,
      bad.path,
      bad.type,
    ),
  );
}

function onError(error: unknown): Promise<never> {
  finish();
  return rejectWith(error);
}

/** Fail the task with `error` as a wire error (wire-errors.ts is loaded by the first failure). */
async function rejectWith(error: unknown): Promise<never> {
  wireErrors ??= await import('./wire-errors.js');
  throw wireErrors.toWire(error);
}

/** Load (and cache) the function, and revive Shared primitives among the arguments. */
async function prepare(message: TaskMessage, key: number): Promise<[TaskFunction, unknown[]]> {
  let fn = functions.get(key);
  if (fn === undefined) {
    fn =
      message[0] === MSG_MODULE
        ? (exportOf(await import(message[1]), message[1], message[2]) as TaskFunction)
        : compileSource(message[1]);
    if (functions.size >= MAX_CACHED) functions.delete(functions.keys().next().value!);
    functions.set(key, fn);
  }
  return [fn, needsRevival(message[3]) ? await revive(message[3]) : message[3]];
}

function needsRevival(args: unknown[]): boolean {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (
      typeof arg === 'object' &&
      arg !== null &&
      (arg as Record<string, unknown>)[SHARED_BRAND] !== undefined
    )
      return true;
  }
  return false;
}

async function revive(args: unknown[]): Promise<unknown[]> {
  const { reviveShared } = await import('./shared.js');
  return args.map(reviveShared);
}

async function comlinkCall(message: TaskMessage): Promise<unknown> {
  const { callModule } = await import('./module-worker.js');
  return callModule(message[1], message[3][0] as Parameters<typeof callModule>[1]);
}
