// A pool task spawned as a greenlet fails before its greenlet has even started: the pool is warm,
// and the main thread is busy until the worker's reply is in (it then arrives before the greenlet's
// first turn). The failure must reach the greenlet, and nothing else: no unhandled rejection, no
// PromiseRejectionHandledWarning. Prints one line per round, then the pool's task counts.
import { ThreadPool, task } from 'greenhub/threadpool';

const TASKS = new URL('../fixtures/tasks.mjs', import.meta.url);
process.on('unhandledRejection', (reason) => console.log(`unhandledRejection ${String(reason)}`));
process.on('warning', (warning) => console.log(`warning ${warning.name}`));

const pool = new ThreadPool({ maxThreads: 1, minThreads: 1 });
const ROUNDS = 5;
console.log(`warm ${await pool.apply(task(TASKS, 'add'), 1, 2)}`);
for (let round = 0; round < ROUNDS; round++) {
  const flags = new Int32Array(new SharedArrayBuffer(8));
  const g = pool.spawn(task(TASKS, 'failAfterMark'), flags.buffer, `x${round}`);
  // Block this thread until the task has started (it then throws at once), and a little more, so
  // that its reply is waiting when the event loop turns again: before the greenlet's first turn.
  Atomics.wait(flags, 1, 0, 10_000);
  Atomics.wait(flags, 0, 0, 20);
  await g.join();
  console.log(`joined ${String(g.exception)}`);
}
// A turn of the event loop for late reports (a rejection handled late warns on the next turn).
await new Promise((resolve) => setImmediate(resolve));
await pool.close();
console.log(`tasks ${JSON.stringify(pool.stats().tasks)}`);
