/**
 * The calls of a ThreadPool (`spawn`, `apply`, `run`, and the map family through pool-map.ts), and
 * {@link PoolView}: the same calls with per-call options.
 *
 * Why a view rather than an options argument: every argument after the task goes to the task, so
 * an options object in last position cannot be told apart from a task argument, and guessing
 * (`pool.run(fn, 1, { signal })`) would silently pass options to the function, or take a task's
 * own argument for options. `pool.withOptions({ signal, timeout })` says it explicitly, validates
 * it once, and returns an object with the same methods; a future `pool.lane()` can reuse its shape.
 *
 * Options cancel a task exactly as a kill does (submission.ts): a queued task leaves the queue; a
 * running one sees `currentSignal()` abort and, after the pool's `cancelGrace`, its thread is
 * terminated and replaced. The call rejects with the signal's `reason`, or with a `Timeout`.
 */
import { GreenletExit } from '../errors.js';
import { Greenlet } from '../greenlet/greenlet.js';
import { addLink, CallbackLink } from '../greenlet/internal.js';
import { checkOptions, checkTimeout, typeError } from '../internal/validate.js';
import { type MapHost, mapped, type PoolImapOptions } from './pool-map.js';
import type { CallOptions, Submission } from './submission.js';
import { type AnyTaskRef, explainClosure, sourceRef, type TaskRef } from './task.js';

type Fn = (...args: never[]) => unknown;
type Result<F extends Fn> = Awaited<ReturnType<F>>;
type Items<F extends (item: never) => unknown> = Iterable<Parameters<F>[0]> | AsyncIterable<Parameters<F>[0]>;

/**
 * Options of {@link ThreadPool.withOptions}: they apply to every task the view submits (each task of
 * a `map` on its own).
 *
 * @example
 * ```ts
 * const opts: TaskOptions = { signal: AbortSignal.timeout(10_000), timeout: 2_000 };
 * const n = await pool.withOptions(opts).apply(count, rows);
 * ```
 */
export interface TaskOptions {
  /**
   * Cancels the task when it aborts, as a kill would; the call rejects with `signal.reason`. A
   * signal that has already aborted rejects every call at once: the task is never sent. Inside the
   * task, `currentSignal()` aborts with a `TaskCancelledError` whose reason is `kill` (`timeout` for
   * the reason of `AbortSignal.timeout()`).
   */
  signal?: AbortSignal;
  /**
   * Milliseconds from the call (time in the queue included) after which the task is cancelled, as
   * a kill would; the call rejects with a `Timeout`. `undefined`, `null` or `Infinity`: none.
   */
  timeout?: number | null;
}

/** What the calls need from their pool: what the map family needs. */
export type ViewHost = MapHost;

/** No per-call options: the pool's own methods. */
export const NO_OPTIONS: CallOptions = {};

function poolTask(submission: Submission): Promise<unknown> {
  return submission.wait();
}

function cancelUnstarted(submission: Submission): (greenlet: Greenlet) => void {
  return () => {
    if (!submission.settled)
      submission.cancel(new GreenletExit('The task greenlet was killed before it started'));
  };
}

/** `pool.spawn`: the task, submitted now, in a new started Greenlet. */
export function spawnTask<R>(
  host: ViewHost,
  where: string,
  task: AnyTaskRef,
  args: unknown[],
  options: CallOptions,
): Greenlet<R> {
  const submission = host._submit<R>(where, task, args, 0, undefined, options);
  const greenlet = new Greenlet<R>(poolTask as () => Promise<R>, submission);
  greenlet.name = task.label;
  addLink(greenlet, new CallbackLink(cancelUnstarted(submission as Submission)));
  greenlet.start();
  return greenlet;
}

/** `pool.apply`: the task's result; what cannot be submitted rejects. */
export function applyTask<R>(
  host: ViewHost,
  where: string,
  task: unknown,
  args: unknown[],
  options: CallOptions,
): Promise<R> {
  let submission: Submission<R>;
  try {
    submission = host._submit<R>(where, task, args, 0, undefined, options);
  } catch (error) {
    return Promise.reject(error);
  }
  return submission.wait();
}

/** `pool.run`: a self-contained function, sent by its source; a closed-over variable is named. */
export function runFunction<R>(
  host: ViewHost,
  where: string,
  fn: unknown,
  args: unknown[],
  options: CallOptions,
  fix: string,
): Promise<R> {
  let ref: AnyTaskRef;
  try {
    ref = sourceRef(where, fn);
  } catch (error) {
    return Promise.reject(error);
  }
  return applyTask<R>(host, where, ref, args, options).catch((error: unknown) => {
    throw explainClosure(error, ref, where, fix);
  });
}

/** Check `opts` of `withOptions()` (what a mistake there would silently mean: no cancellation). */
export function resolveTaskOptions(where: string, opts: unknown): CallOptions {
  checkOptions(where, 'opts', opts, ['signal', 'timeout']);
  const given = opts as TaskOptions | undefined;
  const signal = given?.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw typeError(
      where,
      'opts.signal',
      'an AbortSignal (`controller.signal`, `AbortSignal.timeout(ms)`)',
      signal,
    );
  }
  const timeoutMs = checkTimeout(where, 'opts.timeout', given?.timeout);
  return { signal, timeoutMs };
}

