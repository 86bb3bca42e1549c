/**
 * The map family of ThreadPool (`map`, `imap`, `imapUnordered`): one task per item, at most
 * `maxsize` in flight (results buffered included), in input or completion order. The first error
 * is thrown at its position; a consumer that stops early (break, error, kill) cancels the tasks
 * still in flight, and the source iterator is closed.
 *
 * Submitting never waits: when the pool's queue is full because of other callers, the map waits for
 * its own tasks before it tries again, and fails with `PoolFull` only when it has none in flight.
 */
import { GreenletExit, PoolFull } from '../errors.js';
import { Queue } from '../greenlet/queue.js';
import { checkAnyIterable, checkInteger, checkOptions, typeError } from '../internal/validate.js';
import type { CallOptions, Submission } from './submission.js';
import { type AnyTaskRef, TaskRef } from './task.js';

/** Options of `imap`/`imapUnordered`. */
export interface PoolImapOptions {
  /** Most tasks in flight (and results buffered) at once. Default: twice `maxThreads`. */
  maxsize?: number;
}

/** What the map family needs from its pool. */
export interface MapHost {
  readonly maxThreads: number;
  _submit<R>(
    where: string,
    task: unknown,
    args: unknown[],
    flags: number,
    transfer?: unknown[],
    options?: CallOptions,
  ): Submission<R>;
}

/** Check the arguments now (not at the first `next()`), then iterate. */
export function mapped<R>(
  pool: MapHost,
  where: string,
  task: unknown,
  items: Iterable<unknown> | AsyncIterable<unknown>,
  opts: PoolImapOptions | undefined,
  ordered: boolean,
  options: CallOptions,
): AsyncIterableIterator<R> {
  if (!(task instanceof TaskRef))
    throw typeError(where, 'task', 'a TaskRef (from task(url, exportName))', task);
  checkAnyIterable(where, 'items', items);
  checkOptions(where, 'opts', opts, ['maxsize']);
  if (opts?.maxsize !== undefined) checkInteger(where, 'opts.maxsize', opts.maxsize, 1, 'a positive integer');
  return results<R>(pool, where, task, items, opts?.maxsize ?? 2 * pool.maxThreads, ordered, options);
}

async function* results<R>(
  pool: MapHost,
  where: string,
  task: AnyTaskRef,
  items: Iterable<unknown> | AsyncIterable<unknown>,
  window: number,
  ordered: boolean,
  options: CallOptions,
): AsyncGenerator<R> {
  const iterator =
    Symbol.asyncIterator in items
      ? (items as AsyncIterable<unknown>)[Symbol.asyncIterator]()
      : (items as Iterable<unknown>)[Symbol.iterator]();
  const inFlight: Submission<R>[] = [];
  const done = ordered ? null : new Queue<Submission<R>>();
  let exhausted = false;
  /** An item taken from the iterator but not submitted yet (the pool's queue was full). */
  let held: { value: unknown } | null = null;
  try {
    for (;;) {
      while (!exhausted && inFlight.length < window) {
        if (held === null) {
          // An aborted signal: no more items are read (the tasks in flight were cancelled by it).
          options.signal?.throwIfAborted();
          const next = await iterator.next();
          if (next.done) {
            exhausted = true;
            break;
          }
          held = { value: next.value };
        }
        let submission: Submission<R>;
        try {
          submission = pool._submit(where, task, [held.value], 0, undefined, options);
        } catch (error) {
          // A queue filled by others: wait for our own tasks before failing.
          if (!(error instanceof PoolFull) || inFlight.length === 0) throw error;
          break;
        }
        held = null;
        inFlight.push(submission);
        if (done !== null) {
          const report = (): void => done.putNowait(submission);
          submission.promise.then(report, report);
        }
      }
      if (inFlight.length === 0) return;
      const submission = done === null ? inFlight[0]! : await done.get();
      inFlight.splice(inFlight.indexOf(submission), 1);
      yield await submission.wait();
    }
  } finally {
    const stop = new GreenletExit(`${where}: the consumer stopped`);
    for (const submission of inFlight) submission.cancel(stop);
    if (!exhausted) await iterator.return?.();
  }
}
