// gevent's first example: two greenlets handing control back and forth with sleep(0).
// https://sdiehl.github.io/gevent-tutorial/#synchronous-asynchronous-execution (foo/bar)
import { joinAll, sleep, spawn } from 'greenhub';

async function foo() {
  console.log('Running in foo');
  await sleep(0);
  console.log('Explicit context switch to foo again');
}

async function bar() {
  console.log('Explicit context to bar');
  await sleep(0);
  console.log('Implicit context switch back to bar');
}

await joinAll([spawn(foo), spawn(bar)]);
