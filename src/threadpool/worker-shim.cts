/**
 * The pool worker's entry as piscina loads it: a CommonJS module whose function loads the real
 * entry, worker-entry.ts (an ES module), with `import()` on the first task, then calls it.
 *
 * Why not hand piscina worker-entry.js itself: piscina loads its `filename` with `require()` first,
 * and on Node 20 a worker terminated while `require()` instantiates an ES module aborts the whole
 * process (a V8 fatal error, `Module::IsGraphAsync` on a module not instantiated: the
 * require(esm)/termination race Node fixed later). A pool terminates starting workers on purpose
 * (a cancelled task's thread, `resourceLimits`); `import()` is stopped cleanly.
 */
type Handle = typeof import('./worker-entry.js').default;
type TaskMessage = Parameters<Handle>[0];

let handle: Handle | undefined;
let loading: Promise<Handle> | undefined;

function entry(message: TaskMessage): unknown {
  if (handle !== undefined) return handle(message);
  loading ??= import('./worker-entry.js').then((m) => (handle = m.default));
  return loading.then((h) => h(message));
}

export = entry;
