/**
 * The one table of patch targets. Everything that lists the targets derives from it: the
 * `PatchTarget` names, the option type of `patchAll()`, the one-target functions (`patchTimers()`,
 * `patchHttp(opts)`…, see targets.ts), `patchAll()`'s order and its checks, `unpatchAll()`,
 * `isModulePatched()`'s module names, and `GREENHUB_PATCH`'s list-valued settings (env.ts).
 *
 * The main-thread rule lives here too, once: a `mainThreadOnly` target (signal handlers, timing of
 * blocking calls) is skipped in a worker thread — reported as skipped and not marked patched —
 * whether `patchAll()` or its own function was called.
 */
import { isMainThread } from 'node:worker_threads';
import { checkDelay, checkOptions, rangeError, typeError } from '../internal/validate.js';
import { type BlockingMode, configureBlocking, patchBlocking as patchBlockingCalls } from './blocking.js';
import { patchChildProcess } from './child-process.js';
import { patchDns, rebindDns } from './dns.js';
import { patchEvents } from './events.js';
import { patchFetch } from './fetch.js';
import { patchFs } from './fs.js';
import { patchHttpClient } from './http.js';
import {
  checkHttpServerOptions,
  configureHttpServer,
  type HttpServerOptions,
  patchHttpServer,
  resetHttpServer,
} from './http-server.js';
import { patchNet } from './net.js';
import { clearLeftUntilAsked, isTargetPatched, markPatched, restore, takeAsked } from './registry.js';
import type { PatchReport } from './report.js';
import { checkSignalOptions, installSignal, type SignalOptions, unpatchSignal } from './signal.js';
import { patchStream } from './stream.js';
import { BLOCKING_DEFAULTS } from './surface.js';
import { patchThread, unpatchThread } from './thread.js';
import { patchTimers } from './timers.js';

/**
 * One target: how its option is checked, how it patches and unpatches.
 *
 * `Arg` is the argument of its one-target function (`patchHttp(opts)`), `Settings` the checked form
 * of it, `Option` the type of its `patchAll()` option.
 */
interface Target<Arg, Settings, Option> {
  /** Builtin modules (without `node:`) and other names `isModulePatched()` answers for. */
  readonly modules: readonly string[];
  /** Skipped in worker threads. */
  readonly mainThreadOnly?: true;
  /**
   * Check the one-target function's argument; `name` is how messages call it (`opts`, `opts.http`).
   * A target without it takes no options: its `patchAll()` option is a boolean.
   */
  readonly check?: (where: string, name: string, arg: Arg | undefined) => Settings;
  /** From `patchAll()`'s options, checked: `false` (off), or the argument for {@link check}. */
  readonly fromOptions?: (where: string, opts: Readonly<Record<string, unknown>>) => Arg | undefined | false;
  /** Patch (or, when patched already, update the settings; idempotent). Returns what it replaced. */
  readonly patch: (settings: Settings) => string[];
  /** Undo what `patch` did besides replacing properties (those are restored after it). */
  readonly unpatch?: () => void;
  /** Phantom: the type of the `patchAll()` option. */
  readonly option?: Option;
}

function target<Arg = undefined, Settings = undefined, Option = boolean>(
  spec: Target<Arg, Settings, Option>,
): Target<Arg, Settings, Option> {
  return spec;
}

const BLOCKING_MODES: readonly (BlockingMode | false)[] = ['warn', 'count', 'throw', false];

export function checkBlockingMode(where: string, name: string, mode: unknown): BlockingMode | false {
  if (!BLOCKING_MODES.includes(mode as BlockingMode | false))
    throw (typeof mode === 'string' || typeof mode === 'boolean' ? rangeError : typeError)(
      where,
      name,
      "'warn', 'count', 'throw' or false",
      mode,
    );
  return mode as BlockingMode | false;
}

/**
 * Options of `patchBlocking(opts)`.
 *
 * @example
 * ```ts
 * const opts: BlockingOptions = { mode: 'throw', maxBlockingTime: 50 };
 * patchBlocking(opts);
 * ```
 */
export interface BlockingOptions {
  /** `'warn'` (default), `'count'` or `'throw'`. */
  mode?: BlockingMode;
  /** The limit, in ms (default 100). */
  maxBlockingTime?: number;
}

/**
 * The targets, in the order `patchAll()` patches them. Each entry's comment is its `patchAll()`
 * option's documentation.
 */
