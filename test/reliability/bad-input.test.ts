/**
 * Bad input everywhere: every public export of every entry point, called with wrong types
 * and out-of-range values, throws (or rejects with) a `TypeError`/`RangeError` that carries a
 * stable `code` and names the argument — and leaves the hub as it was.
 *
 * The table below is checked against the entry points' actual exports: an export that appears
 * without a row fails the first test, so a new public function cannot ship unchecked. A row is
 * either a list of bad calls, or an exemption that says why the export takes no input to check
 * (an error class, a constant, a function without parameters).
 */
import * as core from 'greenhub';
import * as metrics from 'greenhub/metrics';
import * as patch from 'greenhub/patch';
import * as server from 'greenhub/server';
import * as threadpool from 'greenhub/threadpool';
import * as worker from 'greenhub/worker';
import { afterAll, describe, expect, it } from 'vitest';
import { ref } from '../threadpool/helpers.js';

type Expected = 'type' | 'range' | 'option' | 'uncloneable';
/** A bad call: what it does, the call, the error expected and the argument its message names. */
type BadCall = [label: string, call: () => unknown, expected: Expected, argument: string];
type Row = BadCall[] | { exempt: string };

const ERROR_CLASS = { exempt: 'an error class: any message and options are valid' };
const CONSTANT = { exempt: 'a constant, not callable' };
const NO_ARGUMENTS = { exempt: 'takes no arguments' };

const fn = () => 1;
const pool = new threadpool.ThreadPool({ maxThreads: 1, name: 'bad-input' });
afterAll(() => pool.close());

