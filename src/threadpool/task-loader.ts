/**
 * Turning a task reference into a function, on whichever thread runs it: a pool worker, a real
 * Thread, or the hub (hybrid's inline calls). Kept apart from task.ts, and free of imports, because
 * every worker thread loads it before its first task: a fresh thread pays for each module it loads.
 */

/** The function `name` of a loaded module, or a TypeError listing what the module does export. */
export function exportOf(namespace: Record<string, unknown>, url: string, name: string): unknown {
  const fn = namespace[name];
  if (typeof fn === 'function') return fn;
  const functions = Object.keys(namespace).filter((key) => typeof namespace[key] === 'function');
  throw new TypeError(
    fn === undefined
      ? `task(): module ${url} has no export \`${name}\`; its exported functions: ${functions.join(', ') || '(none)'}`
      : `task(): export \`${name}\` of module ${url} is not a function (it is ${typeof fn})`,
  );
}

/** Compile a function from its source, in strict mode like the module it came from. */
export function compileSource(source: string): (...args: unknown[]) => unknown {
  return new Function(`"use strict"; return (${source});`)() as (...args: unknown[]) => unknown;
}
