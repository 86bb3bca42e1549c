/**
 * `patchBlocking()`: synchronous calls that stall the hub are timed — `fs.*Sync`,
 * `child_process.*Sync`, crypto `*Sync` (pbkdf2, scrypt, hkdf, key and prime generation,
 * `randomFillSync`), `zlib.*Sync`, and `Atomics.wait` on the main thread.
 *
 * A call longer than `maxBlockingTime` (default 100 ms) is counted per API ({@link blockingStats},
 * for metrics), passed to {@link onBlockingCall} listeners, and, by mode:
 * - `'warn'`: one line on stderr per call site, naming the API, the duration, the greenlet (an
 *   http request's greenlet is named after its route) and the site;
 * - `'count'`: nothing printed;
 * - `'throw'` (for test suites): the next call from that site is refused with
 *   `BlockingCallError` before it blocks again (the slow call itself already ran; its result is
 *   returned, since its side effects happened).
 *
 * Slow calls are counted in the hub's blocking totals too (`getHub().stats()`, and in metrics
 * `greenhub_hub_blocked_seconds_total{api, name}` and `greenhub_hub_blocking_events_total`), once per
 * block: while a blocking monitor runs it is the one that counts, since it sees every block past
 * its own `maxBlockingTime` while the block lasts and attributes it to the API this patch names
 * (`setBlockingApi`); while none runs (`greenhub run` and the demo start none), this patch counts
 * its own detections. Counting in both would count one block twice; counting only in the monitor
 * left `/metrics` at zero under the preload.
 *
 * Cost below the threshold: two `performance.now()` reads, the API naming and a comparison; a site is
 * computed (a one-frame stack trace) only for slow calls, and for every call while a site is
 * waiting to be refused.
 *
 * Only the main thread is patched: a worker thread exists to block.
 */

import { BlockingCallError } from '../errors.js';
import { countBlock, currentGreenlet, formatMs, metricName } from '../greenlet/internal.js';
import { getBlockingMonitor, setBlockingApi } from '../greenlet/monitor.js';
import { now } from '../internal/natives.js';
import { checkFunction } from '../internal/validate.js';
import { dressAs, type Fn, wrapFunctions } from './call.js';
import { patchableBuiltin, replace } from './registry.js';
import { BLOCKING_DEFAULTS, BLOCKING_FUNCTIONS } from './surface.js';

/**
 * What happens to a call that blocked longer than `maxBlockingTime`.
 *
 * @example
 * ```ts
 * patchAll({ blocking: process.env.CI ? 'throw' : 'warn' });
 * ```
 */
export type BlockingMode = 'warn' | 'count' | 'throw';

/**
 * One slow synchronous call, as given to {@link onBlockingCall} listeners.
 *
 * @example
 * ```ts
 * onBlockingCall((r: BlockingReport) => console.log(`${r.api} ${r.durationMs} ms in ${r.greenlet} at ${r.site}`));
 * ```
 */
export interface BlockingReport {
  /** `fs.readFileSync`, `child_process.execSync`, `Atomics.wait`… */
  api: string;
  durationMs: number;
  limitMs: number;
  /** The greenlet that was running (`"GET /report" (Greenlet-3)`), or `null` in top-level code. */
  greenlet: string | null;
  /** The caller: `function (file:line:column)`. */
  site: string;
}

/**
 * Counters of slow calls (a snapshot; metrics read it at scrape time).
 *
 * @example
 * ```ts
 * const { byApi } = blockingStats(); // { 'fs.readFileSync': { events: 2, seconds: 0.31 } }
 * ```
 */
export interface BlockingStats {
  /** Slow calls in total. */
  events: number;
  /** Time spent in them, in seconds. */
  seconds: number;
  byApi: Record<string, { events: number; seconds: number }>;
}

let mode: BlockingMode = BLOCKING_DEFAULTS.mode;
let limitMs: number = BLOCKING_DEFAULTS.maxBlockingTime;
const warned = new Set<string>();
/** `'throw'` mode: sites whose next call is refused. */
const refused = new Map<string, BlockingReport>();
const listeners = new Set<(report: BlockingReport) => void>();
const byApi = new Map<string, { events: number; seconds: number }>();
let events = 0;
let seconds = 0;

/** Set the mode and threshold (later calls replace earlier ones). */
export function configureBlocking(newMode: BlockingMode, maxBlockingTimeMs: number): void {
  mode = newMode;
  limitMs = maxBlockingTimeMs;
  if (mode !== 'throw') refused.clear();
}

/**
 * Counters of slow synchronous calls since the patch, by API.
 *
 * @example
 * ```ts
 * import { blockingStats } from 'greenhub/patch';
 * const { events, byApi } = blockingStats();
 * ```
 */
export function blockingStats(): BlockingStats {
  return {
    events,
    seconds,
    byApi: Object.fromEntries([...byApi].map(([api, c]) => [api, { events: c.events, seconds: c.seconds }])),
  };
}