const CORE: Record<string, Row> = {
  AsyncResult: [
    ['wait(-1)', () => new core.AsyncResult().wait(-1), 'range', 'timeout'],
    ['get({ timeout: "1" })', () => new core.AsyncResult().get({ timeout: '1' as never }), 'type', 'timeout'],
    ['get({ timout: 1 })', () => new core.AsyncResult().get({ timout: 1 } as never), 'option', 'timout'],
  ],
  BlockingCallError: ERROR_CLASS,
  BlockingMonitor: { exempt: 'constructed by startBlockingMonitor(), whose options are checked below' },
  BoundedSemaphore: [
    ['new BoundedSemaphore(-1)', () => new core.BoundedSemaphore(-1), 'range', 'value'],
    ['new BoundedSemaphore("2")', () => new core.BoundedSemaphore('2' as never), 'type', 'value'],
  ],
  Channel: [
    [
      'put(1, { timeout: NaN })',
      () => new core.Channel().put(1, { timeout: Number.NaN }),
      'range',
      'timeout',
    ],
  ],
  ClosureError: ERROR_CLASS,
  DeadlockError: ERROR_CLASS,
  Event: [
    ['wait(-1)', () => new core.Event().wait(-1), 'range', 'timeout'],
    ['wait("1")', () => new core.Event().wait('1' as never), 'type', 'timeout'],
  ],
  Greenlet: [
    ['new Greenlet(42)', () => new core.Greenlet(42 as never), 'type', 'fn'],
    ['join(NaN)', () => new core.Greenlet(fn).join(Number.NaN), 'range', 'timeout'],
    ['kill({ blok: false })', () => new core.Greenlet(fn).kill({ blok: false } as never), 'option', 'blok'],
    ['kill({ timeout: -1 })', () => new core.Greenlet(fn).kill({ timeout: -1 }), 'range', 'timeout'],
    ['startLater(-1)', () => new core.Greenlet(fn).startLater(-1), 'range', 'ms'],
    ['link(1)', () => new core.Greenlet(fn).link(1 as never), 'type', 'callback'],
  ],
  GreenletExit: ERROR_CLASS,
  Group: [
    ['new Group(5)', () => new core.Group(5 as never), 'type', 'greenlets'],
    ['add(1)', () => new core.Group().add(1 as never), 'type', 'greenlet'],
    ['join({ timeout: -1 })', () => new core.Group().join({ timeout: -1 }), 'range', 'timeout'],
  ],
  Hub: [['formatRunInfo({ limit: -1 })', () => core.getHub().formatRunInfo({ limit: -1 }), 'range', 'limit']],
  InvalidArgumentTypeError: ERROR_CLASS,
  InvalidArgumentValueError: ERROR_CLASS,
  InvalidStateError: ERROR_CLASS,
  JoinableQueue: [
    ['new JoinableQueue(-1)', () => new core.JoinableQueue(-1), 'range', 'maxsize'],
    ['join(-1)', () => new core.JoinableQueue().join(-1), 'range', 'timeout'],
  ],
  LifoQueue: [['new LifoQueue(1.5)', () => new core.LifoQueue(1.5), 'range', 'maxsize']],
  Local: [['new Local(5)', () => new core.Local(5 as never), 'type', 'init']],
  Lock: [
    ['acquire({ timeout: -1 })', () => new core.Lock().acquire({ timeout: -1 }), 'range', 'timeout'],
    [
      'acquire({ blocking: "yes" })',
      () => new core.Lock().acquire({ blocking: 'yes' as never }),
      'type',
      'blocking',
    ],
  ],
  LoopExit: ERROR_CLASS,
  NoCurrentGreenletError: ERROR_CLASS,
  NotOwnerError: ERROR_CLASS,
  Operation: { exempt: 'constructed by beginOperation(), whose arguments are checked below' },
  OverReleaseError: ERROR_CLASS,
  Pool: [
    ['new Pool(-1)', () => new core.Pool(-1), 'range', 'size'],
    ['spawn(5)', () => new core.Pool(1).spawn(5 as never), 'type', 'fn'],
    ['waitAvailable(-1)', () => new core.Pool(1).waitAvailable(-1), 'range', 'timeout'],
  ],
  PoolClosedError: ERROR_CLASS,
  PoolFull: ERROR_CLASS,
  PriorityQueue: [
    ['new PriorityQueue(1, "x")', () => new core.PriorityQueue(1, 'x' as never), 'type', 'compare'],
  ],
  Queue: [
    ['new Queue(-1)', () => new core.Queue(-1), 'range', 'maxsize'],
    ['new Queue("1")', () => new core.Queue('1' as never), 'type', 'maxsize'],
    ['put(1, { timeout: -1 })', () => new core.Queue().put(1, { timeout: -1 }), 'range', 'timeout'],
    ['put(1, { block: 1 })', () => new core.Queue().put(1, { block: 1 } as never), 'type', 'block'],
    [
      'get({ timeout: Infinity, timout: 1 })',
      () => new core.Queue().get({ timout: 1 } as never),
      'option',
      'timout',
    ],
    [
      'get({ timeout: -Infinity })',
      () => new core.Queue().get({ timeout: Number.NEGATIVE_INFINITY }),
      'range',
      'timeout',
    ],
    ['join(NaN)', () => new core.Queue().join(Number.NaN), 'range', 'timeout'],
  ],
  QueueEmpty: ERROR_CLASS,
  QueueFull: ERROR_CLASS,
  QueueShutDown: ERROR_CLASS,
  RLock: [
    [
      'acquire({ timeout: "x" })',
      () => new core.RLock().acquire({ timeout: 'x' as never }),
      'type',
      'timeout',
    ],
  ],
  RequestTimeoutError: ERROR_CLASS,
  Semaphore: [
    ['new Semaphore(-1)', () => new core.Semaphore(-1), 'range', 'value'],
    ['new Semaphore(NaN)', () => new core.Semaphore(Number.NaN), 'range', 'value'],
    ['acquire({ timeout: -5 })', () => new core.Semaphore(1).acquire({ timeout: -5 }), 'range', 'timeout'],
    ['wait(-1)', () => new core.Semaphore(1).wait(-1), 'range', 'timeout'],
  ],
  TaskCancelledError: ERROR_CLASS,
  ThreadModeError: ERROR_CLASS,
  Timeout: [
    ['new Timeout(-1)', () => new core.Timeout(-1), 'range', 'ms'],
    ['Timeout.start(NaN)', () => core.Timeout.start(Number.NaN), 'range', 'ms'],
    ['Timeout.start("5")', () => core.Timeout.start('5' as never), 'type', 'ms'],
  ],
  UncloneableError: ERROR_CLASS,
  WorkerCrashError: ERROR_CLASS,
  beginOperation: [
    ['beginOperation(5, fn)', () => core.beginOperation(5 as never, () => false), 'type', 'kind'],
    ['beginOperation("x", 5)', () => core.beginOperation('x', 5 as never), 'type', 'abort'],
  ],
  formatBlockingReport: [
    ['formatBlockingReport(null, 50)', () => core.formatBlockingReport(null as never, 50), 'type', 'report'],
  ],
  getBlockingMonitor: NO_ARGUMENTS,
  getCurrent: NO_ARGUMENTS,
  getHub: NO_ARGUMENTS,
  iwait: [['iwait(5)', () => core.iwait(5 as never), 'type', 'objects']],
  joinAll: [
    ['joinAll(5)', () => core.joinAll(5 as never), 'type', 'greenlets'],
    ['joinAll([], { timeout: -1 })', () => core.joinAll([], { timeout: -1 }), 'range', 'timeout'],
  ],
  killAll: [['killAll(5)', () => core.killAll(5 as never), 'type', 'greenlets']],
  setBlockingApi: [['setBlockingApi(5)', () => core.setBlockingApi(5 as never), 'type', 'api']],
  sleep: [
    ['sleep(-1)', () => core.sleep(-1), 'range', 'ms'],
    ['sleep(NaN)', () => core.sleep(Number.NaN), 'range', 'ms'],
    ['sleep(-Infinity)', () => core.sleep(Number.NEGATIVE_INFINITY), 'range', 'ms'],
    ['sleep("1")', () => core.sleep('1' as never), 'type', 'ms'],
    ['sleep(1, { signal: "soon" })', () => core.sleep(1, { signal: 'soon' as never }), 'type', 'opts.signal'],
  ],
  spawn: [['spawn(5)', () => core.spawn(5 as never), 'type', 'fn']],
  spawnDetached: [['spawnDetached(5)', () => core.spawnDetached(5 as never), 'type', 'fn']],
  spawnLater: [
    ['spawnLater(-1, fn)', () => core.spawnLater(-1, fn), 'range', 'ms'],
    ['spawnLater(1, 5)', () => core.spawnLater(1, 5 as never), 'type', 'fn'],
  ],
  startBlockingMonitor: [
    [
      '({ maxBlockingTime: -1 })',
      () => core.startBlockingMonitor({ maxBlockingTime: -1 }),
      'range',
      'maxBlockingTime',
    ],
    [
      '({ maxblockingtime: 1 })',
      () => core.startBlockingMonitor({ maxblockingtime: 1 } as never),
      'option',
      'maxblockingtime',
    ],
  ],
  wait: [
    ['wait(5)', () => core.wait(5 as never), 'type', 'objects'],
    ['wait([], { count: -1 })', () => core.wait([], { count: -1 }), 'range', 'count'],
  ],
  withTimeout: [
    ['withTimeout(-1, fn)', () => core.withTimeout(-1, fn), 'range', 'ms'],
    ['withTimeout(1, 5)', () => core.withTimeout(1, 5 as never), 'type', 'fn'],
    [
      'withTimeout(1, fn, { fallbak: 1 })',
      () => core.withTimeout(1, fn, { fallbak: 1 } as never),
      'option',
      'fallbak',
    ],
  ],
};

