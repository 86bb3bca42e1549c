// One benchmark case in one fresh process: `node --expose-gc bench/hub-cases.js <case> <impl>`.
// Prints one JSON line: { value, unit }. The runner (bench/hub.js) calls it several times per case
// and implementation and keeps the median.
//
// Implementations:
//   greenhub  — the case written with greenhub's API
//   floor     — the same shape in plain Node, in a process where greenhub is never loaded
//   floor-als — the plain-Node shape, after enabling one AsyncLocalStorage (as greenhub does): on
//               Node 20 that turns on async hooks, which tax every promise in the process
//   floor-ctx — spawn-join only: each task started in its own AsyncLocalStorage context
//               (`als.run(store, task)`), the least any library can do to give every task its own
//               async context, as greenlets have one
import { AsyncLocalStorage } from 'node:async_hooks';

const [caseName = '', impl = ''] = process.argv.slice(2);
/** `--quick` (bench/run.js's short form): best of 2 timed runs instead of 3. */
const timedRuns = process.argv.includes('--quick') ? 2 : 3;

const als = new AsyncLocalStorage();
if (impl === 'floor-als' || impl === 'floor-ctx') als.run(1, () => undefined);
const gh = impl === 'greenhub' ? await import('greenhub') : null;

/** Best rate of `timedRuns` after a warm-up run at a tenth of the size. */
async function rate(/** @type {(n: number) => Promise<void>} */ body, /** @type {number} */ n) {
  await body(Math.max(1, Math.floor(n / 10)));
  let best = 0;
  for (let i = 0; i < timedRuns; i++) {
    globalThis.gc?.();
    const t0 = performance.now();
    await body(n);
    best = Math.max(best, n / ((performance.now() - t0) / 1000));
  }
  return best;
}

async function trivial() {
  await null;
  return 1;
}

/** @type {Record<string, () => Promise<{ value: number, unit: string }>>} */
const cases = {
  async 'spawn-join'() {
    const n = 100_000;
    const value = gh
      ? await rate(async (k) => {
          const gs = new Array(k);
          for (let i = 0; i < k; i++) gs[i] = gh.spawn(trivial);
          await gh.joinAll(gs);
        }, n)
      : impl === 'floor-ctx'
        ? await rate(async (k) => {
            const ps = new Array(k);
            for (let i = 0; i < k; i++) ps[i] = als.run({ id: i }, trivial);
            await Promise.all(ps);
          }, n)
        : await rate(async (k) => {
            const ps = new Array(k);
            for (let i = 0; i < k; i++) ps[i] = trivial();
            await Promise.all(ps);
          }, n);
    return { value, unit: 'greenlets/s' };
  },

  async 'sleep0-pingpong'() {
    const n = 200_000;
    const value = gh
      ? await rate(async (k) => {
          const loop = async () => {
            for (let i = 0; i < k / 2; i++) await gh.sleep(0);
          };
          await gh.joinAll([gh.spawn(loop), gh.spawn(loop)]);
        }, n)
      : await rate(async (k) => {
          const loop = async () => {
            for (let i = 0; i < k / 2; i++) await new Promise((r) => setImmediate(r));
          };
          await Promise.all([loop(), loop()]);
        }, n);
    return { value, unit: 'switches/s' };
  },

  async 'event-handoff'() {
    const n = 400_000;
    const value = gh
      ? await rate(async (k) => {
          const ping = new gh.Event();
          const pong = new gh.Event();
          const a = gh.spawn(async () => {
            for (let i = 0; i < k / 2; i++) {
              await ping.wait();
              ping.clear();
              pong.set();
            }
          });
          const b = gh.spawn(async () => {
            for (let i = 0; i < k / 2; i++) {
              ping.set();
              await pong.wait();
              pong.clear();
            }
          });
          await gh.joinAll([a, b]);
        }, n)
      : await rate(async (k) => {
          // The plain-promise equivalent: each side resolves the other's fresh promise.
          /** @type {() => void} */ let wakeA = () => undefined;
          /** @type {() => void} */ let wakeB = () => undefined;
          const a = (async () => {
            for (let i = 0; i < k / 2; i++) {
              await new Promise((r) => {
                wakeA = /** @type {() => void} */ (r);
              });
              wakeB();
            }
          })();
          const b = (async () => {
            for (let i = 0; i < k / 2; i++) {
              const next = new Promise((r) => {
                wakeB = /** @type {() => void} */ (r);
              });
              wakeA();
              await next;
            }
          })();
          await Promise.all([a, b]);
        }, n);
    return { value, unit: 'handoffs/s' };
  },

  'queue-unbounded': () => queueCase(null),
  'queue-100': () => queueCase(100),

  'idle-memory': () => idleGreenlets('rss'),
  'idle-heap': () => idleGreenlets('heapUsed'),

  async 'timeout-start-cancel'() {
    const n = 1_000_000;
    const value = gh
      ? await rate(
          (k) =>
            gh
              .spawn(() => {
                for (let i = 0; i < k; i++) gh.Timeout.start(1000).cancel();
              })
              .get(),
          n,
        )
      : await rate(async (k) => {
          for (let i = 0; i < k; i++) clearTimeout(setTimeout(trivial, 1000));
        }, n);
    return { value, unit: 'ops/s' };
  },
};

