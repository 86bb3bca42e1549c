/**
 * Shutdown hooks: what a graceful shutdown (`greenhub/patch`'s signal patch, `shutdown()`) runs once
 * the greenlets are done and before the process exits. It lives here, apart from the patch layer,
 * so that the thread pool can register its `close()` without importing `greenhub/patch`.
 */
import { checkFunction } from './validate.js';

const hooks: (() => unknown)[] = [];

/**
 * Run `hook` during a graceful shutdown, after the greenlets are done and before the process
 * exits (the thread pool registers its `close()` here). Hooks run in registration order, each
 * within the hook timeout. Returns a function that unregisters it.
 *
 * @example
 * ```ts
 * import { onShutdown } from 'greenhub/patch';
 * const off = onShutdown(() => db.end());
 * ```
 */
export function onShutdown(hook: () => unknown): () => void {
  checkFunction('onShutdown()', 'hook', hook);
  hooks.push(hook);
  return () => {
    const i = hooks.indexOf(hook);
    if (i !== -1) hooks.splice(i, 1);
  };
}

/** The hooks, in registration order (a copy). */
export function shutdownHooks(): (() => unknown)[] {
  return [...hooks];
}
