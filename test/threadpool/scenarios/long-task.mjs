// A greenlet joins a 2-second task that holds its thread synchronously (as a CPU-bound one does;
// `hold` blocks in Atomics.wait so as not to burn a core other tests need), on a cold pool. The
// pool's waker stands for the task in flight, whatever piscina itself keeps ref'd.
import { spawn } from 'greenhub';
import { ThreadPool, task } from 'greenhub/threadpool';

const pool = new ThreadPool({ maxThreads: 1 });
const g = spawn(() => pool.apply(task(new URL('../fixtures/tasks.mjs', import.meta.url), 'hold'), 2000));
await g.join();
console.log(`value ${g.value} exception ${g.exception ?? 'none'}`);
await pool.close();