/**
 * 100k greenlets (or pending async functions) waiting, and what the process grew by per waiter
 * after a full GC: `rss` (the process's resident memory: also the young generation the spawns grew,
 * which does not grow with the count, and V8's page allocation) or `heapUsed` (the V8 heap the
 * waiters keep alive: what each one costs the program).
 * @param {'rss' | 'heapUsed'} measure
 */
async function idleGreenlets(measure) {
  const n = 100_000;
  globalThis.gc?.();
  await new Promise((r) => setTimeout(r, 20));
  globalThis.gc?.();
  const before = process.memoryUsage()[measure];
  let release = () => undefined;
  if (gh) {
    const ev = new gh.Event();
    const gs = new Array(n);
    for (let i = 0; i < n; i++) gs[i] = gh.spawn(() => ev.wait());
    await gh.sleep(0);
    await gh.sleep(0);
    if (gh.getHub().stats().greenlets.waiting < n) throw new Error('not all greenlets are waiting');
    release = () => {
      ev.set();
    };
  } else {
    const never = new Promise(() => undefined);
    const ps = new Array(n);
    for (let i = 0; i < n; i++) ps[i] = (async () => await never)();
    await new Promise((r) => setImmediate(r));
  }
  globalThis.gc?.();
  const value = (process.memoryUsage()[measure] - before) / n / 1024;
  release();
  return { value, unit: 'KB/greenlet' };
}

/** Producer puts 1M items, consumer gets them; `maxsize` null = unbounded. */
async function queueCase(/** @type {number | null} */ maxsize) {
  const n = 1_000_000;
  if (gh) {
    const value = await rate(async (k) => {
      const q = new gh.Queue(maxsize);
      const producer = gh.spawn(async () => {
        for (let i = 0; i < k; i++) await q.put(i);
      });
      const consumer = gh.spawn(async () => {
        for (let i = 0; i < k; i++) await q.get();
      });
      await gh.joinAll([producer, consumer]);
    }, n);
    return { value, unit: 'items/s' };
  }
  const value = await rate(async (k) => {
    const q = new PlainQueue(maxsize ?? Number.POSITIVE_INFINITY);
    const producer = (async () => {
      for (let i = 0; i < k; i++) await q.put(i);
    })();
    const consumer = (async () => {
      for (let i = 0; i < k; i++) await q.get();
    })();
    await Promise.all([producer, consumer]);
  }, n);
  return { value, unit: 'items/s' };
}

/** The floor: the simplest correct promise queue (items, waiting getters, waiting putters). */
class PlainQueue {
  constructor(/** @type {number} */ maxsize) {
    this.maxsize = maxsize;
    /** @type {unknown[]} */ this.items = [];
    /** @type {((v: unknown) => void)[]} */ this.getters = [];
    /** @type {(() => void)[]} */ this.putters = [];
  }
  /** @param {unknown} item */
  async put(item) {
    const getter = this.getters.shift();
    if (getter) return getter(item);
    while (this.items.length >= this.maxsize)
      await new Promise((r) => this.putters.push(/** @type {() => void} */ (r)));
    this.items.push(item);
  }
  get() {
    if (this.items.length > 0) {
      const item = this.items.shift();
      this.putters.shift()?.();
      return Promise.resolve(item);
    }
    return new Promise((r) => this.getters.push(r));
  }
}

const run = cases[caseName];
if (!run || !['greenhub', 'floor', 'floor-als', 'floor-ctx'].includes(impl)) {
  console.error(
    `usage: node --expose-gc bench/hub-cases.js <${Object.keys(cases).join('|')}> <greenhub|floor|floor-als|floor-ctx>`,
  );
  process.exit(2);
}
console.log(JSON.stringify(await run()));
