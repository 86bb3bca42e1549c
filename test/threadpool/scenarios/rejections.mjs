// Who hears about a failed pool call: a caller who drops the promise of a call that fails gets an
// unhandled rejection (as for any promise), a caller who awaits it gets the error, and nothing is
// reported twice. Prints one line per process event, then `done`.
import { ThreadPool, task } from 'greenhub/threadpool';

const TASKS = new URL('../fixtures/tasks.mjs', import.meta.url);
process.on('unhandledRejection', (reason) => console.log(`unhandledRejection ${String(reason)}`));
process.on('warning', (warning) => console.log(`warning ${warning.name}`));

const fail = task(TASKS, 'fail');
const pool = new ThreadPool({ maxThreads: 1 });
const turn = () => new Promise((resolve) => setImmediate(resolve));

// Awaited: the caller gets the error, nothing else does.
await pool.apply(fail, 'type').catch((error) => console.log(`caught ${error.name}`));
// Dropped: the failure is not lost.
pool.apply(fail, 'range');
await pool.apply(task(TASKS, 'add'), 1, 1); // the dropped call has failed by now (one thread, FIFO)
await turn();
// Dropped, refused at once (its signal had aborted): not lost either.
pool.withOptions({ signal: AbortSignal.abort(new Error('aborted before the call')) }).apply(fail, 'type');
await turn();
await pool.close();
await turn();
console.log('done');
