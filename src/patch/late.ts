/**
 * Late patching: what `patchAll()` cannot reach when it runs after the application loaded.
 *
 * Patches replace properties of module objects. Code that reads the property at call time
 * (`fs.readFile(…)`, `fsp.readFile(…)` after `import fsp from 'node:fs/promises'`) and ESM named
 * imports of builtins (live bindings, refreshed by `module.syncBuiltinESMExports()`) see the patch
 * whenever it happens. What keeps the original is a *copy* taken before the patch:
 * `const { readFile } = require('fs/promises')`, `const sleep = require('timers/promises').setTimeout`,
 * `const realSetTimeout = globalThis.setTimeout`. ESM code that copies a function into a variable
 * cannot be seen; CommonJS modules can: their sources are in the require cache. This scans them,
 * once, for such copies of the functions that were just patched, so that the warning names them.
 *
 * It is a text scan, bounded (files under 1 MB, the first 5 000 modules): precise for the usual
 * forms above, blind to anything computed.
 */
import type fsModule from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { packageFile } from '../internal/own-files.js';
import { builtin, originalOf } from './registry.js';

/**
 * A module that copied patched core functions before the patch.
 *
 * @example
 * ```ts
 * patchAll().unreachable; // [{ file: 'lib/db.js', module: 'fs/promises', names: ['readFile'] }]
 * ```
 */
export interface LateCapture {
  /** The module's file, relative to the working directory. */
  file: string;
  /** The builtin it copied from (`fs/promises`, `globalThis`…). */
  module: string;
  /** The functions it copied. */
  names: string[];
}

const MAX_MODULES = 5_000;
const MAX_BYTES = 1 << 20;
/** greenhub's own built files (`dist/`). */
const OWN_DIR = packageFile('dist');
const REQUIRE = String.raw`require\(\s*['"](?:node:)?([a-z_/]+)['"]\s*\)(\s*\.\s*promises)?`;
const DESTRUCTURED = new RegExp(String.raw`(?:const|let|var)\s*\{([^}]*)\}\s*=\s*${REQUIRE}`, 'g');
const MEMBER = new RegExp(String.raw`=\s*${REQUIRE}\s*\.\s*([A-Za-z_$][\w$]*)\s*(?![\w$(])`, 'g');
const GLOBAL = /=\s*(?:globalThis|global)\s*\.\s*([A-Za-z_$][\w$]*)\s*[;,\n)]/g;

/** greenhub's own files (not its dependencies). */
function isOwn(file: string): boolean {
  return (
    file.startsWith(OWN_DIR + path.sep) &&
    !file.slice(OWN_DIR.length).includes(`${path.sep}node_modules${path.sep}`)
  );
}

/**
 * Copies, in loaded CommonJS modules, of the functions in `patched` (`module → names`; the global
 * functions under `globalThis`).
 */
export function findLateCaptures(patched: ReadonlyMap<string, ReadonlySet<string>>): LateCapture[] {
  const cache = createRequire(import.meta.url).cache;
  // From the registry, not an ES import: `node:fs`'s ES-module facade reads every export of `fs`
  // (its lazy `promises` among them), some 4 ms on Node 24 when greenhub loads at a first listen.
  const fs = builtin<typeof fsModule>('fs');
  const readFileSync = originalOf(fs, 'readFileSync') as typeof fs.readFileSync;
  const found: LateCapture[] = [];
  let scanned = 0;
  for (const file of Object.keys(cache)) {
    if (scanned++ >= MAX_MODULES) break;
    if (isOwn(file)) continue;
    let source: string;
    try {
      if (fs.statSync(file).size > MAX_BYTES) continue;
      source = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const byModule = new Map<string, Set<string>>();
    const note = (module: string, name: string): void => {
      if (!patched.get(module)?.has(name)) return;
      let names = byModule.get(module);
      if (names === undefined) byModule.set(module, (names = new Set()));
      names.add(name);
    };
    for (const m of source.matchAll(DESTRUCTURED)) {
      const module = m[3] ? `${m[2]}/promises` : m[2]!;
      for (const part of m[1]!.split(',')) {
        const name = part.split(':')[0]!.trim();
        if (name !== '' && !name.startsWith('...')) note(module, name);
      }
    }
    for (const m of source.matchAll(MEMBER)) note(m[2] ? `${m[1]}/promises` : m[1]!, m[3]!);
    for (const m of source.matchAll(GLOBAL)) note('globalThis', m[1]!);
    for (const [module, names] of byModule) {
      found.push({ file: path.relative(process.cwd(), file) || file, module, names: [...names].sort() });
    }
  }
  return found;
}

/** The warning text for `captures`. */
export function lateWarning(captures: readonly LateCapture[]): string {
  const lines = captures.slice(0, 20).map((c) => `  ${c.file}: ${c.names.join(', ')} (${c.module})`);
  if (captures.length > 20) lines.push(`  … and ${captures.length - 20} more`);
  return (
    'patchAll() ran after these modules copied core functions out of their module objects; ' +
    'those copies keep the unpatched originals (not cancellable, not accounted):\n' +
    `${lines.join('\n')}\n` +
    'Patch before the application loads: node --import greenhub/register app.js'
  );
}