const THREADPOOL: Record<string, Row> = {
  ClosureError: ERROR_CLASS,
  PoolClosedError: ERROR_CLASS,
  PoolFull: ERROR_CLASS,
  SharedEvent: [['wait(-1)', () => new threadpool.SharedEvent().wait(-1), 'range', 'timeout']],
  SharedLock: [
    [
      'acquire({ timeout: -1 })',
      () => new threadpool.SharedLock().acquire({ timeout: -1 }),
      'range',
      'timeout',
    ],
  ],
  SharedSemaphore: [
    ['new SharedSemaphore(-1)', () => new threadpool.SharedSemaphore(-1), 'range', 'value'],
    ['new SharedSemaphore("1")', () => new threadpool.SharedSemaphore('1' as never), 'type', 'value'],
  ],
  TaskCancelledError: ERROR_CLASS,
  TaskRef: { exempt: 'constructed by task(), whose arguments are checked below' },
  Thread: [
    ['new Thread({ target: 5 })', () => new threadpool.Thread({ target: 5 as never }), 'type', 'target'],
    [
      'new Thread({ target, daemon: 1 })',
      () => new threadpool.Thread({ target: fn, daemon: 1 as never }),
      'type',
      'daemon',
    ],
    ['new Thread({ traget })', () => new threadpool.Thread({ traget: fn } as never), 'option', 'traget'],
  ],
  ThreadModeError: ERROR_CLASS,
  ThreadPool: [
    [
      'new ThreadPool({ maxThreads: 0 })',
      () => new threadpool.ThreadPool({ maxThreads: 0 }),
      'range',
      'maxThreads',
    ],
    [
      'new ThreadPool({ minThreads: -1 })',
      () => new threadpool.ThreadPool({ minThreads: -1 }),
      'range',
      'minThreads',
    ],
    [
      'new ThreadPool({ maxthreads: 2 })',
      () => new threadpool.ThreadPool({ maxthreads: 2 } as never),
      'option',
      'maxthreads',
    ],
    ['new ThreadPool({ name: 5 })', () => new threadpool.ThreadPool({ name: 5 as never }), 'type', 'name'],
    ['run("1 + 1")', () => pool.run('1 + 1' as never), 'type', 'fn'],
    ['spawn(5)', () => pool.spawn(5 as never), 'type', 'task'],
    ['apply(ref, fn)', () => pool.apply(ref('echo'), fn as never), 'uncloneable', 'argument 0'],
    ['map(ref, 5)', () => pool.map(ref('echo'), 5 as never), 'type', 'items'],
    ['close({ timeout: -1 })', () => new threadpool.ThreadPool().close({ timeout: -1 }), 'range', 'timeout'],
    ['withOptions({ signal: {} })', () => pool.withOptions({ signal: {} as never }), 'type', 'opts.signal'],
    ['withOptions({ timeout: -1 })', () => pool.withOptions({ timeout: -1 }), 'range', 'opts.timeout'],
  ],
  UncloneableError: ERROR_CLASS,
  WorkerCrashError: ERROR_CLASS,
  hybrid: [
    ['hybrid(5)', () => threadpool.hybrid(5 as never), 'type', 'task'],
    [
      'hybrid(fn, { thresholdMs: -1 })',
      () => threadpool.hybrid(fn, { thresholdMs: -1 }),
      'range',
      'thresholdMs',
    ],
  ],
  move: [['move(5)', () => threadpool.move(5 as never), 'type', 'value']],
  task: [
    ['task(5)', () => threadpool.task(5 as never), 'type', 'module'],
    ['task("./relative.mjs")', () => threadpool.task('./relative.mjs'), 'type', 'module'],
  ],
};

