/**
 * The map engine behind `imap`/`imapUnordered`/`map` of both pools: the greenlet {@link Pool} and
 * the `ThreadPool` (as gevent's `GroupMappingMixin` serves Group and Pool). A pool says how to start
 * one item's task and how to read its outcome ({@link MapTasks}); the engine does the rest, once:
 *
 * - A *producer* greenlet reads the items and starts one task per item, so a slow task never stops
 *   the reading, and starting may wait (a Pool's free slot) without blocking the consumer.
 * - `maxsize` bounds the tasks started but not yet consumed: the producer takes a unit of a
 *   semaphore before it reads each item, and the consumer gives it back when it asks for the next
 *   result. A slow consumer slows the producer instead of buffering without bound.
 * - Results come in input order (`ordered`) or completion order. A task's error is thrown at its
 *   position; an error of the producer (the source threw, a task could not be started) after the
 *   results of the tasks it started.
 * - A consumer that stops early (break, error, kill) kills the producer, which closes the source,
 *   and stops every task still running, so nothing keeps running unobserved.
 */

import { Greenlet } from './greenlet.js';
import { Queue } from './queue.js';
import { Semaphore } from './semaphore.js';
import { killAll } from './wait.js';

/** What the engine needs from a pool: one item's task, as a handle `H` with a result `R`. */
export interface MapTasks<H, R> {
  /** The producer greenlet's name (run info). */
  readonly producerName: string;
  /** Called before each item is read; throws to stop reading (an aborted signal). */
  beforeItem?(): void;
  /** Start the task of `item`; may wait (a free slot), and throw when it cannot. */
  start(item: unknown): H | Promise<H>;
  /** Call `callback` once when the task has ended, whatever its outcome. */
  onEnd(handle: H, callback: () => void): void;
  /** The task's value, or a rejection with its error, once it has ended. */
  result(handle: H): Promise<R>;
  /** The consumer went away: stop these tasks. */
  stop(handles: H[]): Promise<void> | void;
}

/**
 * The results of `tasks` over `items`, in input order when `ordered`, else in completion order;
 * at most `maxsize` (unbounded when `undefined`) started and not yet consumed.
 */
export async function* mapItems<H, R>(
  tasks: MapTasks<H, R>,
  items: Iterable<unknown> | AsyncIterable<unknown>,
  maxsize: number | undefined,
  ordered: boolean,
): AsyncGenerator<R> {
  const results = new Queue<H>();
  const budget = maxsize === undefined ? null : new Semaphore(maxsize);
  const running = new Set<H>();
  let producing = true;
  const closeIfDone = (): void => {
    if (!producing && running.size === 0) results.shutdown();
  };
  const producer = new Greenlet(async () => {
    const source =
      Symbol.asyncIterator in items
        ? (items as AsyncIterable<unknown>)[Symbol.asyncIterator]()
        : (items as Iterable<unknown>)[Symbol.iterator]();
    let exhausted = false;
    try {
      for (;;) {
        if (budget !== null) await budget.acquire();
        tasks.beforeItem?.();
        let next: IteratorResult<unknown>;
        try {
          next = await source.next();
        } catch (error) {
          exhausted = true; // a source that threw is done: it is not closed again
          throw error;
        }
        if (next.done) {
          exhausted = true;
          return;
        }
        const handle = await tasks.start(next.value);
        running.add(handle);
        tasks.onEnd(handle, () => {
          running.delete(handle);
          if (!ordered) {
            results.putNowait(handle);
            closeIfDone();
          }
        });
        if (ordered) results.putNowait(handle);
      }
    } finally {
      producing = false;
      if (ordered) results.shutdown();
      else closeIfDone();
      if (!exhausted) await source.return?.();
    }
  });
  producer.name = tasks.producerName;
  producer._observed = true; // its failure is rethrown to the consumer below
  producer.start();
  try {
    for await (const handle of results) {
      yield await tasks.result(handle);
      budget?.release();
    }
    await producer.join();
    if (producer._failed) {
      producer._errorDelivered = true;
      throw producer.exception;
    }
  } finally {
    if (!producer.dead) await killAll([producer]);
    if (running.size > 0) await tasks.stop([...running]);
  }
}
