/**
 * The preload's light half: `greenhub/register` with the default settings patches everything, but
 * loads greenhub only once something uses it ("load what is used, when used").
 *
 * At start-up it loads this module, the registry and the lists of what the patches replace — not
 * greenhub's sixty-odd modules, which were most of the preload's start-up cost — and puts a
 * stand-in (registry.ts's `Shell`) at every module function and global a patch replaces, so that
 * code which copies one early (`const { readFile } = require('node:fs/promises')`) still reaches
 * the patch later. Until greenhub loads, a stand-in calls the original, which is exactly what the
 * patch would do: no greenlet can exist before greenhub is loaded, and outside a greenlet a patched
 * function is the original (call.ts). Prototype methods get no stand-in: code reaches them through
 * instances, after the patch. The builtins that cost to load (http, https, dns, child_process,
 * crypto, zlib: some 11 ms on Node 20, OpenSSL on Node 24) are not loaded for this: their stand-ins
 * go in when the application first asks for the module (module.registerHooks where Node has it,
 * else `require()`); where `import` can be watched, `node:net` (for the listen trigger) and
 * `stream/promises` wait too. What is taken with `process.getBuiltinModule()` is not seen: a
 * server made that way under Node ≥ 22.15 loads greenhub only when something else does.
 *
 * Greenhub loads, the stand-ins give way (registry.ts's `retireShells`), and `patchAll()` runs as
 * the preload would have run it — except that at a server's first listen, where `import` can be
 * watched, https, crypto and zlib (https alone brings tls, crypto and OpenSSL's setup: ~9 ms of CPU
 * on Node 24) are patched only once the application asks for them, if it had not yet — when:
 * - the application imports greenhub (every entry point calls {@link activateDeferredPatches});
 * - a server starts listening: its requests run in greenlets, and shutdown on signals tracks it;
 * - a shutdown signal arrives: the shutdown runs as it would have;
 * - a synchronous call blocks longer than the blocking limit: it is reported as the blocking patch
 *   reports it (the stand-ins of the `*Sync` functions time the call, as the patch does).
 *
 * With `GREENHUB_PATCH` set, the preload patches at once instead (register.ts): its settings are
 * checked before the application starts, which a deferred patch could not do.
 */
import module from 'node:module';
import { packageFile } from '../internal/own-files.js';
import {
  builtin,
  builtinsLeft,
  installShell,
  leaveUntilAsked,
  OWN_KEYS_NOT_CARRIED,
  retireShells,
  type Shell,
  syncEsm,
} from './registry.js';
import { BLOCKING_DEFAULTS, SHUTDOWN_SIGNALS, SIGNAL_FUNCTIONS, TARGET_SURFACES } from './surface.js';
import type { PatchTarget } from './table.js';

type AnyFn = Shell['fn'];

/** `module.registerHooks` (Node ≥ 22.15), as far as this module uses it. */
type RegisterHooks = (hooks: {
  resolve(
    specifier: string,
    context: unknown,
    nextResolve: (specifier: string, context: unknown) => { url: string },
  ): { url: string };
}) => { deregister(): void };

/** `module.registerHooks`, where Node has it (≥ 22.15): it sees `import` and `require()` alike. */
const registerHooks = (module as unknown as { registerHooks?: RegisterHooks }).registerHooks;

/**
 * Builtins the preload does not load: each gets its stand-ins when the application first asks for
 * it. Where only `require()` can be watched (Node 20), `stream/promises` is loaded at once: an ES
 * module's `import stream from 'node:stream'; const { pipeline } = stream.promises` would not be
 * seen.
 */
const LOADED_WHEN_ASKED = new Set([
  'http',
  'https',
  'dns',
  'dns/promises',
  'child_process',
  'crypto',
  'zlib',
  ...(registerHooks === undefined ? [] : ['stream/promises']),
]);

/**
 * Where servers come from: the listen trigger goes on `net.Server.prototype` once one of these is
 * asked for (where `import` can be watched; else at once: `node:net` loads streams, 2.3 MB).
 */
const SERVER_MODULES = ['net', 'http', 'https', 'tls', 'http2'];

let deferred = false;
/**
 * What waits for a builtin to be asked for, by family: `dns` and `dns/promises` are one
 * (`require('node:dns').promises` is `node:dns/promises`, reached without asking for it).
 */
const waiting = new Map<string, (() => void)[]>();
let stopWatching: (() => void) | null = null;

function whenAsked(name: string, place: () => void): void {
  const family = familyOf(name);
  let list = waiting.get(family);
  if (list === undefined) waiting.set(family, (list = []));
  list.push(place);
}

/**
 * `require()` of one of greenhub's own built ES modules (`dist/patch/patch-all.js`) without the
 * "loading ES Module using require()" ExperimentalWarning that Node 22.12 prints (later versions
 * print none): a warning plain Node would not print.
 */
