// Cost of patching (issue 4's performance table). Each case runs the patched function and the
// original it replaced (getOriginal(): the unpatched function) in the same process, in alternating
// rounds, inside a greenlet and outside any. Time is the process's CPU time (user + system, all its
// threads) per operation: what the patch costs, without the idle waits (a timer's 1 ms) and without
// the time other processes take on a shared machine. A case's ratio is the median of the per-round
// ratios (a patched round over the original round next to it); the times shown are medians too.
//
//   npm run build && node bench/patch.js      (about 30 s; --quick: 5 rounds a case, about 10 s)
//
// Writes bench/results/patch.json.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import { setTimeout as delayPatched } from 'node:timers/promises';
import { spawn } from 'greenhub';
import { getOriginal, patchAll } from 'greenhub/patch';
import { progress, quick, writeResults } from './lib.js';

patchAll({ signal: false, blocking: 'count' });

const ROUNDS = quick ? 5 : 21;
const BUDGET_MS = 45_000;
const started = performance.now();

/**
 * @typedef {() => unknown} Work  one round of a workload
 * @typedef {{ greenhub: number, baseline: number, ratio: number }} Comparison
 */

/** @param {number[]} xs */
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

/**
 * Time `ops` operations of both variants in alternating rounds; µs per operation.
 * @param {number} ops
 * @param {Work} patched
 * @param {Work} original
 * @param {number} rounds
 * @returns {Promise<Comparison>}
 */
async function compare(ops, patched, original, rounds = ROUNDS) {
  /** @param {Work} work */
  const time = async (work) => {
    const t = process.cpuUsage();
    await work();
    const { user, system } = process.cpuUsage(t);
    return (user + system) / ops;
  };
  /** @type {number[]} */ const greenhub = [];
  /** @type {number[]} */ const baseline = [];
  /** @type {number[]} */ const ratios = [];
  for (let round = 0; round < rounds && performance.now() - started < BUDGET_MS; round++) {
    const first = round % 2 === 0;
    const a = await time(first ? original : patched);
    const b = await time(first ? patched : original);
    const [o, p] = first ? [a, b] : [b, a];
    baseline.push(o);
    greenhub.push(p);
    ratios.push(p / o);
  }
  return { greenhub: median(greenhub), baseline: median(baseline), ratio: median(ratios) };
}

/**
 * Run `work` in a fresh greenlet (`inside`) or at top level.
 * @param {boolean} inside
 * @param {Work} work
 * @returns {Work}
 */
const placed = (inside, work) => (inside ? () => spawn(work).get() : work);

const server = http.createServer((_req, res) => res.end('pong'));
await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
const url = `http://127.0.0.1:${port}/`;
const smallFile = new URL('../package.json', import.meta.url);

const TIMERS = 2_000; // concurrent timers per batch
const BATCHES = 5; // batches per round
const READS = 300;
const FETCHES = 150;

/** @type {{ name: string, target: number, ops: number, patched: Work, original: Work }[]} */
const workloads = [];
{
  const st = globalThis.setTimeout;
  const st0 = /** @type {typeof setTimeout} */ (getOriginal('timers', 'setTimeout'));
  /** @param {typeof setTimeout} set */
  const timers = (set) => () =>
    Promise.all(Array.from({ length: TIMERS }, () => new Promise((r) => set(r, 0))));
  workloads.push({
    name: 'setTimeout(0)',
    target: 1.1,
    ops: TIMERS,
    patched: timers(st),
    original: timers(st0),
  });

  const d0 = /** @type {typeof delayPatched} */ (getOriginal('timers/promises', 'setTimeout'));
  /** @param {typeof delayPatched} delay */
  const delays = (delay) => async () => {
    for (let b = 0; b < BATCHES; b++) await Promise.all(Array.from({ length: TIMERS }, () => delay(0)));
  };
  workloads.push({
    name: 'timers/promises.setTimeout(0)',
    target: 1.1,
    ops: TIMERS * BATCHES,
    patched: delays(delayPatched),
    original: delays(d0),
  });

  const rf0 = /** @type {typeof fsp.readFile} */ (getOriginal('fs/promises', 'readFile'));
  /** @param {typeof fsp.readFile} readFile */
  const reads = (readFile) => async () => {
    for (let i = 0; i < READS; i++) await readFile(smallFile);
  };
  workloads.push({
    name: 'fs.promises.readFile (small file)',
    target: 1.05,
    ops: READS,
    patched: reads(fsp.readFile),
    original: reads(rf0),
  });

  const f0 = /** @type {typeof fetch} */ (getOriginal(globalThis, 'fetch'));
  const text = Response.prototype.text;
  const text0 = /** @type {typeof text} */ (getOriginal(Response.prototype, 'text'));
  /** @param {typeof fetch} fetchFn @param {typeof text} readText */
  const fetches = (fetchFn, readText) => async () => {
    for (let i = 0; i < FETCHES; i++) await readText.call(await fetchFn(url));
  };
  workloads.push({
    name: 'fetch 127.0.0.1 + text()',
    target: 1.05,
    ops: FETCHES,
    patched: fetches(globalThis.fetch, text),
    original: fetches(f0, text0),
  });
}