const WORKER: Record<string, Row> = {
  TaskCancelledError: ERROR_CLASS,
  checkpoint: NO_ARGUMENTS,
  currentSignal: NO_ARGUMENTS,
  isCancelled: NO_ARGUMENTS,
  move: [['move("x")', () => worker.move('x' as never), 'type', 'value']],
};

const METRICS: Record<string, Row> = {
  BoundedLabel: [['new BoundedLabel(-1)', () => new metrics.BoundedLabel(-1), 'range', 'limit']],
  DEFAULT_DURATION_BUCKETS_SECONDS: CONSTANT,
  DurationRecorder: [
    ['new DurationRecorder([2, 1])', () => new metrics.DurationRecorder([2, 1]), 'range', 'bucketsSeconds'],
    ['new DurationRecorder(5)', () => new metrics.DurationRecorder(5 as never), 'type', 'bucketsSeconds'],
  ],
  OPERATION_KINDS: CONSTANT,
  OTHER: CONSTANT,
  POOL_DURATION_BUCKETS_SECONDS: CONSTANT,
  collectMetrics: [
    [
      'collectMetrics({ registr: 1 })',
      () => metrics.collectMetrics({ registr: 1 } as never),
      'option',
      'registr',
    ],
  ],
  histogramDelta: [
    ['histogramDelta(5, undefined)', () => metrics.histogramDelta(5 as never, undefined), 'type', 'now'],
  ],
  metricNames: CONSTANT,
  metricsSources: [
    ['metricsSources("nope")', () => metrics.metricsSources('nope' as never), 'range', 'kind'],
  ],
  openLoopWindow: NO_ARGUMENTS,
  quantileMs: [['quantileMs(snapshot, 2)', () => metrics.quantileMs(emptySnapshot(), 2), 'range', 'q']],
  registerMetricsSource: [
    ['registerMetricsSource(5)', () => metrics.registerMetricsSource(5 as never), 'type', 'source'],
  ],
  startMetricsServer: [
    ['startMetricsServer({ port: -1 })', () => metrics.startMetricsServer({ port: -1 }), 'range', 'port'],
    [
      'startMetricsServer({ prot: 1 })',
      () => metrics.startMetricsServer({ prot: 1 } as never),
      'option',
      'prot',
    ],
  ],
};

