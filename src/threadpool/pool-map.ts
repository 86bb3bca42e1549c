/**
 * The map family of ThreadPool (`map`, `imap`, `imapUnordered`): one task per item, on the map
 * engine the greenlet Pool shares (greenlet/map.ts): at most `maxsize` in flight (results buffered
 * included), in input or completion order; the first error is thrown at its position; a consumer
 * that stops early (break, error, kill) cancels the tasks still in flight, and the source iterator
 * is closed. With per-call options, an aborted signal stops the reading of items.
 *
 * Submitting never waits: when the pool's queue is full because of other callers, the map waits for
 * its own tasks before it tries again, and fails with `PoolFull` only when it has none in flight.
 */

import { GreenletExit, PoolFull } from '../errors.js';
import { Event } from '../greenlet/event.js';
import { mapItems } from '../greenlet/internal.js';
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
  /** @internal */
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
  return mapItems(
    new TaskSubmitter<R>(pool, where, task, options),
    items,
    opts?.maxsize ?? 2 * pool.maxThreads,
    ordered,
  );
}

/** The map engine's view of a ThreadPool: an item's task is a Submission. */
class TaskSubmitter<R> {
  readonly producerName: string;
  /** The map's own tasks in flight, and an event set whenever one of them ends. */
  private readonly live = new Set<Submission<R>>();
  private readonly ended = new Event();

  constructor(
    private readonly pool: MapHost,
    private readonly where: string,
    private readonly task: AnyTaskRef,
    private readonly options: CallOptions,
  ) {
    this.producerName = `${where} producer`;
  }

  beforeItem(): void {
    this.options.signal?.throwIfAborted(); // the tasks in flight were cancelled by it
  }

  async start(item: unknown): Promise<Submission<R>> {
    for (;;) {
      this.ended.clear();
      try {
        const submission = this.pool._submit<R>(this.where, this.task, [item], 0, undefined, this.options);
        this.live.add(submission);
        return submission;
      } catch (error) {
        // A queue filled by others: wait for one of our own tasks before trying again.
        if (!(error instanceof PoolFull) || this.live.size === 0) throw error;
      }
      await this.ended.wait();
    }
  }

  onEnd(submission: Submission<R>, callback: () => void): void {
    const ended = (): void => {
      this.live.delete(submission);
      this.ended.set();
      callback();
    };
    submission.promise.then(ended, ended);
  }

  result(submission: Submission<R>): Promise<R> {
    return submission.wait();
  }

  stop(submissions: Submission<R>[]): void {
    const stop = new GreenletExit(`${this.where}: the consumer stopped`);
    for (const submission of submissions) submission.cancel(stop);
  }
}