/** @type {{ name: string, unit: string, greenhub: number, baseline: number, baselineName: string, ratio: number, target: string, met: boolean }[]} */
const cases = [];
/** @param {number} x @param {number} [digits] */
const round = (x, digits = 2) => Number(x.toFixed(digits));

for (const workload of workloads) {
  for (const inside of [true, false]) {
    const patched = placed(inside, workload.patched);
    const original = placed(inside, workload.original);
    await patched(); // warm up both
    await original();
    const target = inside ? workload.target : 1.03;
    const { greenhub, baseline, ratio } = await compare(workload.ops, patched, original);
    cases.push({
      name: `${workload.name}, ${inside ? 'inside a greenlet' : 'outside any greenlet'}`,
      unit: 'µs CPU/op',
      greenhub: round(greenhub),
      baseline: round(baseline),
      baselineName: 'the unpatched original (getOriginal), same place',
      ratio: round(ratio, 3),
      target: `≤ ${target.toFixed(2)}×`,
      met: ratio <= target,
    });
    progress(/** @type {(typeof cases)[number]} */ (cases.at(-1)));
  }
}

// The blocking-call wrapper, per call, on a cheap synchronous call.
{
  const patched = fs.existsSync;
  const original = /** @type {typeof fs.existsSync} */ (getOriginal(fs, 'existsSync'));
  const CALLS = 200_000;
  /** @param {typeof fs.existsSync} existsSync */
  const loop = (existsSync) => () => {
    for (let i = 0; i < CALLS; i++) existsSync('/');
  };
  loop(patched)();
  loop(original)();
  const { greenhub, baseline, ratio } = await compare(CALLS, loop(patched), loop(original));
  const overheadNs = (greenhub - baseline) * 1000;
  cases.push({
    name: `blocking-call timing wrapper: fs.existsSync, ${round(overheadNs, 0)} ns added per call`,
    unit: 'ns CPU/call',
    greenhub: round(greenhub * 1000, 0),
    baseline: round(baseline * 1000, 0),
    baselineName: 'the unwrapped fs.existsSync',
    ratio: round(ratio, 3),
    target: 'overhead ≤ 500 ns',
    met: overheadNs <= 500,
  });
  progress(/** @type {(typeof cases)[number]} */ (cases.at(-1)));
}

server.close();

writeResults('patch', { command: `node bench/patch.js${quick ? ' --quick' : ''}`, cases });

const header = ['case', 'patched', 'original', 'ratio', 'target', 'met'];
const rows = cases.map((c) => [
  c.name,
  `${c.greenhub} ${c.unit}`,
  `${c.baseline} ${c.unit}`,
  `${c.ratio}×`,
  c.target,
  c.met ? 'yes' : 'NO',
]);
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
/** @param {string[]} cells */
const line = (cells) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
const seconds = Math.round((performance.now() - started) / 1000);
console.log(`greenhub patch benchmarks: node ${process.version}, ${os.cpus().length} CPUs, ${seconds} s`);
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const row of rows) console.log(line(row));
console.log('\nwritten: bench/results/patch.json');
