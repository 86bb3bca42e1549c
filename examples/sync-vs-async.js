// Ten tasks that each sleep a random short time: run one after another, then as greenlets.
// The synchronous run takes the sum of the sleeps; the asynchronous one about the longest sleep.
import { joinAll, sleep, spawn } from 'greenhub';

const delays = Array.from({ length: 10 }, () => 20 + Math.floor(Math.random() * 80)); // 20–99 ms

/** @param {number} pid */
async function task(pid) {
  await sleep(delays[pid]);
  console.log(`Task ${pid} done (slept ${delays[pid]} ms)`);
}

async function synchronous() {
  for (let i = 0; i < 10; i++) await task(i);
}

async function asynchronous() {
  await joinAll(delays.map((_, i) => spawn(task, i)));
}

const sum = delays.reduce((a, b) => a + b, 0);
const longest = Math.max(...delays);

console.log('Synchronous:');
let start = performance.now();
await synchronous();
console.log(`synchronous took ${Math.round(performance.now() - start)} ms (sum of sleeps: ${sum} ms)`);

console.log('Asynchronous:');
start = performance.now();
await asynchronous();
console.log(`asynchronous took ${Math.round(performance.now() - start)} ms (longest sleep: ${longest} ms)`);
