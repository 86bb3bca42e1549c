// A greenlet waits on a SharedEvent that a daemon thread sets 200 ms later: Node's loop has nothing
// pending (a daemon thread is unref'd, a waitAsync does not count), yet no LoopExit while a thread
// lives that could set it. Then a wait on a SharedEvent no thread can set: LoopExit.
import { SharedEvent, Thread, task } from 'greenhub/threadpool';

const tasks = new URL('../fixtures/tasks.mjs', import.meta.url);
const event = new SharedEvent();
new Thread({ target: task(tasks, 'setLater'), args: [event, 200], daemon: true }).start();
console.log(`woken ${await event.wait()}`);
try {
  await new SharedEvent().wait();
  console.log('woken again');
} catch (error) {
  const { name, message } = /** @type {Error} */ (error);
  console.log(`${name}: ${message.split('\n')[0]}`);
}
