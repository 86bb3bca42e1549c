// The run-queue shape of bench/switch.js in greenhub: N greenlets each burn SLICE ms of CPU between
// sleep(0)s for SECONDS; a UDP socket records how late each datagram of the sender is seen.
// Prints one JSON line: { p50, p99, max, n } in ms. Args: <switchIntervalMs|none> [n] [slice] [seconds]
import { fork } from 'node:child_process';
import dgram from 'node:dgram';
import { getHub, joinAll, sleep, spawn } from 'greenhub';

const [interval, n = 200, slice = 0.5, seconds = 3] = process.argv.slice(2);
if (interval !== 'none') getHub().switchIntervalMs = Number(interval);
else getHub().switchIntervalMs = 1e9; // effectively none: a whole turn of the run queue at once

const socket = dgram.createSocket('udp4');
await new Promise((resolve) => socket.bind(0, '127.0.0.1', () => resolve(undefined)));
/** @type {number[]} */
const delays = [];
socket.on('message', (m) => delays.push(Number(process.hrtime.bigint() - BigInt(m.toString())) / 1e6));
const sender = fork(new URL('./sender.mjs', import.meta.url), [String(socket.address().port), '5']);

let stop = false;
const burn = (/** @type {number} */ ms) => {
  const t = performance.now();
  while (performance.now() - t < ms);
};
const workers = [];
for (let i = 0; i < Number(n); i++)
  workers.push(
    spawn(async () => {
      while (!stop) {
        burn(Number(slice));
        await sleep(0);
      }
    }),
  );
await new Promise((resolve) => setTimeout(resolve, Number(seconds) * 1000));
stop = true;
await joinAll(workers);
sender.kill();
socket.close();
delays.sort((a, b) => a - b);
const q = (/** @type {number} */ p) => delays[Math.min(delays.length - 1, Math.floor(p * delays.length))];
console.log(JSON.stringify({ p50: q(0.5), p99: q(0.99), max: delays.at(-1), n: delays.length }));
