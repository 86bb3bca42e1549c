/**
 * The one registry of originals (gevent's `monkey/_state.py`): patch modules declare what they
 * replace, and the originals live here.
 *
 * Every property a patch replaces goes through {@link replace}, which records the property's
 * original descriptor (or its absence, for a method the patch defines on a prototype that only
 * inherited it) under the target that replaced it. That record is how `getOriginal()` answers, how
 * `isObjectPatched()` knows, how a second `patchAll()` stays idempotent, and how `unpatchAll()`
 * puts every property back exactly as it was, in reverse order.
 *
 * Builtins are patched on their CommonJS module objects; {@link syncEsm} then runs
 * `module.syncBuiltinESMExports()` so that ESM named imports (`import { readFile } from
 * 'node:fs/promises'`, live bindings) see the same functions.
 */
import module from 'node:module';
import type { PatchTarget } from './table.js';

interface Saved {
  readonly object: object;
  readonly key: PropertyKey;
  /** `undefined`: the object had no own property (it inherited or lacked it). */
  readonly descriptor: PropertyDescriptor | undefined;
  readonly target: PatchTarget;
}

const saved = new Map<object, Map<PropertyKey, Saved>>();
/** In patch order, so that restoring walks it backwards. */
const journal: Saved[] = [];
const targets = new Set<PatchTarget>();

/** A builtin module by name (`process.getBuiltinModule` where available). */
export function builtin<T = Record<string, unknown>>(name: string): T {
  return process.getBuiltinModule(name) as T;
}

/**
 * Replace `object[key]` with `value`, recording the original under `target`. Returns `false`
 * (and changes nothing) when the property is already patched or cannot be redefined.
 */
export function replace(target: PatchTarget, object: object, key: PropertyKey, value: unknown): boolean {
  let keys = saved.get(object);
  if (keys?.has(key)) return false;
  const descriptor = Object.getOwnPropertyDescriptor(object, key);
  if (descriptor !== undefined && !descriptor.configurable && !descriptor.writable) return false;
  const next: PropertyDescriptor =
    descriptor === undefined
      ? { value, writable: true, enumerable: false, configurable: true }
      : {
          value,
          writable: descriptor.writable ?? true,
          enumerable: descriptor.enumerable ?? false,
          configurable: descriptor.configurable ?? true,
        };
  if (descriptor !== undefined && !descriptor.configurable)
    (object as Record<PropertyKey, unknown>)[key] = value;
  else Object.defineProperty(object, key, next);
  if (keys === undefined) saved.set(object, (keys = new Map()));
  const entry: Saved = { object, key, descriptor, target };
  keys.set(key, entry);
  journal.push(entry);
  return true;
}

/**
 * Set a property that is already patched to a new replacement, keeping its recorded original: for
 * a module that rebinds its own properties (`dns.setServers()` rebinds every query function).
 */
export function rereplace(object: object, key: PropertyKey, value: unknown): void {
  if (!isReplaced(object, key)) return;
  const descriptor = Object.getOwnPropertyDescriptor(object, key);
  Object.defineProperty(object, key, { ...descriptor, value });
}

/** Mark `target` as patched (also targets that replace no property, such as `thread`). */
export function markPatched(target: PatchTarget): void {
  targets.add(target);
}

export function isTargetPatched(target: PatchTarget): boolean {
  return targets.has(target);
}

/** True when `object[key]` was replaced by a patch. */
export function isReplaced(object: object, key: PropertyKey): boolean {
  return saved.get(object)?.has(key) ?? false;
}

/**
 * The value `object[key]` had before it was patched, or its current value when it is not patched.
 * For a method a patch defined on a prototype that only inherited it, the inherited value.
 */
export function originalOf(object: object, key: PropertyKey): unknown {
  const entry = saved.get(object)?.get(key);
  if (entry === undefined) return (object as Record<PropertyKey, unknown>)[key];
  const descriptor = entry.descriptor;
  if (descriptor === undefined) {
    const parent = Object.getPrototypeOf(object) as object | null;
    return parent === null ? undefined : (parent as Record<PropertyKey, unknown>)[key];
  }
  return descriptor.get !== undefined ? descriptor.get.call(object) : descriptor.value;
}

/** Put back every property `target` replaced (all targets when `undefined`), newest first. */
export function restore(target?: PatchTarget): number {
  let restored = 0;
  for (let i = journal.length - 1; i >= 0; i--) {
    const entry = journal[i]!;
    if (target !== undefined && entry.target !== target) continue;
    const { object, key, descriptor } = entry;
    if (descriptor === undefined) delete (object as Record<PropertyKey, unknown>)[key];
    else if (descriptor.configurable) Object.defineProperty(object, key, descriptor);
    else (object as Record<PropertyKey, unknown>)[key] = descriptor.value;
    saved.get(object)!.delete(key);
    journal.splice(i, 1);
    restored++;
  }
  if (target === undefined) targets.clear();
  else targets.delete(target);
  return restored;
}

/** Carry module-object changes to ESM named imports of builtins. */
export function syncEsm(): void {
  module.syncBuiltinESMExports();
}
