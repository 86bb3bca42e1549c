/**
 * A promise whose resolving functions are kept on the object that settles it later (a waiter, a
 * patched call, a sleep), made without an executor closure per promise: the Promise constructor
 * calls its executor at once, so the object being filled can be a module variable. Hot: every wait
 * and every patched call inside a greenlet makes one.
 */
export interface Settler<T> {
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

let filling: Settler<unknown> | null = null;

function fill(resolve: (value: unknown) => void, reject: (error: unknown) => void): void {
  const settler = filling!;
  filling = null;
  settler.resolve = resolve;
  settler.reject = reject;
}

/** A new pending promise; `settler.resolve`/`settler.reject` settle it. */
export function promiseFor<T>(settler: Settler<T>): Promise<T> {
  filling = settler as Settler<unknown>;
  return new Promise<T>(fill as (resolve: (value: T) => void, reject: (error: unknown) => void) => void);
}