/**
 * Call `listener` with every slow synchronous call (whatever the mode). Returns the function that
 * removes it.
 *
 * @example
 * ```ts
 * import { onBlockingCall } from 'greenhub/patch';
 * onBlockingCall((r) => logger.warn({ api: r.api, ms: r.durationMs, greenlet: r.greenlet }, 'hub blocked'));
 * ```
 */
export function onBlockingCall(listener: (report: BlockingReport) => void): () => void {
  checkFunction('onBlockingCall()', 'listener', listener);
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}

/** The frame that called `wrapper`: `fn (file:line:col)`. */
function siteOf(wrapper: Fn): string {
  const holder: { stack?: string } = {};
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 1;
  Error.captureStackTrace(holder, wrapper);
  Error.stackTraceLimit = limit;
  const frame = holder.stack?.split('\n', 2)[1];
  return frame === undefined ? '(unknown site)' : frame.trim().replace(/^at /, '');
}

function refuse(api: string, wrapper: Fn): void {
  const site = siteOf(wrapper);
  const last = refused.get(site);
  if (last === undefined) return;
  refused.delete(site);
  throw new BlockingCallError(
    `${api}() at ${site} blocked the hub for ${formatMs(last.durationMs)} on its previous call ` +
      `(limit ${formatMs(last.limitMs)}); the blocking patch is in 'throw' mode, so this call was refused. ` +
      'Move the work to the thread pool or use the asynchronous API.',
    api,
    site,
    last.durationMs,
    last.limitMs,
  );
}

/**
 * @internal Count and report one slow call; `wrapper` is the frame above the caller's (its site).
 * Also the preload's stand-ins' way in, for a call that blocked before greenhub was loaded.
 */
export function reportSlowCall(api: string, durationMs: number, wrapper: Fn): void {
  const greenlet = currentGreenlet();
  const report: BlockingReport = {
    api,
    durationMs,
    limitMs,
    greenlet: greenlet === undefined ? null : greenlet.toString(),
    site: siteOf(wrapper),
  };
  events++;
  seconds += durationMs / 1000;
  // Once per block (see the module comment): a running monitor counts this block itself, under
  // this API. Blocks before its `ready()` are seen by neither, as the monitor documents.
  if (getBlockingMonitor() === null)
    countBlock(durationMs, api, greenlet === undefined ? null : metricName(greenlet));
  const counts = byApi.get(api);
  if (counts === undefined) byApi.set(api, { events: 1, seconds: durationMs / 1000 });
  else {
    counts.events++;
    counts.seconds += durationMs / 1000;
  }
  if (mode === 'throw') refused.set(report.site, report);
  else if (mode === 'warn' && !warned.has(report.site)) {
    warned.add(report.site);
    process.stderr.write(
      `greenhub: blocking call ${api}() took ${formatMs(durationMs)} (limit ${formatMs(limitMs)}) ` +
        `in ${report.greenlet ?? 'top-level code'} at ${report.site}\n`,
    );
  }
  for (const listener of listeners) {
    try {
      listener(report);
    } catch (error) {
      process.stderr.write(`greenhub: an onBlockingCall listener threw: ${String(error)}\n`);
    }
  }
}

/** Timed calls in progress: `readFileSync` calls `readSync`, and only the outer call is timed. */
let depth = 0;

function timed(api: string, original: Fn): Fn {
  const wrapper = function timedCall(this: unknown): unknown {
    // biome-ignore lint/complexity/noArguments: forwards the exact arguments without copying them (hot path)
    if (depth !== 0) return Reflect.apply(original, this, arguments);
    if (refused.size !== 0) refuse(api, wrapper);
    // Name the API for the blocking monitor, which attributes a block it sees to it.
    const previousApi = setBlockingApi(api);
    const start = now();
    depth++;
    try {
      // biome-ignore lint/complexity/noArguments: as above
      return Reflect.apply(original, this, arguments);
    } finally {
      depth--;
      setBlockingApi(previousApi);
      const duration = now() - start;
      if (duration > limitMs) reportSlowCall(api, duration, wrapper);
    }
  };
  return wrapper;
}

/** Patch blocking calls (see the module comment; main thread only). Returns what it replaced. */
export function patchBlocking(): string[] {
  const done: string[] = [];
  for (const label of ['fs', 'child_process', 'crypto', 'zlib'] as const) {
    const host = patchableBuiltin(label);
    if (host === undefined) continue;
    for (const name of wrapFunctions('blocking', host, BLOCKING_FUNCTIONS[label], (original, fn) =>
      timed(`${label}.${fn}`, original),
    ))
      done.push(`${label}.${name}`);
  }
  const wait = Atomics.wait as unknown as Fn;
  if (replace('blocking', Atomics, 'wait', dressAs(timed('Atomics.wait', wait), wait)))
    done.push('Atomics.wait');
  return done;
}
