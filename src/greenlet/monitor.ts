/**
 * The blocking monitor: reports when the hub's thread was held by one piece of code for
 * longer than `maxBlockingTime` — gevent's monitor thread, for Node.
 *
 * Why a thread: a blocked event loop cannot notice that it is blocked, only that it *was* (a late
 * timer). A watchdog on a worker thread (watchdog-source.ts) watches a heartbeat and the hub's
 * switch counter in shared memory and sees the block while it lasts, so it can ask the blocked
 * thread what it is running (through the inspector, which interrupts running JavaScript) and print
 * a notice for a block that never ends.
 *
 * Costs on the hub's thread: one timer callback every `pollMs` (10 ms by default) that bumps the
 * heartbeat, and the switch counter the hub keeps anyway (it lives in shared memory while the
 * monitor runs). Nothing on the hot paths changes. `bench/metrics.js` measures it.
 *
 * What counts as a block: neither the heartbeat nor the switch counter moved for `maxBlockingTime`
 * — one greenlet (or code outside greenlets) ran without yielding. A loop that is merely saturated
 * with many short greenlets keeps switching and is not reported (its loop delay shows in metrics).
 *
 * The patch layer names the API behind a block with {@link setBlockingApi} around synchronous calls
 * (`fs.readFileSync`, `execSync`, `pbkdf2Sync`…); the watchdog reads that slot during the block.
 */
import { EventEmitter } from 'node:events';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import { InvalidStateError } from '../errors.js';
import {
  nativeClearInterval,
  nativeClearTimeout,
  nativeSetImmediate,
  nativeSetInterval,
  nativeSetTimeout,
} from '../internal/natives.js';
import { checkBoolean, checkDelay, checkOptions, rangeError, typeError } from '../internal/validate.js';
import { currentGreenlet, formatMs, getHub } from './hub.js';
import { WATCHDOG_SOURCE } from './watchdog-source.js';

/** Options of {@link startBlockingMonitor}. */
export interface BlockingMonitorOptions {
  /** Report blocks longer than this many milliseconds (default 100, as gevent's `max_blocking_time`). */
  maxBlockingTime?: number;
  /** Print each report on stderr (default `true`); reports are emitted and counted either way. */
  print?: boolean;
  /**
   * Learn which greenlet blocked, with the stack of the blocking code, by interrupting the hub's
   * thread through the inspector while it is blocked (default `true`). Without it a report names
   * a greenlet only when the patch layer recorded one with the blocking API.
   */
  stacks?: boolean;
}

/** One block of the hub longer than `maxBlockingTime`, emitted as the monitor's `'blocked'` event. */
export interface BlockingReport {
  /** How long the hub was blocked, in milliseconds (within the monitor's `resolutionMs`). */
  durationMs: number;
  /**
   * The greenlet whose code blocked the hub. `null` when the code ran outside any greenlet (then
   * `stack` is set) or when it could not be learnt (then `stack` is `null` too).
   */
  greenlet: { id: number; name: string } | null;
  /** The synchronous API that blocked (`fs.readFileSync`…) when the patch layer named it, else `null`. */
  api: string | null;
  /** The stack of the blocking code when the monitor caught it (option `stacks`), else `null`. */
  stack: string | null;
}

/** Events of a {@link BlockingMonitor}. */
export interface BlockingMonitorEvents {
  blocked: [report: BlockingReport];
}

const PROBE = Symbol.for('greenhub.blockingProbe');
const PROBE_EXPRESSION = "globalThis[Symbol.for('greenhub.blockingProbe')]?.";

// The blocking-API slot works with or without a running monitor: it is a plain array until a
// monitor starts, then a view of the memory the watchdog reads.
const SLOT_BEAT = 0;
const SLOT_API = 1;
const SLOT_API_GREENLET = 2;
let slots: Int32Array<ArrayBufferLike> = new Int32Array(4);
let currentApi: string | null = null;
const apiIds = new Map<string, number>();
const apiNames: string[] = [''];
let namesPort: MessagePort | null = null;

/**
 * For `greenhub/patch`: name the synchronous API that the hub's thread is about to spend time in,
 * or clear it with `null`. Returns the previous name, to restore in `finally` (calls may nest).
 * Cheap (a map lookup and two stores), and harmless when no monitor runs.
 *
 * @example
 * ```ts
 * const previous = setBlockingApi('fs.readFileSync');
 * try { return original.apply(fs, args); } finally { setBlockingApi(previous); }
 * ```
 */
