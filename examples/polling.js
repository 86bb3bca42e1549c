// Three greenlets: two "poll" for 2 s on something that never happens, one does other work for
// 1 s meanwhile. All three run concurrently, so the whole thing ends after about 2 s, not 5 s.
import { Event, joinAll, sleep, spawn } from 'greenhub';

const start = performance.now();
const tic = () => `at ${((performance.now() - start) / 1000).toFixed(1)} seconds`;

async function poller() {
  console.log(`Started Polling: ${tic()}`);
  await new Event().wait(2000); // nobody sets it: returns false after 2 s
  console.log(`Ended Polling: ${tic()}`);
}

async function worker() {
  console.log(`Hey lets do some stuff while the greenlets poll, ${tic()}`);
  await sleep(1000);
}

await joinAll([spawn(poller), spawn(poller), spawn(worker)]);
console.log(`All done ${tic()}`);
