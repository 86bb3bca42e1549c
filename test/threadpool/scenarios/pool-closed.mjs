// A greenlet waits for something only a pool task would do; the pool closes before the task can
// deliver. From then on nothing can wake the waiter: LoopExit, not a silent exit.
import { Event, getHub, spawn } from 'greenhub';
import { ThreadPool, task } from 'greenhub/threadpool';

getHub().onError = () => {}; // the task's greenlet fails with PoolClosedError: expected here
const pool = new ThreadPool({ maxThreads: 1 });
const done = new Event();
spawn(async () => {
  await pool.apply(task(new URL('../fixtures/tasks.mjs', import.meta.url), 'delayed'), 60_000);
  done.set();
});
spawn(() => pool.close({ timeout: 100 }));
try {
  await done.wait();
  console.log('set');
} catch (error) {
  const { name, message } = /** @type {Error} */ (error);
  console.log(`${name}: ${message.split('\n')[0]}`);
}