export function setBlockingApi(api: string | null): string | null {
  const previous = currentApi;
  if (api !== null && typeof api !== 'string')
    throw typeError('setBlockingApi()', 'api', 'a string or null', api);
  if (api === null) {
    slots[SLOT_API] = 0;
  } else {
    let id = apiIds.get(api);
    if (id === undefined) id = internApi(api);
    slots[SLOT_API_GREENLET] = currentGreenlet()?.id ?? 0;
    slots[SLOT_API] = id;
  }
  currentApi = api;
  return previous;
}

function internApi(api: string): number {
  const id = apiNames.length;
  apiNames.push(api);
  apiIds.set(api, id);
  namesPort?.postMessage({ id, name: api });
  return id;
}

/** A frame of Node's own code or of a builtin: `at fn (node:internal/…)`, `at node:internal/…`, `at fn (<anonymous>)`. */
const INTERNAL_FRAME = /^\s*at (?:[^(]* \()?(?:node:|<anonymous>\)?$)/;

/**
 * @internal The frames of a captured stack that belong to the program: without the header, the
 * evaluated probe expression's own frame, and Node-internal frames on top (the block may be
 * sampled inside a builtin: the `performance` getter on Node 20, `performance.now()`'s argument
 * validation on Node 24, which shows as `at node:internal/validators…` and `(<anonymous>)` frames).
 */
export function programFrames(stack: string): string {
  const frames = stack
    .split('\n')
    .slice(1)
    .filter((line) => !line.includes('at <anonymous>:1:'));
  const first = frames.findIndex((line) => !INTERNAL_FRAME.test(line));
  return frames.slice(first === -1 ? 0 : first).join('\n');
}

/**
 * The probe the watchdog evaluates on the hub's thread while it is blocked, with the heartbeat and
 * switch count it saw when the block began: if they moved, the block is over and the probe says so.
 */
function probe(beat: number, switches: number): string {
  if (slots[SLOT_BEAT] !== beat || getHub()._switches() !== switches) return '{"stale":true}';
  const greenlet = currentGreenlet();
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 12;
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, probe);
  Error.stackTraceLimit = limit;
  const stack = programFrames(holder.stack ?? '');
  return JSON.stringify({
    id: greenlet?.id ?? 0,
    name: greenlet?.name ?? null,
    metricName: greenlet?._metricName() ?? null,
    label: greenlet === undefined ? null : String(greenlet),
    stack,
  });
}

interface WatchdogMessage {
  durationMs: number;
  api: { name: string | null; greenlet: number } | null;
  probe: { id: number; name: string | null; metricName?: string | null; stack: string } | null;
}

let theMonitor: BlockingMonitor | null = null;

/**
 * The running blocking monitor of this thread (see {@link startBlockingMonitor}). Listen to its
 * `'blocked'` event; totals are in `getHub().stats()` (`blockingEvents`, `blockedMs`,
 * `blockedMsByApi`) and in metrics.
 *
 * @example
 * ```ts
 * const monitor = startBlockingMonitor({ maxBlockingTime: 50, print: false });
 * monitor.on('blocked', (r) => log.warn({ ms: r.durationMs, greenlet: r.greenlet?.name, api: r.api }, 'hub blocked'));
 * // …
 * await monitor.stop();
 * ```
 */
export class BlockingMonitor extends EventEmitter<BlockingMonitorEvents> {
  /** Blocks longer than this (ms) are reported. */
  readonly maxBlockingTime: number;
  /** Reports are printed on stderr. */
  readonly print: boolean;
  /** The greenlet and stack of each block are probed. */
  readonly stacks: boolean;
  /** How often the heartbeat beats and the watchdog looks (ms): the precision of `durationMs`. */
  readonly resolutionMs: number;
  private readonly worker: Worker;
  private readonly beat: ReturnType<typeof setInterval>;
  private readonly localSwitches: Float64Array<ArrayBufferLike>;
  private readonly localSlots: Int32Array<ArrayBufferLike>;
  private stopped = false;
  private exited = false;
  private readonly online: Promise<void>;

