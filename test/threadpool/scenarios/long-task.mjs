// A greenlet joins a 2-second CPU task on a cold pool. While the thread starts, nothing in Node's
// loop is pending (piscina's workers are unref'd): only the pool's waker stands between the join
// and a LoopExit.
import { spawn } from 'greenhub';
import { ThreadPool, task } from 'greenhub/threadpool';

const pool = new ThreadPool({ maxThreads: 1 });
const g = spawn(() => pool.apply(task(new URL('../fixtures/tasks.mjs', import.meta.url), 'spin'), 2000));
await g.join();
console.log(`value ${g.value} exception ${g.exception ?? 'none'}`);
await pool.close();
