/**
 * PatchReport: what a patch call did; every patch call ends by carrying its changes to ESM named
 * imports.
 */
import type { LateCapture } from './late.js';
import { syncEsm } from './registry.js';
import type { PatchTarget } from './table.js';

/**
 * What a patch call did.
 *
 * @example
 * ```ts
 * const { patched, functions, unreachable } = patchAll();
 * console.log(`${patched.length} targets, ${functions.length} functions`);
 * ```
 */
export interface PatchReport {
  /** Targets this call patched. */
  patched: PatchTarget[];
  /** Targets that were patched already: left in place (their options updated). */
  alreadyPatched: PatchTarget[];
  /** Targets turned off by the options, or that do not apply (signal, blocking in a worker thread). */
  skipped: PatchTarget[];
  /** Every function this call replaced, as `module.name` (`fs/promises.readFile`, `globalThis.fetch`). */
  functions: string[];
  /**
   * A late `patchAll()` (not from `greenhub/register`): loaded CommonJS modules that had copied
   * patched functions before the patch, and so keep the originals. Also printed once as a warning.
   */
  unreachable: LateCapture[];
}

export function newReport(): PatchReport {
  return { patched: [], alreadyPatched: [], skipped: [], functions: [], unreachable: [] };
}

export function finish(report: PatchReport): PatchReport {
  syncEsm();
  return report;
}