  /** @internal use {@link startBlockingMonitor} */
  constructor(maxBlockingTime: number, print: boolean, stacks: boolean) {
    super();
    this.maxBlockingTime = maxBlockingTime;
    this.print = print;
    this.stacks = stacks;
    this.resolutionMs = Math.min(10, Math.max(1, Math.round(maxBlockingTime / 10)));
    const hub = getHub();
    const sab = new SharedArrayBuffer(24);
    const sharedSwitches = new Float64Array(sab, 0, 1);
    const sharedSlots = new Int32Array(sab, 8, 4);
    sharedSlots.set(slots);
    this.localSwitches = hub._moveSwitchCounter(sharedSwitches);
    this.localSlots = slots;
    slots = sharedSlots;
    const { port1, port2 } = new MessageChannel();
    namesPort = port1;
    port1.unref();
    if (stacks) Object.defineProperty(globalThis, PROBE, { value: probe, configurable: true });
    this.worker = new Worker(WATCHDOG_SOURCE, {
      eval: true,
      // The watchdog is CommonJS and needs no flag; inheriting `--input-type=module` would break it.
      execArgv: [],
      name: 'greenhub blocking monitor',
      workerData: {
        sab,
        apiPort: port2,
        maxMs: maxBlockingTime,
        pollMs: this.resolutionMs,
        noticeMs: Math.max(1000, 10 * maxBlockingTime),
        print,
        probe: stacks,
        names: apiNames,
        probeExpression: PROBE_EXPRESSION,
      },
      transferList: [port2],
      stdout: false,
      stderr: false,
    });
    this.worker.on('message', this.onReport);
    this.worker.on('error', (error) => getHub()._report(error, null));
    // The monitor never keeps the process alive on its own, but `ready()` must resolve: the worker
    // stays ref'd until it is online (a bounded startup), then is unref'd — after the 'message'
    // listener was added, since adding one refs the worker's port again (Node's
    // setupPortReferencing), and a ref'd port would hold the loop open forever.
    this.worker.once('online', () => this.worker.unref());
    this.online = new Promise((resolve) => {
      this.worker.once('online', resolve);
      this.worker.once('exit', () => resolve());
    });
    this.worker.once('exit', () => {
      this.exited = true;
      this.release();
    });
    this.beat = nativeSetInterval(beat, this.resolutionMs, sharedSlots);
    this.beat.unref();
  }

  /** True until {@link stop} is called (or the watchdog thread dies). */
  get running(): boolean {
    return !this.stopped;
  }

  /**
   * Resolves once the watchdog thread runs (blocks before that are not seen). Until then the
   * monitor keeps the process alive; after, never: it does not hold the event loop open by itself.
   */
  ready(): Promise<void> {
    return this.online;
  }

