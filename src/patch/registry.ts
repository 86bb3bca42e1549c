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
 *
 * It also keeps the preload's stand-ins ({@link Shell}, placed by deferred.ts before greenhub is
 * loaded): a stand-in calls whatever greenhub has at its property, and this registry is what knows
 * that — {@link replace} and {@link restore} keep each stand-in's `impl` in step.
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

// biome-ignore lint/suspicious/noExplicitAny: a stand-in forwards any signature unchanged
type AnyFn = (this: any, ...args: any[]) => any;

/**
 * A stand-in the preload puts where a patch will go, so that code which copies a function early
 * (`const { readFile } = require('node:fs/promises')`) is not left holding the original once
 * greenhub loads: `fn` calls `impl`, which is what greenhub has at the property — the original until
 * a patch replaces it, the patch's function after, the original again after `unpatchAll()`.
 */
export interface Shell {
  /** The function placed at the property (and copied by early code). */
  readonly fn: AnyFn;
  /** What `fn` calls. */
  impl: AnyFn;
  readonly original: AnyFn;
  /**
   * Someone replaced the stand-in at its property before greenhub loaded (a wrapper of their own
   * that calls it): from then on it calls the original, and the patch wraps their function.
   */
  detached: boolean;
}

const shells = new Map<object, Map<PropertyKey, Shell>>();

function shellAt(object: object, key: PropertyKey): Shell | undefined {
  const shell = shells.get(object)?.get(key);
  return shell === undefined || shell.detached ? undefined : shell;
}

/**
 * A function's own keys a replacement does not take from the original it stands for (it has its
 * own): the rest (`realpath.native`, `util.promisify.custom`…) are carried over (call.ts's
 * `dressAs`, deferred.ts's stand-ins).
 */
export const OWN_KEYS_NOT_CARRIED: ReadonlySet<PropertyKey> = new Set([
  'length',
  'name',
  'prototype',
  'arguments',
  'caller',
]);

/** A builtin module by name (`process.getBuiltinModule` where available). */
export function builtin<T = Record<string, unknown>>(name: string): T {
  return process.getBuiltinModule(name) as T;
}

/**
 * Builtins the preload's deferred patch leaves until the application first asks for them
 * (deferred.ts): loading them costs (`https` brings `tls`, `crypto` and OpenSSL's setup: ~9 ms of
 * CPU on Node 24), and a patch of a module nobody asked for changes nothing anybody calls.
 */
const leftUntilAsked = new Set<string>();

/** @internal deferred.ts: patch these builtins only once the application asks for them. */
export function leaveUntilAsked(names: Iterable<string>): void {
  for (const name of names) leftUntilAsked.add(name);
}

/**
 * @internal A builtin to patch now, or `undefined` when the deferred patch left it until the
 * application asks for it (its target's patch runs again then, see table.ts).
 */
export function patchableBuiltin<T = Record<string, unknown>>(name: string): T | undefined {
  return leftUntilAsked.has(name) ? undefined : builtin<T>(name);
}

/** @internal The application asked for `name`: `true` when it had been left until then. */
export function takeAsked(name: string): boolean {
  return leftUntilAsked.delete(name);
}

/** @internal How many builtins are still left until asked. */
export function builtinsLeft(): number {
  return leftUntilAsked.size;
}

/** @internal After `unpatchAll()` nothing is patched later. */
export function clearLeftUntilAsked(): void {
  leftUntilAsked.clear();
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
  const shell = shellAt(object, key);
  if (shell !== undefined && value !== shell.fn) shell.impl = value as AnyFn;
  return true;
}

/**
 * Put `shell.fn` at `object[key]` (a function) under `target`, recorded like any replacement.
 * Returns `false` when the property is patched already or cannot be redefined.
 */
export function installShell(target: PatchTarget, object: object, key: PropertyKey, shell: Shell): boolean {
  if (!replace(target, object, key, shell.fn)) return false;
  let keys = shells.get(object);
  if (keys === undefined) shells.set(object, (keys = new Map()));
  keys.set(key, shell);
  return true;
}

/**
 * Greenhub is loaded: the stand-ins give way before the real patches go in. One still at its
 * property is taken out (the original goes back, to be wrapped as usual); one someone replaced is
 * left to them and detached (see {@link Shell.detached}). Either way copies of it keep working.
 */
export function retireShells(): void {
  for (const [object, keys] of shells) {
    for (const [key, shell] of keys) {
      const entry = saved.get(object)?.get(key);
      if (entry === undefined || shell.detached) continue;
      if ((object as Record<PropertyKey, unknown>)[key] === shell.fn) {
        restoreEntry(entry);
        continue;
      }
      forget(entry);
      shell.detached = true;
      shell.impl = shell.original;
    }
  }
}

/**
 * Set a property that is already patched to a new replacement, keeping its recorded original: for
 * a module that rebinds its own properties (`dns.setServers()` rebinds every query function).
 */
export function rereplace(object: object, key: PropertyKey, value: unknown): void {
  if (!isReplaced(object, key)) return;
  const descriptor = Object.getOwnPropertyDescriptor(object, key);
  Object.defineProperty(object, key, { ...descriptor, value });
  const shell = shellAt(object, key);
  if (shell !== undefined) shell.impl = value as AnyFn;
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
    restoreEntry(entry);
    restored++;
  }
  if (target === undefined) targets.clear();
  else targets.delete(target);
  return restored;
}

/** Put one recorded property back as it was. */
function restoreEntry(entry: Saved): void {
  const { object, key, descriptor } = entry;
  const shell = shellAt(object, key);
  if (shell !== undefined) shell.impl = originalOf(object, key) as AnyFn;
  if (descriptor === undefined) delete (object as Record<PropertyKey, unknown>)[key];
  else if (descriptor.configurable) Object.defineProperty(object, key, descriptor);
  else (object as Record<PropertyKey, unknown>)[key] = descriptor.value;
  forget(entry);
}

/** Drop the record of one replaced property, leaving the property as it is. */
function forget(entry: Saved): void {
  saved.get(entry.object)!.delete(entry.key);
  journal.splice(journal.indexOf(entry), 1);
}

/** Carry module-object changes to ESM named imports of builtins. */
export function syncEsm(): void {
  module.syncBuiltinESMExports();
}
