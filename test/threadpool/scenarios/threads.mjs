// A daemon thread nobody joins does not keep the process alive; joining it does; a non-daemon
// thread keeps the process alive until it ends, as in Python.
import { Thread, task } from 'greenhub/threadpool';

const tasks = new URL('../fixtures/tasks.mjs', import.meta.url);
const start = performance.now();
const joined = new Thread({ target: task(tasks, 'delayed'), args: [200], daemon: true });
joined.start();
console.log(`joined daemon ${await joined.join()} after ${Math.round(performance.now() - start) >= 200}`);
if (process.argv[2] === 'daemon') {
  new Thread({ target: task(tasks, 'spin'), args: [60_000], daemon: true }).start();
} else {
  new Thread({ target: task(tasks, 'delayed'), args: [300] }).start();
}
process.on('exit', () => console.log(`exit after ${Math.round(performance.now() - start)} ms`));
