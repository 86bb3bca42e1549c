/**
 * `patchChildProcess()`: `spawn`, `fork`, `exec`, `execFile` (and `util.promisify` of the last two).
 *
 * A child started in a greenlet is that greenlet's operation until it exits. A kill or Timeout
 * kills the child (with its `killSignal` option, `SIGTERM` by default) and
 * - with a callback (`exec(cmd, cb)`): the callback receives the kill's exception, once;
 * - promisified: the promise rejects with it;
 * - otherwise: it is emitted as the child's `'error'` when someone listens for `'error'`; if nobody
 *   does, the code waiting on `'exit'`/`'close'` resumes and meets the kill at its next checkpoint.
 * Outside a greenlet these are the originals.
 */
import type { ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { callbackApi, dressAs, type Fn, liveGreenlet, trackEmitter, wrapFunctions } from './call.js';
import { builtin, markPatched } from './registry.js';

/**
 * What `patchChildProcess()` replaces.
 *
 * @example
 * ```ts
 * CHILD_PROCESS_FUNCTIONS.child_process; // ['spawn', 'fork', 'exec', 'execFile']
 * ```
 */
export const CHILD_PROCESS_FUNCTIONS = { child_process: ['spawn', 'fork', 'exec', 'execFile'] } as const;

function killSignalOf(args: unknown[]): NodeJS.Signals | number {
  for (const arg of args) {
    if (typeof arg === 'object' && arg !== null && !Array.isArray(arg)) {
      const signal = (arg as { killSignal?: NodeJS.Signals | number }).killSignal;
      if (signal !== undefined) return signal;
    }
  }
  return 'SIGTERM';
}

/** Set while a patched call runs its original: `exec` calls the module's (patched) `execFile`. */
let nested = false;

function invokeOnce(original: Fn, self: unknown, args: unknown[]): ChildProcess {
  nested = true;
  try {
    return Reflect.apply(original, self, args) as ChildProcess;
  } finally {
    nested = false;
  }
}

function wrapChild(original: Fn): Fn {
  const withCallback = callbackApi(
    {
      kind: 'child',
      invoke(start, self, args, call) {
        const child = invokeOnce(start, self, args);
        const signal = killSignalOf(args);
        call.free = () => child.kill(signal);
        return child;
      },
    },
    original,
  );
  const patched = function spawnChild(this: unknown, ...args: unknown[]): unknown {
    const greenlet = nested ? undefined : liveGreenlet();
    if (greenlet === undefined) return Reflect.apply(original, this, args);
    if (typeof args[args.length - 1] === 'function') return Reflect.apply(withCallback, this, args);
    const child = invokeOnce(original, this, args);
    const signal = killSignalOf(args);
    trackEmitter('child', greenlet, child, ['exit', 'close'], (c, reason) => {
      c.kill(signal);
      if (reason !== undefined) process.nextTick(() => c.emit('error', reason));
    });
    return child;
  };
  const custom = (original as { [promisify.custom]?: Fn })[promisify.custom];
  if (custom !== undefined) {
    // Node's own promisified exec calls the original exec; in a greenlet, go through the patch.
    const promised = function promisified(this: unknown, ...args: unknown[]): unknown {
      if (liveGreenlet() === undefined) return Reflect.apply(custom, this, args);
      let child: ChildProcess | undefined;
      const promise = new Promise((resolve, reject) => {
        child = Reflect.apply(patched, this, [
          ...args,
          (error: (Error & Record<string, unknown>) | null, stdout: unknown, stderr: unknown) => {
            if (error === null) return resolve({ stdout, stderr });
            if (typeof error === 'object' && 'cmd' in error) Object.assign(error, { stdout, stderr });
            reject(error);
          },
        ]) as ChildProcess;
      });
      return Object.assign(promise, { child });
    };
    Object.defineProperty(patched, promisify.custom, {
      value: dressAs(promised, custom),
      configurable: true,
    });
  }
  return patched;
}

/** Patch child_process (see the module comment). Returns what it replaced. */
export function patchChildProcess(): string[] {
  markPatched('childProcess');
  return wrapFunctions(
    'childProcess',
    builtin('child_process'),
    CHILD_PROCESS_FUNCTIONS.child_process,
    wrapChild,
  ).map((name) => `child_process.${name}`);
}
