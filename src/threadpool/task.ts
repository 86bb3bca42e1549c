/**
 * Task references: what the pool sends to a worker instead of a function, which cannot cross a
 * thread. A {@link TaskRef} names a module and one of its exports (`task(url, 'fib')`); `run(fn)`
 * makes one from a self-contained function's source text.
 */
import { pathToFileURL } from 'node:url';
import { ClosureError, InvalidArgumentTypeError } from '../errors.js';
import { checkString, typeError } from '../internal/validate.js';
import { MSG_MODULE, MSG_SOURCE } from './protocol.js';
import { compileSource, exportOf } from './task-loader.js';

let refCount = 0;

/** Any TaskRef, whatever its function's type (internal signatures). */
export type AnyTaskRef = TaskRef<(...args: never[]) => unknown>;

/**
 * A function that runs on the pool's threads: an export of a module, or a self-contained function
 * (from `ThreadPool.run`). `F` is the function's type, so `apply`, `spawn` and `map` check their
 * arguments and infer their results.
 *
 * @example
 * ```ts
 * const fib = task<typeof import('./tasks.js').fib>(new URL('./tasks.js', import.meta.url), 'fib');
 * const n: number = await pool.apply(fib, 30);
 * ```
 */
export class TaskRef<F extends (...args: never[]) => unknown = (...args: unknown[]) => unknown> {
  /** @internal the message kind it is sent as (protocol.ts): {@link MSG_MODULE}, {@link MSG_SOURCE} or `MSG_COMLINK` */
  readonly _kind: number;
  /** @internal unique per TaskRef of this thread: the workers' cache key */
  readonly _id: number = ++refCount;
  /** @internal the module's URL, or the function's source */
  readonly _target: string;
  /** The export it runs (`default` unless named). */
  readonly exportName: string;
  /** A short name for run info, greenlet names and errors: `fib (tasks.js)`. */
  readonly label: string;
  /** @internal the module or function, once loaded on this thread (hybrid's inline calls) */
  _local: Promise<F> | undefined = undefined;
  /** @internal phantom: the function's type */
  declare readonly _type?: F;

  /** @internal use {@link task} or `ThreadPool.run` */
  constructor(kind: number, target: string, exportName: string, label: string) {
    this._kind = kind;
    this._target = target;
    this.exportName = exportName;
    this.label = label;
  }

  /** The module's URL (`file:` or `data:`), or `undefined` for a function sent by source. */
  get module(): string | undefined {
    return this._kind === MSG_MODULE ? this._target : undefined;
  }

  toString(): string {
    return `TaskRef(${this.label})`;
  }

  /** @internal the function itself, loaded on the calling thread (for hybrid's inline calls) */
  _load(): Promise<F> {
    this._local ??= loadLocal(this);
    return this._local;
  }
}

async function loadLocal<F>(ref: AnyTaskRef): Promise<F> {
  if (ref._kind === MSG_SOURCE) return compileSource(ref._target) as F;
  const namespace = (await import(ref._target)) as Record<string, unknown>;
  return exportOf(namespace, ref._target, ref.exportName) as F;
}

/**
 * The URL of a task module: a `URL`, a `file:`/`data:` URL string, or an absolute path. Relative
 * paths are refused: relative to what would be a guess (the worker's cwd? this file?).
 */
export function moduleUrl(where: string, name: string, module: unknown): string {
  if (module instanceof URL) {
    if (module.protocol === 'file:' || module.protocol === 'data:') return module.href;
  } else if (typeof module === 'string') {
    if (module.startsWith('file:') || module.startsWith('data:')) return module;
    if (module.startsWith('/') || /^[A-Za-z]:[\\/]/.test(module)) return pathToFileURL(module).href;
  }
  throw typeError(
    where,
    name,
    "a URL (`new URL('./tasks.js', import.meta.url)`), a file: URL string or an absolute path",
    module,
  );
}