  /** Stop the watchdog thread and the heartbeat. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.release();
    if (this.exited) return;
    this.worker.postMessage('stop');
    await new Promise<void>((resolve) => {
      // A watchdog that has not exited within a second is starved or stuck. Terminating it is safe
      // only when it holds no inspector session (see watchdog-source.ts): with one, it is left to
      // exit by itself once it gets to the messages (it is unref'd, it keeps nothing alive).
      const timer = nativeSetTimeout(() => {
        if (this.stacks) resolve();
        else void this.worker.terminate().then(() => resolve());
      }, 1000);
      this.worker.once('exit', () => {
        nativeClearTimeout(timer);
        resolve();
      });
    });
  }

  private release(): void {
    if (this.stopped) return;
    this.stopped = true;
    nativeClearInterval(this.beat);
    getHub()._moveSwitchCounter(this.localSwitches);
    this.localSlots.set(slots);
    slots = this.localSlots;
    namesPort?.close();
    namesPort = null;
    if ((globalThis as Record<symbol, unknown>)[PROBE] === probe)
      delete (globalThis as Record<symbol, unknown>)[PROBE];
    if (theMonitor === this) theMonitor = null;
  }

  private readonly onReport = (message: WatchdogMessage | 'disconnected'): void => {
    if (message === 'disconnected') {
      // The watchdog let go of its inspector session: let it exit once this thread has torn the
      // session down (the teardown runs as an interrupt, before the next turn; see
      // watchdog-source.ts for why the order matters).
      nativeSetImmediate(() => this.worker.postMessage('exit'));
      return;
    }
    const report = toReport(message);
    const hub = getHub();
    countBlock(report.durationMs, report.api, blockedName(message));
    try {
      this.emit('blocked', report);
    } catch (error) {
      hub._report(error, null);
    }
    if (this.print) process.stderr.write(formatBlockingReport(report, this.maxBlockingTime));
  };
}

/**
 * @internal Add one block of the hub to its totals (`getHub().stats()`: `blockingEvents`,
 * `blockedMs`, `blockedMsByApi`; in metrics `greenhub_hub_blocking_events_total` and
 * `greenhub_hub_blocked_seconds_total{api, name}`). Two sources feed it, never for the same block: the
 * monitor's reports, and the blocking patch's slow calls while no monitor runs (patch/blocking.ts).
 */
export function countBlock(durationMs: number, api: string | null, name: string | null): void {
  getHub()._countBlock(durationMs, api, name);
}

/** The metric name of the greenlet a block held (the probe's, else the API call's), or null. */
function blockedName({ probe: p, api }: WatchdogMessage): string | null {
  if (p !== null && p.id !== 0) return p.metricName ?? null;
  if (p === null && api !== null && api.greenlet !== 0) {
    for (const g of getHub()._liveGreenlets()) if (g.id === api.greenlet) return g._metricName();
  }
  return null;
}

function beat(shared: Int32Array): void {
  Atomics.add(shared, SLOT_BEAT, 1);
}

function toReport(message: WatchdogMessage): BlockingReport {
  const { probe: p, api } = message;
  let greenlet: BlockingReport['greenlet'] = null;
  if (p !== null && p.id !== 0) greenlet = { id: p.id, name: p.name ?? `Greenlet-${p.id}` };
  else if (p === null && api !== null && api.greenlet !== 0) greenlet = findLive(api.greenlet);
  return {
    durationMs: Math.round(message.durationMs * 10) / 10,
    greenlet,
    api: api?.name ?? null,
    stack: p?.stack || null,
  };
}

function findLive(id: number): { id: number; name: string } {
  for (const g of getHub()._liveGreenlets()) {
    if (g.id === id) return { id, name: g.name };
  }
  return { id, name: `Greenlet-${id}` };
}

/**
 * A report as printed on stderr: one line, then up to six frames of the blocking code.
 *
 * @example
 * ```ts
 * monitor.on('blocked', (r) => myLog.write(formatBlockingReport(r, monitor.maxBlockingTime)));
 * ```
 */
export function formatBlockingReport(report: BlockingReport, maxBlockingTime: number): string {
  const where = 'formatBlockingReport()';
  if (typeof report !== 'object' || report === null || typeof report.durationMs !== 'number') {
    throw typeError(where, 'report', "a BlockingReport (a 'blocked' event's argument)", report);
  }
  checkDelay(where, 'maxBlockingTime', maxBlockingTime);
  const who =
    report.greenlet !== null
      ? ` by ${report.greenlet.name === `Greenlet-${report.greenlet.id}` ? report.greenlet.name : `"${report.greenlet.name}" (Greenlet-${report.greenlet.id})`}`
      : report.stack !== null
        ? ' by code outside any greenlet'
        : '';
  const api = report.api !== null ? ` in ${report.api}` : '';
  const frames = report.stack !== null ? `\n${report.stack.split('\n').slice(0, 6).join('\n')}` : '';
  return `greenhub: the hub was blocked for ${formatMs(report.durationMs)}${who}${api} (maxBlockingTime ${maxBlockingTime} ms)${frames}\n`;
}

/**
 * Start the blocking monitor of this thread (a watchdog thread; see the module comment), or return
 * the one already running when the options agree. Reports are emitted as `'blocked'` events,
 * counted in `getHub().stats()` and in metrics (`greenhub_hub_blocked_seconds_total{api, name}`,
 * `greenhub_hub_blocking_events_total`), and printed on stderr unless `print` is false.
 *
 * @example
 * ```ts
 * import { startBlockingMonitor } from 'greenhub';
 * const monitor = startBlockingMonitor({ maxBlockingTime: 100 });
 * // stderr: greenhub: the hub was blocked for 312 ms by "report" (Greenlet-7) in fs.readFileSync (maxBlockingTime 100 ms)
 * //             at buildReport (file:///app/report.js:41:17) …
 * ```
 */
export function startBlockingMonitor(opts?: BlockingMonitorOptions): BlockingMonitor {
  const where = 'startBlockingMonitor()';
  checkOptions(where, 'opts', opts, ['maxBlockingTime', 'print', 'stacks']);
  const maxBlockingTime =
    opts?.maxBlockingTime === undefined
      ? 100
      : checkDelay(where, 'opts.maxBlockingTime', opts.maxBlockingTime);
  if (maxBlockingTime < 1)
    throw rangeError(where, 'opts.maxBlockingTime', 'at least 1 millisecond', maxBlockingTime);
  if (opts?.print !== undefined) checkBoolean(where, 'opts.print', opts.print);
  if (opts?.stacks !== undefined) checkBoolean(where, 'opts.stacks', opts.stacks);
  const print = opts?.print ?? true;
  const stacks = opts?.stacks ?? true;
  const current = theMonitor;
  if (current !== null) {
    if (current.maxBlockingTime === maxBlockingTime && current.print === print && current.stacks === stacks)
      return current;
    throw new InvalidStateError(
      `${where}: a blocking monitor already runs with maxBlockingTime ${current.maxBlockingTime} ms, ` +
        `print ${current.print}, stacks ${current.stacks}; stop() it before starting one with other options`,
    );
  }
  theMonitor = new BlockingMonitor(maxBlockingTime, print, stacks);
  return theMonitor;
}

/**
 * The running blocking monitor of this thread, or `null`.
 *
 * @example
 * ```ts
 * await getBlockingMonitor()?.stop();
 * ```
 */
export function getBlockingMonitor(): BlockingMonitor | null {
  return theMonitor;
}