const SERVER: Record<string, Row> = {
  HTTP_BUCKETS_SECONDS: CONSTANT,
  HttpServer: [
    ['new HttpServer(0, 5)', () => new server.HttpServer(0, 5 as never), 'type', 'handler'],
    ['new HttpServer(-1, fn)', () => new server.HttpServer(-1, fn), 'range', 'listener'],
    [
      'new HttpServer(0, fn, { maxBodySize: -1 })',
      () => new server.HttpServer(0, fn, { maxBodySize: -1 }),
      'range',
      'maxBodySize',
    ],
    [
      'new HttpServer(0, fn, { spwan: 1 })',
      () => new server.HttpServer(0, fn, { spwan: 1 } as never),
      'option',
      'spwan',
    ],
  ],
  StatusSource: { exempt: 'takes no arguments; snapshot() neither' },
  StreamServer: [
    ['new StreamServer(0, 5)', () => new server.StreamServer(0, 5 as never), 'type', 'handle'],
    ['new StreamServer("x", fn)', () => new server.StreamServer('x' as never, fn), 'type', 'listener'],
  ],
  defaultRoute: [['defaultRoute(5)', () => server.defaultRoute(5 as never), 'type', 'url']],
  disconnectSignal: [['disconnectSignal({})', () => server.disconnectSignal({} as never), 'type', 'req']],
  mountStatusPage: [['mountStatusPage(5)', () => server.mountStatusPage(5 as never), 'type', 'server']],
};

