/**
 * `patchFs()`: the path-level functions of `fs` (callback) and `fs/promises`.
 *
 * In a greenlet, a call is an operation: a kill or Timeout releases the caller at once (the
 * promise rejects, the callback receives the exception) — also when the work is stuck in libuv's
 * thread pool, such as opening or reading a FIFO nobody writes to. `readFile` and `writeFile` get
 * a signal, so they also stop reading or writing between chunks; other work finishes in the
 * background and its result is dropped, except that a file handle or directory opened after the
 * kill is closed.
 *
 * File-descriptor-level callbacks (`open`, `read`, `write`, `close`, `fstat`…) are deliberately not
 * patched: they are the plumbing of `fs.createReadStream`/`createWriteStream`, which turn a
 * callback error into an `'error'` event that could crash a process nobody listens on. Streams are
 * interrupted through `stream/promises` instead.
 */
import type { Dir } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { type CallSpec, callbackApi, promiseApi, wrapFunctions } from './call.js';
import { builtin } from './registry.js';
import { FS_FUNCTIONS } from './surface.js';

/** Where the options object that takes `signal` goes. */
const SIGNAL_AT: Record<string, number> = { readFile: 1, writeFile: 2 };

function closeLate(value: unknown): void {
  (value as FileHandle | Dir).close().catch(ignore);
}

function ignore(): void {}

function spec(name: string): CallSpec {
  const signalAt = SIGNAL_AT[name];
  return {
    kind: 'fs',
    // readFile and writeFile only poll their signal: a signal left unaborted serves the next call.
    ...(signalAt === undefined ? {} : { signalAt, encodingOption: true, reuseSignal: true }),
    ...(name === 'open' || name === 'opendir' ? { late: closeLate } : {}),
  };
}

/** Patch fs (see the module comment). Returns what it replaced. */
export function patchFs(): string[] {
  const done: string[] = [];
  for (const [label, shape] of [
    ['fs', callbackApi],
    ['fs/promises', promiseApi],
  ] as const) {
    for (const name of wrapFunctions('fs', builtin(label), FS_FUNCTIONS[label], (original, n) =>
      shape(spec(n), original),
    ))
      done.push(`${label}.${name}`);
  }
  return done;
}