const TARGETS = {
  /** `setTimeout`/`setInterval` and `timers/promises`. */
  timers: target({ modules: ['timers', 'timers/promises'], patch: patchTimers }),
  /** The global `fetch` and reading its response bodies. */
  fetch: target({ modules: ['fetch'], patch: patchFetch }),
  /** Socket connection (`net`, `tls`). */
  net: target({ modules: ['net', 'tls'], patch: patchNet }),
  /** `http`/`https` clients, and servers (a greenlet per request); an object sets server options. */
  http: target<HttpServerOptions, ReturnType<typeof checkHttpServerOptions>, boolean | HttpServerOptions>({
    modules: ['http', 'https'],
    check: checkHttpServerOptions,
    patch: (settings) => {
      configureHttpServer(settings);
      return [...patchHttpClient(), ...patchHttpServer()];
    },
    unpatch: resetHttpServer,
  }),
  /** `dns` and `dns/promises` queries. */
  dns: target({ modules: ['dns', 'dns/promises'], patch: patchDns, unpatch: rebindDns }),
  /** Path-level `fs` and `fs/promises` functions. */
  fs: target({ modules: ['fs', 'fs/promises'], patch: patchFs }),
  /** `spawn`, `fork`, `exec`, `execFile`. */
  childProcess: target({
    modules: ['child_process', 'childProcess'],
    patch: patchChildProcess,
  }),
  /** `events.once`, `events.on`. */
  events: target({ modules: ['events'], patch: patchEvents }),
  /** `stream/promises` `pipeline`, `finished`. */
  stream: target({ modules: ['stream', 'stream/promises'], patch: patchStream }),
  /** Graceful shutdown on SIGTERM/SIGINT; an object sets its timings. Main thread only. */
  signal: target<SignalOptions, ReturnType<typeof checkSignalOptions>, boolean | SignalOptions>({
    modules: ['signal'],
    mainThreadOnly: true,
    check: checkSignalOptions,
    patch: installSignal,
    unpatch: unpatchSignal,
  }),
  /** `Thread`s run as greenlets (default) or, with `false`, as real worker threads. */
  thread: target({ modules: ['thread'], patch: patchThread, unpatch: unpatchThread }),
  /**
   * Time synchronous calls: report slow ones (`'warn'`, default), count them, throw, or `false`.
   * Main thread only.
   */
  blocking: target<BlockingOptions, Required<BlockingOptions>, BlockingMode | false>({
    modules: ['blocking'],
    mainThreadOnly: true,
    check: (where, name, opts) => {
      checkOptions(where, name, opts, ['mode', 'maxBlockingTime']);
      const mode =
        opts?.mode === undefined
          ? BLOCKING_DEFAULTS.mode
          : checkBlockingMode(where, `${name}.mode`, opts.mode);
      if (mode === false) throw rangeError(where, `${name}.mode`, "'warn', 'count' or 'throw'", mode);
      const maxBlockingTime =
        opts?.maxBlockingTime === undefined
          ? BLOCKING_DEFAULTS.maxBlockingTime
          : checkDelay(where, `${name}.maxBlockingTime`, opts.maxBlockingTime);
      return { mode, maxBlockingTime };
    },
    // patchAll() spells them `blocking: mode` and `maxBlockingTime`.
    fromOptions: (where, opts) => {
      const mode =
        opts.blocking === undefined ? undefined : checkBlockingMode(where, 'opts.blocking', opts.blocking);
      const maxBlockingTime =
        opts.maxBlockingTime === undefined
          ? undefined
          : checkDelay(where, 'opts.maxBlockingTime', opts.maxBlockingTime);
      return mode === false ? false : { mode, maxBlockingTime };
    },
    patch: ({ mode, maxBlockingTime }) => {
      configureBlocking(mode, maxBlockingTime);
      return patchBlockingCalls();
    },
    unpatch: () => configureBlocking(BLOCKING_DEFAULTS.mode, BLOCKING_DEFAULTS.maxBlockingTime),
  }),
};

type Targets = typeof TARGETS;

/**
 * The patchable targets, one `patchX()` each.
 *
 * @example
 * ```ts
 * const targets: PatchTarget[] = patchAll().patched; // ['timers', 'fetch', …]
 * ```
 */
export type PatchTarget = keyof Targets;

/** The argument of a target's one-target function. */
export type TargetArg<T extends PatchTarget> =
  Targets[T] extends Target<infer Arg, infer _Settings, infer _Option> ? Arg : never;

/**
 * Options of {@link patchAll}: each target on (the default) or off, plus its settings.
 *
 * @example
 * ```ts
 * const opts: PatchOptions = { signal: false, http: { maxConcurrency: 64 }, blocking: 'throw' };
 * patchAll(opts);
 * ```
 */
export type PatchOptions = {
  -readonly [T in keyof Targets]?: Targets[T] extends Target<infer _Arg, infer _Settings, infer Option>
    ? Option
    : never;
} & {
  /** The limit for blocking calls, in ms (default 100). */
  maxBlockingTime?: number;
};