function basename(url: string): string {
  if (url.startsWith('data:')) return 'data: module';
  const path = url.split(/[?#]/, 1)[0]!;
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Any function a task can be: what `task<F>` accepts as `F`. */
type TaskFunction = (...args: never[]) => unknown;

/**
 * The names of the functions a module exports (`M` is the module's type, `typeof import('./m.js')`):
 * what `task<M, K>` accepts as the export name.
 */
export type TaskExport<M> = {
  [K in keyof M]: M[K] extends TaskFunction ? K : never;
}[keyof M] &
  string;

/**
 * A reference to the function `exportName` (default: `default`) of the module at `module`, to run
 * in a thread pool. The module is loaded by each worker thread on first use; it must not depend
 * on state of the calling thread. Type it with the function's type to have arguments checked and
 * results inferred; or with the module's type (and the export's name, for the exact function type)
 * to have the export name checked too: a name the module does not export as a function does not
 * compile.
 *
 * @example
 * ```ts
 * // tasks.js:  export function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
 * import { task, ThreadPool } from 'greenhub/threadpool';
 * const url = new URL('./tasks.js', import.meta.url);
 * const fib = task<typeof import('./tasks.js').fib>(url, 'fib');
 * const checked = task<typeof import('./tasks.js'), 'fib'>(url, 'fib'); // 'fibb' would not compile
 * await using pool = new ThreadPool({ maxThreads: 4 });
 * console.log(await pool.apply(fib, 35), await pool.apply(checked, 30));
 * ```
 */
export function task<F extends TaskFunction = (...args: unknown[]) => unknown>(
  module: URL | string,
  exportName?: string,
): TaskRef<F>;
export function task<M extends object, K extends TaskExport<M> = TaskExport<M>>(
  module: URL | string,
  exportName: K,
): TaskRef<Extract<M[K], TaskFunction>>;
export function task(module: URL | string, exportName = 'default'): AnyTaskRef {
  const url = moduleUrl('task()', 'module', module);
  checkString('task()', 'exportName', exportName);
  if (exportName === '')
    throw new InvalidArgumentTypeError(
      'task(): expected `exportName` to be a non-empty string, got ``',
      'exportName',
    );
  const file = basename(url);
  return new TaskRef(
    MSG_MODULE,
    url,
    exportName,
    exportName === 'default' ? file : `${exportName} (${file})`,
  );
}

const sourceRefs = new WeakMap<(...args: never[]) => unknown, AnyTaskRef>();

/**
 * The TaskRef of a self-contained function, sent by its source text (cached per function). Refuses
 * what has no usable source: native and bound functions, classes, and methods whose text is not an
 * expression on its own.
 */
export function sourceRef(where: string, fn: unknown): AnyTaskRef {
  if (typeof fn !== 'function') throw typeError(where, 'fn', 'a function', fn);
  const cached = sourceRefs.get(fn as () => unknown);
  if (cached !== undefined) return cached;
  let source = Function.prototype.toString.call(fn);
  const refuse = (why: string): never => {
    throw new InvalidArgumentTypeError(
      `${where}: expected \`fn\` to be a self-contained function, got ${why}; only a function's source text ` +
        'reaches the other thread. Put it in a module and use task(url, name) instead',
      'fn',
    );
  };
  if (/\{\s*\[native code\]\s*\}\s*$/.test(source))
    refuse(`\`${fn.name || 'anonymous'}\`, a native or bound function`);
  if (/^class\b/.test(source)) refuse(`a class (\`${fn.name}\`)`);
  try {
    new Function(`"use strict"; return (${source});`);
  } catch {
    // A method (`area() { … }`, `async *items() { … }`): its text is not an expression by itself.
    const method = `({ ${source} })[${JSON.stringify(fn.name)}]`;
    try {
      new Function(`"use strict"; return ${method};`);
      source = method;
    } catch {
      refuse(`\`${fn.name || 'anonymous'}\`, whose source text does not compile on its own`);
    }
  }
  const ref = new TaskRef(MSG_SOURCE, source, 'default', fn.name ? `${fn.name}()` : '(anonymous function)');
  sourceRefs.set(fn as () => unknown, ref);
  return ref;
}

/**
 * A ReferenceError from a function sent by source that names one of the function's own identifiers:
 * the function used a variable of the calling thread, which its source text does not carry.
 * `fix` shows how to pass it instead (`NAME` stands for the variable).
 */
export function explainClosure(error: unknown, ref: AnyTaskRef, where: string, fix: string): unknown {
  if (ref._kind !== MSG_SOURCE || !(error instanceof ReferenceError)) return error;
  const match = /^(\S+) is not defined$/.exec(error.message);
  if (match === null) return error;
  const name = match[1]!;
  if (!new RegExp(`(^|[^\\w$.])${name.replace(/\$/g, '\\$')}($|[^\\w$])`).test(ref._target)) return error;
  return new ClosureError(
    `${where}: the function ${ref.label} uses \`${name}\`, a variable from its surroundings. Only a ` +
      `function's source text crosses to another thread, not its closure, so \`${name}\` does not exist ` +
      `there. Pass it as an argument: ${fix.replaceAll('NAME', name)}`,
    name,
    { cause: error },
  );
}
