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
 *
 * **The whole process group.** Killing only the child of `exec('sleep 30 | cat')` kills the shell;
 * `sleep` and `cat` are re-parented and run on. So a child started in a greenlet leads a process
 * group of its own (`detached: true`, which Node's `exec`/`execFile` do not pass on: it is set where
 * every start ends, `ChildProcess.prototype.spawn`, during the patched call only), and a kill
 * signals the child, then its whole group (`process.kill(-pid, signal)`).
 *
 * What `detached` changes for code that is never cancelled, and the rule that follows (POSIX):
 * the child starts a new *session*, so it has no controlling terminal (a prompt on `/dev/tty` — ssh,
 * git, sudo — fails) and the terminal's signals (Ctrl-C, Ctrl-Z, hang-up) no longer reach it: on
 * plain Node a Ctrl-C kills the child with the parent. Hence a child gets a group of its own only
 * when this process has **no controlling terminal** (a service: systemd, a container, a daemon, CI),
 * where neither can happen; in an interactive terminal, Node's defaults stay and a kill reaches the
 * child alone, as before. Not on Windows (`detached` opens a console there). Never when the caller
 * set `detached` itself (with `detached: true` the child leads a group, which a kill signals too).
 * What remains observable: the child's process-group and session ids, so a signal a supervisor
 * sends to this process's *group* (`kill -- -<pgid>`) does not reach it (systemd's cgroup kill,
 * `docker stop` and signals to this process's pid are unaffected). stdio, `ref`/`unref` and the
 * parent waiting for the child are Node's: `detached` alone changes none of them.
 */
import type { ChildProcess } from 'node:child_process';
import type fsModule from 'node:fs';
import {
  callbackApi,
  dressAs,
  type Fn,
  liveGreenlet,
  PROMISIFY_CUSTOM,
  trackEmitter,
  wrapFunctions,
} from './call.js';
import { builtin, originalOf, replace } from './registry.js';
import { CHILD_PROCESS_FUNCTIONS } from './surface.js';

function killSignalOf(args: unknown[]): NodeJS.Signals | number {
  for (const arg of args) {
    if (typeof arg === 'object' && arg !== null && !Array.isArray(arg)) {
      const signal = (arg as { killSignal?: NodeJS.Signals | number }).killSignal;
      if (signal !== undefined) return signal;
    }
  }
  return 'SIGTERM';
}

/** The caller's own `detached` option, if it set one. */
function detachedOf(args: unknown[]): boolean | undefined {
  for (const arg of args) {
    if (typeof arg === 'object' && arg !== null && !Array.isArray(arg)) {
      const detached = (arg as { detached?: unknown }).detached;
      if (detached !== undefined) return Boolean(detached);
    }
  }
  return undefined;
}

let terminal: boolean | undefined;

/** Whether this process has a controlling terminal (checked once: a process cannot gain one later without setsid). */
function hasControllingTerminal(): boolean {
  if (terminal === undefined) {
    const fs = builtin<typeof fsModule>('fs');
    const open = originalOf(fs, 'openSync') as typeof fs.openSync;
    const close = originalOf(fs, 'closeSync') as typeof fs.closeSync;
    const { O_RDONLY, O_NOCTTY, O_NONBLOCK } = fs.constants;
    try {
      close(open('/dev/tty', O_RDONLY | O_NOCTTY | O_NONBLOCK));
      terminal = true;
    } catch {
      terminal = false; // ENXIO: no controlling terminal
    }
  }
  return terminal;
}

/** Whether a child started in a greenlet with these arguments gets a process group of its own. */
function wantsOwnGroup(args: unknown[]): boolean {
  return process.platform !== 'win32' && detachedOf(args) === undefined && !hasControllingTerminal();
}

/** Set while a patched call runs its original: `exec` calls the module's (patched) `execFile`. */
let nested = false;
/** Set while a patched call that wants its child in a group of its own runs its original. */
let ownGroup = false;
/** Children started by a patched call in a greenlet that lead a process group (a kill signals it). */
const leaders = new WeakSet<ChildProcess>();

function invokeOnce(original: Fn, self: unknown, args: unknown[]): ChildProcess {
  nested = true;
  ownGroup = wantsOwnGroup(args);
  try {
    return Reflect.apply(original, self, args) as ChildProcess;
  } finally {
    nested = false;
    ownGroup = false;
  }
}

/** `ChildProcess.prototype.spawn`, which every start reaches with its normalised options. */
function wrapStart(original: Fn): Fn {
  return function spawn(this: ChildProcess, ...args: unknown[]): unknown {
    const options = args[0];
    if (!nested || typeof options !== 'object' || options === null)
      return Reflect.apply(original, this, args);
    const detached = ownGroup || (options as { detached?: boolean }).detached === true;
    if (ownGroup) args[0] = { ...options, detached: true };
    const result = Reflect.apply(original, this, args);
    if (detached && process.platform !== 'win32' && this.pid !== undefined) leaders.add(this);
    return result;
  };
}

/** Kill the child as Node does, then the rest of the process group it leads, if it leads one. */
function killChild(child: ChildProcess, signal: NodeJS.Signals | number): void {
  child.kill(signal);
  if (!leaders.has(child) || child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // ESRCH: every member has exited already.
  }
}

function wrapChild(original: Fn): Fn {
  const withCallback = callbackApi(
    {
      kind: 'child',
      invoke(start, self, args, call) {
        const child = invokeOnce(start, self, args);
        const signal = killSignalOf(args);
        call.free = () => killChild(child, signal);
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
      killChild(c, signal);
      if (reason !== undefined) process.nextTick(() => c.emit('error', reason));
    });
    return child;
  };
  const custom = (original as { [PROMISIFY_CUSTOM]?: Fn })[PROMISIFY_CUSTOM];
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
    Object.defineProperty(patched, PROMISIFY_CUSTOM, {
      value: dressAs(promised, custom),
      configurable: true,
    });
  }
  return patched;
}

/** Patch child_process (see the module comment). Returns what it replaced. */
export function patchChildProcess(): string[] {
  const cp = builtin<typeof import('node:child_process')>('child_process');
  const done = wrapFunctions('childProcess', cp, CHILD_PROCESS_FUNCTIONS.child_process, wrapChild).map(
    (name) => `child_process.${name}`,
  );
  const proto = cp.ChildProcess.prototype as unknown as Record<string, Fn>;
  if (replace('childProcess', proto, 'spawn', dressAs(wrapStart(proto.spawn!), proto.spawn!)))
    done.push('ChildProcess.prototype.spawn');
  return done;
}