/**
 * A ThreadPool's calls with per-call options (from {@link ThreadPool.withOptions}): the same
 * `spawn`, `apply`, `run`, `map`, `imap` and `imapUnordered`, each task cancelled when the signal
 * aborts or its timeout passes, as a kill would cancel it. The view holds no task and no resource:
 * make one per request, or keep one.
 *
 * @example
 * ```ts
 * // Cancel the task when the HTTP client goes away, and after 2 s in any case.
 * const calls = pool.withOptions({ signal: request.signal, timeout: 2_000 });
 * const thumb = await calls.apply(resize, photo, 800); // rejects with request.signal.reason or a Timeout
 * ```
 */
export class PoolView {
  readonly #host: ViewHost;
  readonly #options: CallOptions;
  readonly #prefix: string;

  /** @internal use `pool.withOptions(opts)` */
  constructor(host: ViewHost, options: CallOptions, prefix: string) {
    this.#host = host;
    this.#options = options;
    this.#prefix = prefix;
  }

  /**
   * `ThreadPool.spawn` with this view's options: the greenlet's value is the task's result; when
   * the signal aborts or the timeout passes, the task is cancelled and the greenlet fails with the
   * signal's reason or a `Timeout`. Killing the greenlet cancels the task as before.
   *
   * @example
   * ```ts
   * const g = pool.withOptions({ timeout: 5_000 }).spawn(hashFile, path);
   * await g.join(); // g.exception is a Timeout if the task ran (or waited) more than 5 s
   * ```
   */
  spawn<F extends Fn>(task: TaskRef<F>, ...args: Parameters<F>): Greenlet<Result<F>> {
    return spawnTask(this.#host, `${this.#prefix}.spawn()`, task as AnyTaskRef, args, this.#options);
  }

  /**
   * `ThreadPool.apply` with this view's options: the task's result, or a rejection with the
   * signal's reason or a `Timeout` once the task is cancelled.
   *
   * @example
   * ```ts
   * const controller = new AbortController();
   * const digest = pool.withOptions({ signal: controller.signal }).apply(sha256, buffer);
   * controller.abort(); // the task leaves the queue, or is asked to stop; digest rejects
   * ```
   */
  apply<F extends Fn>(task: TaskRef<F>, ...args: Parameters<F>): Promise<Result<F>> {
    return applyTask(this.#host, `${this.#prefix}.apply()`, task, args, this.#options);
  }

  /**
   * `ThreadPool.run` with this view's options: a self-contained function, sent by its source text
   * (the same security note applies: only functions written in your program).
   *
   * @example
   * ```ts
   * const n = await pool.withOptions({ timeout: 1_000 }).run((a: number, b: number) => a * b, 6, 7);
   * ```
   */
  run<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): Promise<Awaited<R>> {
    return runFunction(
      this.#host,
      `${this.#prefix}.run()`,
      fn,
      args,
      this.#options,
      'pool.withOptions(…).run((…, NAME) => …, …, NAME)',
    );
  }

  /**
   * `ThreadPool.map` with this view's options, applied to each task on its own (a `timeout` bounds
   * every task, not the whole map); the first cancelled or failed task stops the rest.
   *
   * @example
   * ```ts
   * const sizes = await pool.withOptions({ signal }).map(measure, files);
   * ```
   */
  async map<F extends (item: never) => unknown>(task: TaskRef<F>, items: Items<F>): Promise<Result<F>[]> {
    const results: Result<F>[] = [];
    for await (const result of mapped<Result<F>>(
      this.#host,
      `${this.#prefix}.map()`,
      task,
      items,
      undefined,
      true,
      this.#options,
    ))
      results.push(result);
    return results;
  }

  /**
   * `ThreadPool.imap` with this view's options, applied to each task on its own.
   *
   * @example
   * ```ts
   * for await (const page of pool.withOptions({ timeout: 500 }).imap(renderPage, pages)) stream.write(page);
   * ```
   */
  imap<F extends (item: never) => unknown>(
    task: TaskRef<F>,
    items: Items<F>,
    opts?: PoolImapOptions,
  ): AsyncIterableIterator<Result<F>> {
    return mapped(this.#host, `${this.#prefix}.imap()`, task, items, opts, true, this.#options);
  }

  /**
   * `ThreadPool.imapUnordered` with this view's options, applied to each task on its own.
   *
   * @example
   * ```ts
   * for await (const hash of pool.withOptions({ signal }).imapUnordered(hashFile, files)) index.add(hash);
   * ```
   */
  imapUnordered<F extends (item: never) => unknown>(
    task: TaskRef<F>,
    items: Items<F>,
    opts?: PoolImapOptions,
  ): AsyncIterableIterator<Result<F>> {
    return mapped(this.#host, `${this.#prefix}.imapUnordered()`, task, items, opts, false, this.#options);
  }
}