function requireQuietly<T>(file: string): T {
  const emitWarning = process.emitWarning;
  process.emitWarning = function emitOtherWarnings(
    this: unknown,
    warning: unknown,
    ...rest: unknown[]
  ): void {
    if (rest[0] === 'ExperimentalWarning' && String(warning).includes('using require()')) return;
    Reflect.apply(emitWarning, this, [warning, ...rest]);
  } as typeof process.emitWarning;
  try {
    return module.createRequire(import.meta.url)(packageFile(file)) as T;
  } finally {
    process.emitWarning = emitWarning;
  }
}

/** Put the stand-ins in and the triggers that load greenhub (see the module comment). */
export function deferPatchAll(): void {
  deferred = true;
  for (const [target, surface] of Object.entries(TARGET_SURFACES) as [
    PatchTarget,
    Record<string, readonly string[]>,
  ][]) {
    for (const [where, names] of Object.entries(surface)) {
      if (LOADED_WHEN_ASKED.has(where)) whenAsked(where, () => placeShells(target, where, names));
      else placeShells(target, where, names);
    }
  }
  if (registerHooks === undefined) placeListenTrigger();
  else for (const name of SERVER_MODULES) whenAsked(name, placeListenTrigger);
  stopWatching = watchBuiltins(askedFor);
  for (const signal of SHUTDOWN_SIGNALS) process.on(signal, onSignalBeforeLoad);
  syncEsm();
}

/**
 * Load greenhub and patch, if the preload deferred it and nothing has loaded it yet: every entry
 * point of greenhub calls this once its modules are loaded. Otherwise it does nothing.
 *
 * `atListen`: a server's first listen loads it. Then, where `import` can be watched too, the
 * builtins that cost to load (https, crypto, zlib) and that the application has not asked for yet
 * are patched when it does: the resolve hook stays until then, some µs more per `require()` or
 * `import`, and by a server's first listen the application has made nearly all of those it makes.
 * Loaded earlier (an entry point imported at start-up, `greenhub run`), or where only `require()`
 * can be watched (Node 20: an ES import would go unseen), everything is patched now.
 */
export function activateDeferredPatches(atListen = false): void {
  if (!deferred) return;
  deferred = false;
  stopWatching?.();
  stopWatching = null;
  const unasked = !atListen || registerHooks === undefined ? new Set<string>() : new Set(waiting.keys());
  waiting.clear();
  for (const signal of SHUTDOWN_SIGNALS) process.removeListener(signal, onSignalBeforeLoad);
  retireShells();
  const patches = requireQuietly<typeof import('./patch-all.js')>('dist/patch/patch-all.js');
  const later = patches.BUILTINS_PATCHED_WHEN_ASKED.filter((name) => unasked.has(familyOf(name)));
  leaveUntilAsked(later);
  patches.patchAllFrom(undefined, true);
  if (later.length !== 0) stopWatching = watchBuiltins((name) => patchWhenAsked(patches, name));
}

/** The application asks for builtin `name`: patch it now if it was left until then. */
function patchWhenAsked(patches: typeof import('./patch-all.js'), name: string): void {
  if (patches.patchAskedBuiltin(name).length !== 0) syncEsm();
  if (builtinsLeft() === 0) {
    stopWatching?.();
    stopWatching = null;
  }
}

/** Where the functions of a `*_FUNCTIONS` key live; `undefined` for a prototype. */
function hostOf(where: string): object | undefined {
  if (where === 'global') return globalThis;
  if (where === 'Atomics') return Atomics;
  return module.isBuiltin(where) ? builtin(where) : undefined;
}

/** The stand-ins of one `*_FUNCTIONS` entry; none for a prototype's. */
function placeShells(target: PatchTarget, where: string, names: readonly string[]): void {
  const host = hostOf(where) as Record<string, unknown> | undefined;
  if (host === undefined) return;
  for (const name of names) {
    const original = host[name];
    if (typeof original !== 'function') continue;
    const api = where === 'global' ? name : `${where}.${name}`;
    installShell(
      target,
      host,
      name,
      target === 'blocking' ? timedShell(api, original as AnyFn) : forwardingShell(original as AnyFn),
    );
  }
}

/** `dns` for `dns/promises`. */
function familyOf(name: string): string {
  const slash = name.indexOf('/');
  return slash === -1 ? name : name.slice(0, slash);
}

let listenTriggerPlaced = false;

/** A server about to listen loads greenhub first. */
function placeListenTrigger(): void {
  if (listenTriggerPlaced) return;
  listenTriggerPlaced = true;
  const listen = builtin<{ Server: { prototype: object } }>('net').Server.prototype;
  for (const name of SIGNAL_FUNCTIONS['net.Server.prototype'])
    installShell('signal', listen, name, activatingShell((listen as Record<string, AnyFn>)[name]!));
}

function askedFor(name: string): void {
  const family = familyOf(name);
  const list = waiting.get(family);
  if (list === undefined) return;
  waiting.delete(family);
  for (const place of list) place();
  syncEsm();
  if (waiting.size === 0) {
    stopWatching?.();
    stopWatching = null;
  }
}

