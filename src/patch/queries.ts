/**
 * Questions to the registry of originals: is a module, or one property, patched, and what was
 * there before.
 */
import { checkString, rangeError, typeError } from '../internal/validate.js';
import { builtin, isReplaced, isTargetPatched, originalOf } from './registry.js';
import { MODULE_TARGETS } from './table.js';

/**
 * Whether a module (a builtin name, with or without `node:`) or a target (`fetch`, `signal`,
 * `thread`, `blocking`, `childProcess`) is patched. Unknown names are not patched.
 *
 * @example
 * ```ts
 * isModulePatched('node:fs/promises'); // true after patchAll()
 * ```
 */
export function isModulePatched(name: string): boolean {
  checkString('isModulePatched()', 'name', name);
  const target = MODULE_TARGETS.get(name.startsWith('node:') ? name.slice(5) : name);
  return target !== undefined && isTargetPatched(target);
}

function resolveModule(where: string, module: unknown): object {
  if (typeof module === 'string') {
    if (module === 'globalThis') return globalThis;
    const name = module.startsWith('node:') ? module.slice(5) : module;
    const object = builtin(name) as object | undefined;
    if (object === undefined) throw rangeError(where, 'module', 'a builtin module name or an object', module);
    return object;
  }
  if ((typeof module !== 'object' && typeof module !== 'function') || module === null)
    throw typeError(where, 'module', 'a builtin module name or an object', module);
  return module;
}

function checkKey(where: string, attr: unknown): PropertyKey {
  if (typeof attr !== 'string' && typeof attr !== 'symbol')
    throw typeError(where, 'attr', 'a property name (string or symbol)', attr);
  return attr;
}

/**
 * Whether `module[attr]` was replaced by a patch. `module` is an object (`fs`, `http.Server.prototype`,
 * `globalThis`) or a builtin name.
 *
 * @example
 * ```ts
 * isObjectPatched('fs/promises', 'readFile'); // true after patchFs()
 * ```
 */
export function isObjectPatched(module: string | object, attr: string | symbol): boolean {
  return isReplaced(resolveModule('isObjectPatched()', module), checkKey('isObjectPatched()', attr));
}

/**
 * The original of a patched property (its current value when not patched): code that must bypass
 * the patch, like gevent's `get_original`.
 *
 * @example
 * ```ts
 * const realSetTimeout = getOriginal('timers', 'setTimeout') as typeof setTimeout;
 * ```
 */
export function getOriginal(module: string | object, attr: string | symbol): unknown {
  return originalOf(resolveModule('getOriginal()', module), checkKey('getOriginal()', attr));
}