export const PATCH_TARGETS = Object.keys(TARGETS) as PatchTarget[];

/** Every key `patchAll()` accepts. */
export const PATCH_OPTIONS: readonly string[] = [...PATCH_TARGETS, 'maxBlockingTime'];

/** `isModulePatched()`'s names (a builtin without `node:`, or a target) → the target. */
export const MODULE_TARGETS: ReadonlyMap<string, PatchTarget> = new Map(
  PATCH_TARGETS.flatMap((t) => [t, ...TARGETS[t].modules].map((name) => [name, t] as const)),
);

/** The settings a target takes from `patchAll()`'s options, checked; `false` when it is off. */
export function settingsFromOptions(where: string, t: PatchTarget, opts: PatchOptions): unknown {
  const spec = TARGETS[t] as Target<unknown, unknown, unknown>;
  let arg: unknown;
  if (spec.fromOptions !== undefined) arg = spec.fromOptions(where, opts as Record<string, unknown>);
  else {
    const value: unknown = opts[t];
    const objectOk = takesOptions(t);
    if (
      value !== undefined &&
      typeof value !== 'boolean' &&
      !(objectOk && typeof value === 'object' && value !== null)
    )
      throw typeError(where, `opts.${t}`, objectOk ? 'a boolean or an options object' : 'a boolean', value);
    arg = value === false ? false : typeof value === 'object' ? value : undefined;
  }
  return arg === false ? false : spec.check?.(where, `opts.${t}`, arg);
}

/** Whether the one-target function of `t` takes options. */
export function takesOptions(t: PatchTarget): boolean {
  return TARGETS[t].check !== undefined;
}

/** Check a one-target function's argument. */
export function checkTargetArg(where: string, t: PatchTarget, arg: unknown): unknown {
  return (TARGETS[t] as Target<unknown, unknown, unknown>).check?.(where, 'opts', arg);
}

/** The settings each patched target was last patched with. */
const settingsOf = new Map<PatchTarget, unknown>();

/** Patch `t` with checked settings, recording the outcome in `report`. */
export function patchTarget(report: PatchReport, t: PatchTarget, settings: unknown): void {
  const spec = TARGETS[t] as Target<unknown, unknown, unknown>;
  if (spec.mainThreadOnly && !isMainThread) {
    report.skipped.push(t);
    return;
  }
  const already = isTargetPatched(t);
  const functions = spec.patch(settings); // idempotent: when patched already, updates settings only
  markPatched(t);
  settingsOf.set(t, settings);
  if (already) report.alreadyPatched.push(t);
  else {
    report.functions.push(...functions);
    report.patched.push(t);
  }
}

/**
 * The targets that patch a builtin the preload's deferred patch may leave until the application
 * asks for it (deferred.ts; registry.ts's `patchableBuiltin`).
 */
const PATCHED_WHEN_ASKED: Readonly<Record<string, readonly PatchTarget[]>> = {
  https: ['http'],
  crypto: ['blocking'],
  zlib: ['blocking'],
};

/** The builtins the deferred patch may leave until asked. */
export const BUILTINS_PATCHED_WHEN_ASKED: readonly string[] = Object.keys(PATCHED_WHEN_ASKED);

/**
 * The application asked for builtin `name`: if the deferred patch left it, the targets
 * that patch it (those still patched) run again with their settings, which patches it now (their
 * patches are idempotent: what they replaced already stays). Returns what it replaced.
 */
export function patchAskedBuiltin(name: string): string[] {
  if (!takeAsked(name)) return [];
  const done: string[] = [];
  for (const t of PATCHED_WHEN_ASKED[name] ?? []) {
    if (isTargetPatched(t))
      done.push(...(TARGETS[t] as Target<unknown, unknown, unknown>).patch(settingsOf.get(t)));
  }
  return done;
}

/**
 * @internal An explicit patch call (`patchAll()`, `patchHttp()`…) patches `t` whole, now: the
 * builtins the deferred patch left for it are not left any more.
 */
export function leaveNothingFor(t: PatchTarget): void {
  for (const [name, patchedBy] of Object.entries(PATCHED_WHEN_ASKED))
    if (patchedBy.includes(t)) takeAsked(name);
}

/** Undo every patched target, the last patched first. */
export function unpatchTargets(): void {
  clearLeftUntilAsked();
  settingsOf.clear();
  for (const t of [...PATCH_TARGETS].reverse()) {
    if (!isTargetPatched(t)) continue;
    restore(t);
    TARGETS[t].unpatch?.();
  }
}
