/**
 * The blocking monitor's watchdog: the source of a worker thread (run with `eval: true`, so that it
 * works the same from `dist/` and from a test runner that loads `src/` as TypeScript).
 *
 * It polls two numbers the hub's thread writes into shared memory: a heartbeat (bumped by a timer
 * every `pollMs`, so it moves whenever the event loop turns) and the hub's switch counter (bumped
 * at every greenlet start and wake-up). When neither moved for `maxMs`, one piece of code has held
 * the thread that long: a block has begun. Because this thread is not the blocked one, it sees the
 * block *while it lasts*:
 *
 * - it reads the blocking-API slot the patch layer sets around synchronous calls;
 * - it asks the hub's thread, through the inspector (`Session.connectToMainThread()`), to evaluate
 *   a probe that returns the current greenlet and the stack. V8 runs that request as an interrupt
 *   of the running JavaScript, so it lands inside a busy loop; during a native call (`readFileSync`,
 *   `Atomics.wait`) it lands as soon as JavaScript resumes, still in the blocking greenlet's context;
 * - if the block goes on past `noticeMs` it prints a "still blocked" line on fd 2 itself (the
 *   blocked thread cannot), doubling the interval each time, so an endless loop is visible.
 *
 * When a number moves again the block has ended; its duration (±`pollMs`) and what was learnt are
 * posted to the hub's thread, which counts, emits and prints the report (monitor.ts).
 *
 * Messages: the hub's thread sends `'stop'` and, once told `'disconnected'`, `'exit'`; this thread
 * sends reports (objects) and `'disconnected'`.
 */
export const WATCHDOG_SOURCE = String.raw`'use strict';
const { workerData, parentPort, receiveMessageOnPort } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const { sab, apiPort, maxMs, pollMs, noticeMs, print, probe, names, probeExpression } = workerData;
const switches = new Float64Array(sab, 0, 1);
const slots = new Int32Array(sab, 8, 4); // [heartbeat, api id, greenlet id at the api call, unused]
const apiNames = names.slice();
const clock = () => performance.now();

let session = null;
if (probe) {
  try {
    const { Session } = require('node:inspector');
    session = new Session();
    session.connectToMainThread();
  } catch {
    session = null; // Node built without the inspector: reports carry no greenlet or stack
  }
}

function drainNames() {
  let m;
  while ((m = receiveMessageOnPort(apiPort)) !== undefined) apiNames[m.message.id] = m.message.name;
}

function currentApi() {
  const id = Atomics.load(slots, 1);
  if (id === 0) return null;
  if (apiNames[id] === undefined) drainNames();
  return { name: apiNames[id] ?? null, greenlet: Atomics.load(slots, 2) };
}

let lastBeat = Atomics.load(slots, 0);
let lastSwitches = switches[0];
let lastChange = clock();
let block = null;

function begin() {
  block = { start: lastChange, api: currentApi(), probe: null, probing: false, probes: 0, durationMs: -1, sent: false, timer: null, notice: noticeMs };
  startProbe(block);
}

// Ask the hub's thread what it runs. A probe that comes back stale (it ran after the block) or
// without a stack (the interrupt landed where no frame was visible) is retried while the block
// lasts, up to three times.
function startProbe(b) {
  if (session === null || b.probing || b.probes >= 3) return;
  b.probing = true;
  b.probes++;
  // The probe checks that the heartbeat and the switch counter still hold the values seen here:
  // if this thread was starved and the probe ran after the block, it describes other code.
  const expression = probeExpression + '(' + lastBeat + ', ' + lastSwitches + ')';
  session.post('Runtime.evaluate', { expression, returnByValue: true, silent: true }, (err, res) => {
    b.probing = false;
    if (!err && res && res.result && typeof res.result.value === 'string') {
      try {
        const p = JSON.parse(res.result.value);
        if (!p.stale && (p.stack || b.probe === null)) b.probe = p;
      } catch {}
    }
    if (b.durationMs >= 0) send(b);
  });
}

function end(t) {
  const b = block;
  block = null;
  b.durationMs = t - b.start;
  if (!b.probing) send(b);
  // A probe still in flight answers as soon as the hub's thread runs JavaScript again.
  else b.timer = setTimeout(send, 250, b);
}

function send(b) {
  if (b.sent) return;
  b.sent = true;
  if (b.timer !== null) clearTimeout(b.timer);
  parentPort.postMessage({ durationMs: b.durationMs, api: b.api, probe: b.probe });
}

function describe(b) {
  const p = b.probe;
  let where = '';
  if (p !== null) where = p.id === 0 ? ' by code outside any greenlet' : ' by ' + p.label;
  if (b.api !== null && b.api.name !== null) where += ' in ' + b.api.name;
  let frames = '';
  if (p !== null && p.stack) frames = '\n' + p.stack.split('\n').slice(0, 5).join('\n');
  return where + frames;
}

function notice(stalled) {
  const s = (stalled / 1000).toFixed(1);
  try {
    writeSync(2, 'greenhub: the hub has been blocked for ' + s + ' s and still is (maxBlockingTime ' + maxMs + ' ms)' + describe(block) + '\n');
  } catch {}
}

const timer = setInterval(() => {
  const t = clock();
  const beat = Atomics.load(slots, 0);
  const sw = switches[0];
  if (beat !== lastBeat || sw !== lastSwitches) {
    lastBeat = beat;
    lastSwitches = sw;
    if (block !== null) end(t);
    lastChange = t;
    return;
  }
  const stalled = t - lastChange;
  if (block === null) {
    if (stalled >= maxMs) begin();
    return;
  }
  if (block.api === null) block.api = currentApi();
  if (block.probe === null || !block.probe.stack) startProbe(block);
  if (print && stalled >= block.notice) {
    notice(stalled);
    block.notice *= 2;
  }
}, pollMs);

// Stopping. The inspector session is torn down on the hub's thread, which then tells this thread:
// exiting before that is done makes the hub's thread post into this thread's dying inspector, and
// Node aborts the whole process (MainThreadInterface::Post, Node 20 and 24). So: disconnect, say
// so, and exit only once the hub's thread answers, by which time it has run the teardown.
parentPort.on('message', (m) => {
  if (m === 'stop') {
    clearInterval(timer);
    if (session === null) process.exit(0);
    session.disconnect();
    session = null;
    parentPort.postMessage('disconnected');
  } else if (m === 'exit') process.exit(0);
});
`;
