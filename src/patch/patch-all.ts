/**
 * `patchAll()` and `unpatchAll()`: every target at once, options checked before anything is
 * patched, and the late-patching warning.
 */
import { checkOptions } from '../internal/validate.js';
import { findLateCaptures, lateWarning } from './late.js';
import { syncEsm } from './registry.js';
import { finish, newReport, type PatchReport } from './report.js';
import {
  leaveNothingFor,
  PATCH_OPTIONS,
  PATCH_TARGETS,
  type PatchOptions,
  type PatchTarget,
  patchTarget,
  settingsFromOptions,
  unpatchTargets,
} from './table.js';

export { BUILTINS_PATCHED_WHEN_ASKED, patchAskedBuiltin } from './table.js';
export type { PatchOptions };

let lateWarned = false;

/**
 * Patch everything (each target can be turned off): timers, fetch, net, http (clients and a
 * greenlet per server request), dns, fs, child processes, events, stream/promises, graceful
 * shutdown on signals, Thread as greenlet, and timing of blocking calls. Idempotent: a second call
 * patches only what the first left out, and updates settings.
 *
 * Call it before the application loads — best through `node --import greenhub/register app.js`.
 * Called later, it still reaches every call made through a module object or an ESM named import,
 * and warns once, naming the loaded modules that copied functions out before the patch.
 *
 * @example
 * ```ts
 * import { patchAll } from 'greenhub/patch';
 * const report = patchAll({ signal: false, blocking: 'throw', maxBlockingTime: 50 });
 * console.log(report.patched); // ['timers', 'fetch', 'net', …]
 * ```
 */
export function patchAll(opts?: PatchOptions): PatchReport {
  return patchAllFrom(opts, false);
}

/** @internal `greenhub/register` patches before the application loads: nothing can be late. */
export function patchAllFrom(opts: PatchOptions | undefined, preload: boolean): PatchReport {
  const where = 'patchAll()';
  checkOptions(where, 'opts', opts, PATCH_OPTIONS);
  // Every option is checked before anything is patched: a refused call changes nothing.
  const settings = new Map<PatchTarget, unknown>();
  for (const t of PATCH_TARGETS) settings.set(t, settingsFromOptions(where, t, opts ?? {}));

  const report = newReport();
  for (const [t, value] of settings) {
    if (value === false) report.skipped.push(t);
    else {
      // The preload's deferred patch (deferred.ts) may leave costly builtins until the application
      // asks for them; the application's own call patches them now.
      if (!preload) leaveNothingFor(t);
      patchTarget(report, t, value);
    }
  }
  finish(report);
  if (!preload && !lateWarned && report.functions.length !== 0) {
    lateWarned = true;
    report.unreachable = findLateCaptures(patchedByModule(report.functions));
    if (report.unreachable.length !== 0)
      process.emitWarning(lateWarning(report.unreachable), {
        type: 'GreenhubLatePatchWarning',
        code: 'GREENHUB_LATE_PATCH',
      });
  }
  return report;
}

/** `fs/promises.readFile` → `fs/promises: {readFile}`; prototypes are not copied by name. */
function patchedByModule(functions: readonly string[]): Map<string, Set<string>> {
  const map = new Map<string, Set<string>>();
  for (const fn of functions) {
    const dot = fn.lastIndexOf('.');
    const module = fn.slice(0, dot);
    if (module.includes('.prototype') || module.includes('(')) continue;
    let names = map.get(module);
    if (names === undefined) map.set(module, (names = new Set()));
    names.add(fn.slice(dot + 1));
  }
  return map;
}

/**
 * Restore every original: module functions, globals, prototypes, signal handlers, the Thread mode
 * and the blocking settings; ESM named imports follow. Operations in flight keep running.
 *
 * @example
 * ```ts
 * afterAll(() => unpatchAll());
 * ```
 */
export function unpatchAll(): void {
  unpatchTargets();
  syncEsm();
}