/**
 * Call `asked` with the name of each builtin the application asks for (without `node:`), before
 * it gets it. Returns the function that stops watching.
 */
function watchBuiltins(asked: (name: string) => void): () => void {
  // Node ≥ 22.15: one synchronous resolve hook sees `import` and `require()` alike.
  if (registerHooks !== undefined) {
    const hooks = registerHooks({
      resolve(specifier, context, nextResolve) {
        const resolved = nextResolve(specifier, context);
        if (resolved.url.startsWith('node:')) asked(resolved.url.slice(5));
        return resolved;
      },
    });
    return () => hooks.deregister();
  }
  // Node 20: `require()` only. An ES module's `import … from 'node:http'` binds live to the module's
  // exports, which the patch updates (registry.ts's syncEsm); only `const { request } = http` after a
  // default import would keep the original.
  type Load = (this: unknown, request: unknown, ...rest: unknown[]) => unknown;
  const loader = module as unknown as { _load: Load };
  const load = loader._load;
  const hooked: Load = function _load(request) {
    // biome-ignore lint/complexity/noArguments: forwards the loader's exact arguments
    const exports = Reflect.apply(load, this, arguments);
    if (typeof request === 'string') asked(request.startsWith('node:') ? request.slice(5) : request);
    return exports;
  };
  loader._load = hooked;
  return () => {
    // Another hook placed on top of this one keeps calling it; it then forwards only.
    if (loader._load === hooked) loader._load = load;
  };
}

/**
 * A stand-in for `original` whose function `make` builds (it calls `shell.impl`), looking like
 * `original` (name, length) and with `original`'s own properties (`util.promisify.custom`,
 * `realpath.native`) as accessors of `shell.impl`'s, so that after the patch they are the patch's.
 */
function standIn(original: AnyFn, make: (shell: Shell) => AnyFn): Shell {
  const shell: { -readonly [K in keyof Shell]: Shell[K] } = {
    fn: original,
    impl: original,
    original,
    detached: false,
  };
  const fn = (shell.fn = make(shell));
  Object.defineProperty(fn, 'name', { value: original.name, configurable: true });
  Object.defineProperty(fn, 'length', { value: original.length, configurable: true });
  for (const key of Reflect.ownKeys(original)) {
    if (OWN_KEYS_NOT_CARRIED.has(key)) continue;
    Object.defineProperty(fn, key, {
      get: () => (shell.impl as unknown as Record<PropertyKey, unknown>)[key],
      set: (value: unknown) => {
        (shell.impl as unknown as Record<PropertyKey, unknown>)[key] = value;
      },
      enumerable: Object.getOwnPropertyDescriptor(original, key)!.enumerable ?? false,
      configurable: true,
    });
  }
  return shell;
}

function forwardingShell(original: AnyFn): Shell {
  return standIn(
    original,
    (shell) =>
      function standIn(this: unknown): unknown {
        // biome-ignore lint/complexity/noArguments: forwards the exact arguments without copying them
        return Reflect.apply(shell.impl, this, arguments);
      },
  );
}

/** Loads greenhub first: a server about to listen. */
function activatingShell(original: AnyFn): Shell {
  return standIn(
    original,
    (shell) =>
      function standIn(this: unknown): unknown {
        activateDeferredPatches(true);
        // biome-ignore lint/complexity/noArguments: as above
        return Reflect.apply(shell.impl, this, arguments);
      },
  );
}

/** Timed calls in progress: `readFileSync` calls `openSync`, and only the outer call is timed. */
let depth = 0;

/** A `*Sync` function's: times the call as the blocking patch would (blocking.ts). */
function timedShell(api: string, original: AnyFn): Shell {
  return standIn(
    original,
    (shell) =>
      function standIn(this: unknown): unknown {
        // Once greenhub is loaded, `impl` is the blocking patch's own timed function.
        // biome-ignore lint/complexity/noArguments: as above
        if (!deferred || depth !== 0) return Reflect.apply(shell.impl, this, arguments);
        const start = process.hrtime();
        depth++;
        try {
          // biome-ignore lint/complexity/noArguments: as above
          return Reflect.apply(shell.impl, this, arguments);
        } finally {
          depth--;
          const [s, ns] = process.hrtime(start);
          const ms = s * 1e3 + ns / 1e6;
          if (ms > BLOCKING_DEFAULTS.maxBlockingTime) blockedBeforeLoad(api, ms, shell.fn);
        }
      },
  );
}

function blockedBeforeLoad(api: string, ms: number, site: AnyFn): void {
  activateDeferredPatches();
  requireQuietly<typeof import('./blocking.js')>('dist/patch/blocking.js').reportSlowCall(api, ms, site);
}

function onSignalBeforeLoad(signal: NodeJS.Signals): void {
  activateDeferredPatches();
  requireQuietly<typeof import('./signal.js')>('dist/patch/signal.js').onSignal(signal);
}
