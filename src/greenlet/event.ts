/**
 * Event and AsyncResult: the two "something happened" primitives, both on the shared linkable core.
 */
import { InvalidStateError } from '../errors.js';
import { checkBoolean, checkOptions, checkSignal, checkTimeout } from '../internal/validate.js';
import { getHub } from './hub.js';
import { Linkable } from './linkable.js';
import { Timeout } from './timeout.js';
import { checkpointed, FireMode, RejectWith } from './waiter.js';

const RESOLVED_TRUE: Promise<boolean> = Promise.resolve(true);

/**
 * A flag that greenlets wait on until it is set.
 *
 * @example
 * ```ts
 * const ready = new Event();
 * spawn(async () => { await ready.wait(); console.log('go'); });
 * await sleep(10);
 * ready.set();
 * ```
 */
export class Event extends Linkable {
  private flag = false;

  /** True when set. */
  isSet(): boolean {
    return this.flag;
  }

  ready(): boolean {
    return this.flag;
  }

  /** Set the flag and wake every waiter (in the order they started waiting), in a microtask. */
  set(): void {
    if (this.flag) return;
    this.flag = true;
    this._notifyLinks();
  }

  /** Reset the flag; later `wait()`s block until the next `set()`. */
  clear(): void {
    this.flag = false;
  }

  /**
   * Wait until the flag is set: resolves `true`, or `false` if `timeout` ms pass first. Returns at
   * once when already set.
   */
  wait(timeout?: number | null): Promise<boolean> {
    const ms = checkTimeout('Event.wait()', 'timeout', timeout);
    if (this.flag) return checkpointed(getHub(), RESOLVED_TRUE);
    return this._park<boolean>('wait', ms, FireMode.True, false);
  }

  override toString(): string {
    return `Event(${this.flag ? 'set' : 'unset'})`;
  }
}

/**
 * A one-shot result that greenlets can wait for: a value or an exception, set once.
 *
 * @example
 * ```ts
 * const answer = new AsyncResult<number>();
 * spawn(async () => answer.set(await compute()));
 * console.log(await answer.get({ timeout: 1000 }));
 * ```
 */
export class AsyncResult<T = unknown> extends Linkable {
  /** @internal */ _failed = false;
  /** @internal */ _result: unknown = undefined;
  private done = false;

  /** True once set (with a value or an exception). */
  ready(): boolean {
    return this.done;
  }

  /** True once set with a value. */
  successful(): boolean {
    return this.done && !this._failed;
  }

  /** The value once set successfully. */
  get value(): T | undefined {
    return this.done && !this._failed ? (this._result as T) : undefined;
  }

  /** The exception once set with one. */
  get exception(): unknown {
    return this.done && this._failed ? this._result : undefined;
  }

  /** Store the value and wake the waiters. Throws `InvalidStateError` if already set. */
  set(value: T): void {
    this.settle(false, value);
  }

  /** Store an exception (thrown by `get()`) and wake the waiters. Throws if already set. */
  setException(error: unknown): void {
    this.settle(true, error);
  }

  /**
   * The value, waiting for it; throws the exception if one was set, or `Timeout` if `timeout`
   * passes first (at once with `block: false`).
   */
  get(opts?: { block?: boolean; timeout?: number | null; signal?: AbortSignal }): Promise<T> {
    checkOptions('AsyncResult.get()', 'opts', opts, ['block', 'timeout', 'signal']);
    const ms = checkTimeout('AsyncResult.get()', 'opts.timeout', opts?.timeout);
    if (opts?.block !== undefined) checkBoolean('AsyncResult.get()', 'opts.block', opts.block);
    const signal = checkSignal('AsyncResult.get()', 'opts.signal', opts?.signal);
    if (signal?.aborted) return checkpointed(getHub(), Promise.reject(signal.reason));
    if (this.done)
      return checkpointed(
        getHub(),
        this._failed ? Promise.reject(this._result) : Promise.resolve(this._result as T),
      );
    const wait = opts?.block === false ? 0 : ms;
    return this._park<T>('get', wait, FireMode.Result, new RejectWith(() => new Timeout(wait)), signal);
  }

  /** Wait until set: `true`, or `false` if `timeout` passes first. Never throws the stored exception. */
  wait(timeout?: number | null): Promise<boolean> {
    const ms = checkTimeout('AsyncResult.wait()', 'timeout', timeout);
    if (this.done) return checkpointed(getHub(), RESOLVED_TRUE);
    return this._park<boolean>('wait', ms, FireMode.True, false);
  }

  /** Ready for good once set: links are notified in place. */
  protected override get handsOverLinks(): boolean {
    return false;
  }

  override toString(): string {
    return `AsyncResult(${this.done ? (this._failed ? 'failed' : 'set') : 'unset'})`;
  }

  private settle(failed: boolean, result: unknown): void {
    if (this.done)
      throw new InvalidStateError(`${this.toString()} is already set; an AsyncResult is set once`);
    this.done = true;
    this._failed = failed;
    this._result = result;
    this._notifyLinks();
  }
}