const PATCH: Record<string, Row> = {
  disconnectSignal: [['disconnectSignal(5)', () => patch.disconnectSignal(5 as never), 'type', 'req']],
  BLOCKING_FUNCTIONS: CONSTANT,
  BlockingCallError: ERROR_CLASS,
  CHILD_PROCESS_FUNCTIONS: CONSTANT,
  DNS_FUNCTIONS: CONSTANT,
  EVENTS_FUNCTIONS: CONSTANT,
  FETCH_FUNCTIONS: CONSTANT,
  FS_FUNCTIONS: CONSTANT,
  HTTP_CLIENT_FUNCTIONS: CONSTANT,
  HTTP_SERVER_FUNCTIONS: CONSTANT,
  NET_FUNCTIONS: CONSTANT,
  SIGNAL_FUNCTIONS: CONSTANT,
  STREAM_FUNCTIONS: CONSTANT,
  TIMER_FUNCTIONS: CONSTANT,
  blockingStats: NO_ARGUMENTS,
  getOriginal: [['getOriginal(5, "x")', () => patch.getOriginal(5 as never, 'x'), 'type', 'object']],
  isModulePatched: [['isModulePatched(5)', () => patch.isModulePatched(5 as never), 'type', 'name']],
  isObjectPatched: [
    ['isObjectPatched(5, "x")', () => patch.isObjectPatched(5 as never, 'x'), 'type', 'object'],
  ],
  isThreadPatched: NO_ARGUMENTS,
  onBlockingCall: [['onBlockingCall(5)', () => patch.onBlockingCall(5 as never), 'type', 'listener']],
  onShutdown: [['onShutdown(5)', () => patch.onShutdown(5 as never), 'type', 'hook']],
  // A refused patchAll() changes nothing (its options are checked before anything is patched).
  patchAll: [
    ['patchAll({ timers: "yes" })', () => patch.patchAll({ timers: 'yes' as never }), 'type', 'timers'],
    ['patchAll({ timerz: true })', () => patch.patchAll({ timerz: true } as never), 'option', 'timerz'],
    [
      'patchAll({ maxBlockingTime: -1 })',
      () => patch.patchAll({ maxBlockingTime: -1 }),
      'range',
      'maxBlockingTime',
    ],
  ],
  patchBlocking: [
    [
      'patchBlocking({ mode: "loud" })',
      () => patch.patchBlocking({ mode: 'loud' as never }),
      'range',
      'mode',
    ],
    [
      'patchBlocking({ maxBlockingTime: -1 })',
      () => patch.patchBlocking({ maxBlockingTime: -1 }),
      'range',
      'maxBlockingTime',
    ],
    [
      'patchBlocking({ mod: "throw" })',
      () => patch.patchBlocking({ mod: 'throw' } as never),
      'option',
      'mod',
    ],
  ],
  patchChildProcess: NO_ARGUMENTS,
  patchDns: NO_ARGUMENTS,
  patchEvents: NO_ARGUMENTS,
  patchFetch: NO_ARGUMENTS,
  patchFs: NO_ARGUMENTS,
  patchHttp: [['patchHttp({ servr: 1 })', () => patch.patchHttp({ servr: 1 } as never), 'option', 'servr']],
  patchNet: NO_ARGUMENTS,
  patchSignal: [
    [
      'patchSignal({ gracePeriod: -1 })',
      () => patch.patchSignal({ gracePeriod: -1 }),
      'range',
      'gracePeriod',
    ],
  ],
  patchStream: NO_ARGUMENTS,
  patchThread: NO_ARGUMENTS,
  patchTimers: NO_ARGUMENTS,
  shutdown: [
    ['shutdown({ gracePeriod: -1 })', () => patch.shutdown({ gracePeriod: -1 }), 'range', 'gracePeriod'],
  ],
  unpatchAll: NO_ARGUMENTS,
};

function emptySnapshot(): Parameters<typeof metrics.quantileMs>[0] {
  return new metrics.DurationRecorder().snapshot();
}

const ENTRY_POINTS: [string, Record<string, unknown>, Record<string, Row>][] = [
  ['greenhub', core, CORE],
  ['greenhub/threadpool', threadpool, THREADPOOL],
  ['greenhub/worker', worker, WORKER],
  ['greenhub/metrics', metrics, METRICS],
  ['greenhub/server', server, SERVER],
  ['greenhub/patch', patch, PATCH],
];

/** The error a call throws, or its promise (or async iterator) rejects with; `undefined` if none. */
async function failureOf(call: () => unknown): Promise<unknown> {
  let result: unknown;
  try {
    result = call();
  } catch (error) {
    return error;
  }
  let settled: Promise<unknown> | undefined;
  if (result instanceof Promise) settled = result;
  else if (result !== null && typeof result === 'object' && Symbol.asyncIterator in result) {
    settled = (result as unknown as AsyncIterator<unknown>).next();
  }
  if (settled === undefined) return undefined;
  // A call that accepted its input may block (a wait with no timeout): it counts as accepted.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<'hung'>((resolve) => {
    timer = setTimeout(() => resolve('hung'), 2_000);
  });
  try {
    return (await Promise.race([settled, hung])) === 'hung' ? 'hung' : undefined;
  } catch (error) {
    return error;
  } finally {
    clearTimeout(timer);
  }
}

