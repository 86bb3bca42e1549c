import { checkFunction } from '../internal/validate.js';
import { currentGreenlet } from './hub.js';

const TOP_LEVEL = {};

/**
 * A greenlet-local value: each greenlet (and top-level code) sees its own. Children do not inherit
 * it (gevent's `local`). Values are held weakly: a finished greenlet's value can be collected.
 *
 * @example
 * ```ts
 * const requestId = new Local<string>();
 * spawn(async () => { requestId.set('req-1'); await sleep(5); log(requestId.get()); }); // 'req-1'
 * spawn(async () => { requestId.set('req-2'); await sleep(1); log(requestId.get()); }); // 'req-2'
 * ```
 */
export class Local<T> {
  private readonly values = new WeakMap<object, T>();
  private readonly init: (() => T) | undefined;

  /** `init` (optional) computes the value the first time a greenlet reads it without setting it. */
  constructor(init?: () => T) {
    if (init !== undefined) checkFunction('Local()', 'init', init);
    this.init = init;
  }

  /** The current greenlet's value (its `init()` result on first read, else `undefined`). */
  get(): T | undefined {
    const key = currentGreenlet() ?? TOP_LEVEL;
    const values = this.values;
    if (values.has(key) || this.init === undefined) return values.get(key);
    const value = this.init();
    values.set(key, value);
    return value;
  }

  /** Set the current greenlet's value. */
  set(value: T): void {
    this.values.set(currentGreenlet() ?? TOP_LEVEL, value);
  }

  /** Forget the current greenlet's value. */
  delete(): void {
    this.values.delete(currentGreenlet() ?? TOP_LEVEL);
  }
}
