/**
 * PatchReport: what a patch call did, and the steps every patch call shares (skip what is already
 * patched, record what was replaced, carry the result to ESM named imports).
 */
import type { LateCapture } from './late.js';
import { isTargetPatched, type PatchTarget, syncEsm } from './registry.js';

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

export type Patcher = () => string[];

export function apply(report: PatchReport, target: PatchTarget, patcher: Patcher): void {
  if (isTargetPatched(target)) {
    patcher(); // idempotent: updates settings, replaces nothing twice
    report.alreadyPatched.push(target);
    return;
  }
  report.functions.push(...patcher());
  report.patched.push(target);
}

export function finish(report: PatchReport): PatchReport {
  syncEsm();
  return report;
}

export function single(target: PatchTarget, patcher: Patcher): PatchReport {
  const report = newReport();
  apply(report, target, patcher);
  return finish(report);
}

export function moveToSkipped(report: PatchReport, target: PatchTarget): void {
  report.patched = report.patched.filter((t) => t !== target);
  report.alreadyPatched = report.alreadyPatched.filter((t) => t !== target);
  report.skipped.push(target);
}