const EXPECTED = {
  type: { class: TypeError, code: 'ERR_GREENHUB_INVALID_ARG_TYPE' },
  range: { class: RangeError, code: 'ERR_GREENHUB_INVALID_ARG_VALUE' },
  option: { class: TypeError, code: 'ERR_GREENHUB_UNKNOWN_OPTION' },
  uncloneable: { class: TypeError, code: 'ERR_GREENHUB_UNCLONEABLE' },
} as const;

describe('bad input everywhere', () => {
  it('the table has a row for every export of every entry point, and no row for what is gone', () => {
    for (const [entry, namespace, table] of ENTRY_POINTS) {
      expect(Object.keys(table).sort(), `rows of ${entry}`).toEqual(Object.keys(namespace).sort());
    }
  });

  it('an exemption holds: error classes are Error subclasses, constants are not callable, "no arguments" is true', () => {
    for (const [entry, namespace, table] of ENTRY_POINTS) {
      for (const [name, row] of Object.entries(table)) {
        const value = namespace[name] as { prototype?: unknown; length?: number };
        const what = `${entry} ${name}`;
        if (row === ERROR_CLASS) expect(value.prototype instanceof Error, what).toBe(true);
        if (row === CONSTANT) expect(typeof value, what).not.toBe('function');
        if (row === NO_ARGUMENTS) expect([typeof value, value.length], what).toEqual(['function', 0]);
      }
    }
  });

  for (const [entry, namespace, table] of ENTRY_POINTS) {
    const rows = Object.entries(table).filter((row): row is [string, BadCall[]] => Array.isArray(row[1]));
    it(`${entry}: every bad call fails with a TypeError/RangeError that has a code and names the argument`, async () => {
      const problems: string[] = [];
      for (const [name, calls] of rows) {
        expect(namespace[name], `${entry} exports ${name}`).toBeDefined();
        for (const [label, call, expected, argument] of calls) {
          const error = (await failureOf(call)) as (Error & { code?: unknown }) | 'hung' | undefined;
          const want = EXPECTED[expected];
          if (error === undefined || error === 'hung') {
            problems.push(`${name} ${label}: accepted silently${error === 'hung' ? ' (and blocked)' : ''}`);
          } else if (
            !(error instanceof want.class) ||
            error.code !== want.code ||
            !error.message.includes(argument)
          ) {
            problems.push(
              `${name} ${label}: expected ${want.class.name} ${want.code} naming \`${argument}\`, got ${error.constructor?.name} ${String(error.code)}: ${error.message}`,
            );
          }
        }
      }
      expect(problems).toEqual([]);
    });
  }

  it('leaves the hub as it was: no live greenlet, no parked waiter; a fresh spawn and join work', async () => {
    const stats = core.getHub().stats();
    expect({ live: stats.greenlets.live, waiters: stats.waiters }).toEqual({ live: 0, waiters: 0 });
    const g = core.spawn((a: number, b: number) => a + b, 2, 3);
    expect(await g.get()).toBe(5);
    expect(core.getBlockingMonitor()).toBeNull();
    // No refused patch*() call patched anything (their options are checked before any change).
    // Every target: a Record lists each member of the PatchTarget union, or the typecheck fails.
    const targets: Record<patch.PatchTarget, true> = {
      timers: true,
      fetch: true,
      net: true,
      http: true,
      dns: true,
      fs: true,
      childProcess: true,
      events: true,
      stream: true,
      signal: true,
      thread: true,
      blocking: true,
    };
    expect(Object.keys(targets).filter((t) => patch.isModulePatched(t))).toEqual([]);
  });
});
