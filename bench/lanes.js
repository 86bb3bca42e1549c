// Priority lanes against piscina's FIFO queue, in the same run: `node bench/lanes.js [--quick]` (after
// a build; --quick: one 2 s round each instead of three of 3 s).
//
// A batch producer keeps both threads saturated: BATCH_IN_FLIGHT tasks of BATCH_MS each are always
// submitted (a finished one is replaced at once), so piscina's queue is never empty. Meanwhile an
// interactive call of INTERACTIVE_MS arrives every ARRIVAL_MS (open loop). Its wait is the time
// from its call to its start on a thread (the task stamps `performance.timeOrigin + now()`, a
// clock shared by the threads).
//
//   FIFO:  both kinds through `pool.apply`: the interactive call waits behind every queued batch task.
//   lanes: batch through `pool.lane('batch', { priority: 0 })`, interactive through
//          `pool.lane('interactive', { priority: 10 })`: it waits for the next free thread only.
//
// Target (issue 14): lanes' interactive p99 wait ≤ one batch task's duration + 5 ms. Results: a
// table on stdout and bench/results/lanes.json.
import { ThreadPool, task } from 'greenhub/threadpool';
import { median, quick, writeResults } from './lib.js';

const TASKS = new URL('./fixtures/tasks.js', import.meta.url);
const stamp =
  /** @type {import('greenhub/threadpool').TaskRef<typeof import('./fixtures/tasks.js').stamp>} */ (
    task(TASKS, 'stamp')
  );
const THREADS = 2;
const BATCH_MS = 20;
const BATCH_IN_FLIGHT = 12;
const INTERACTIVE_MS = 1;
const ARRIVAL_MS = 30;
const DURATION_MS = quick ? 2_000 : 3_000;
const ROUNDS = quick ? 1 : 3;

const epoch = () => performance.timeOrigin + performance.now();
/** @param {number[]} values @param {number} p */
const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return /** @type {number} */ (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]);
};

/**
 * One run: the batch producer and the interactive arrivals for DURATION_MS.
 * @param {boolean} lanes
 * @returns {Promise<{ waits: number[], batchDone: number }>}
 */
async function run(lanes) {
  const pool = new ThreadPool({ maxThreads: THREADS, minThreads: THREADS, name: lanes ? 'lanes' : 'fifo' });
  const batch = lanes ? pool.lane('batch', { priority: 0 }) : pool;
  const interactive = lanes ? pool.lane('interactive', { priority: 10 }) : pool;
  // Warm both threads.
  await Promise.all([pool.apply(stamp, 0), pool.apply(stamp, 0)]);
  let stop = false;
  let batchDone = 0;
  const producer = async () => {
    while (!stop) {
      await batch.apply(stamp, BATCH_MS);
      batchDone++;
    }
  };
  const producers = Array.from({ length: BATCH_IN_FLIGHT }, producer);
  /** @type {Promise<number>[]} */
  const waits = [];
  const start = performance.now();
  for (let i = 0; performance.now() - start < DURATION_MS; i++) {
    const due = start + i * ARRIVAL_MS;
    const ahead = due - performance.now();
    if (ahead > 0) await new Promise((r) => setTimeout(r, ahead));
    const called = epoch();
    waits.push(interactive.apply(stamp, INTERACTIVE_MS).then((started) => started - called));
  }
  const result = await Promise.all(waits);
  stop = true;
  await Promise.all(producers);
  await pool.close();
  return { waits: result, batchDone };
}

const fifo = [];
const lanes = [];
for (let r = 0; r < ROUNDS; r++) {
  fifo.push(await run(false));
  lanes.push(await run(true));
}
const p99 = (/** @type {{ waits: number[] }[]} */ runs) => median(runs.map((x) => percentile(x.waits, 99)));
const p50 = (/** @type {{ waits: number[] }[]} */ runs) => median(runs.map((x) => percentile(x.waits, 50)));
const throughput = (/** @type {{ batchDone: number }[]} */ runs) =>
  median(runs.map((x) => (x.batchDone * 1000) / DURATION_MS));
const target = BATCH_MS + 5;
const cases = [
  {
    name: `interactive p99 wait, ${THREADS} threads saturated by ${BATCH_MS} ms batch tasks (${BATCH_IN_FLIGHT} in flight)`,
    unit: 'ms',
    greenhub: p99(lanes),
    baseline: p99(fifo),
    baselineName: 'FIFO: pool.apply',
    ratio: p99(fifo) / p99(lanes),
    target: `≤ ${target} ms (one batch task + 5 ms)`,
    met: p99(lanes) <= target,
  },
  {
    name: 'interactive p50 wait, same load',
    unit: 'ms',
    greenhub: p50(lanes),
    baseline: p50(fifo),
    baselineName: 'FIFO: pool.apply',
    ratio: p50(fifo) / p50(lanes),
    target: `≤ ${target} ms`,
    met: p50(lanes) <= target,
  },
  {
    name: 'batch tasks finished per second, same load',
    unit: 'tasks/s',
    greenhub: throughput(lanes),
    baseline: throughput(fifo),
    baselineName: 'FIFO: pool.apply',
    ratio: throughput(lanes) / throughput(fifo),
    target: '≥ 0.9 × FIFO',
    met: throughput(lanes) >= 0.9 * throughput(fifo),
  },
];
for (const c of cases)
  console.log(
    `${c.name}: lanes ${c.greenhub.toFixed(2)} ${c.unit}, ${c.baselineName} ${c.baseline.toFixed(2)} ${c.unit} (target ${c.target}: ${c.met ? 'met' : 'NOT met'})`,
  );
writeResults('lanes', {
  command: `node bench/lanes.js${quick ? ' --quick' : ''}`,
  cases,
  notes: [
    `Interactive calls of ${INTERACTIVE_MS} ms arrive every ${ARRIVAL_MS} ms for ${DURATION_MS / 1000} s; median of ${ROUNDS} rounds, FIFO and lanes alternating. Wait: from the call to the task's start on a thread.`,
  ],
});
