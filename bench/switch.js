// The hub's switch interval (issue 16): how late a ready socket is seen while the run queue is busy.
// 200 greenlets each burn 0.5 ms of CPU between sleep(0)s; a separate process sends a UDP datagram
// every 5 ms; the receiver records each one's delay. greenhub with its default switch interval
// (5 ms), greenhub with none (a whole turn of the run queue at once, as before), and gevent
// (Debian's python3-gevent, when installed) on the same shape, interleaved, 3 runs each.
//
//   npm run build && node bench/switch.js      (about 40 s; --quick: one run each, about 15 s)
//
// Writes bench/results/switch.json.
import { benchDir, fmt, geventPython, median, quick, runJson, writeResults } from './lib.js';

const reps = quick ? 1 : 3;
const gevent = geventPython();
/** @type {Record<string, { p50: number[], p99: number[] }>} */
const samples = { greenhub: { p50: [], p99: [] }, none: { p50: [], p99: [] }, gevent: { p50: [], p99: [] } };
for (let i = 0; i < reps; i++) {
  for (const [impl, args] of /** @type {[string, string[]][]} */ ([
    ['greenhub', [`${benchDir}switch/greenhub.mjs`, '5']],
    ['none', [`${benchDir}switch/greenhub.mjs`, 'none']],
  ])) {
    const r = /** @type {any} */ (runJson(process.execPath, args));
    samples[impl]?.p50.push(r.p50);
    samples[impl]?.p99.push(r.p99);
  }
  if (gevent.python) {
    const r = /** @type {any} */ (
      runJson(gevent.python, [`${benchDir}switch/gevent_io.py`, `${benchDir}switch/sender.mjs`])
    );
    samples.gevent?.p50.push(r.p50);
    samples.gevent?.p99.push(r.p99);
  }
}
const m = (/** @type {number[] | undefined} */ xs) => (xs?.length ? median(xs) : Number.NaN);
const cases = [];
for (const q of /** @type {const} */ (['p50', 'p99'])) {
  const ours = m(samples.greenhub?.[q]);
  const theirs = m(samples.gevent?.[q]);
  cases.push({
    name: `UDP delay under a busy run queue, ${q} (switch interval 5 ms vs gevent)`,
    unit: 'ms',
    greenhub: ours,
    baseline: theirs,
    baselineName: gevent.label,
    ratio: ours / theirs,
    target: '≤ 1.3 × gevent',
    met: ours <= 1.3 * theirs,
  });
  cases.push({
    name: `UDP delay under a busy run queue, ${q} (switch interval 5 ms vs none)`,
    unit: 'ms',
    greenhub: ours,
    baseline: m(samples.none?.[q]),
    baselineName: 'greenhub without a switch interval (before issue 16), same run',
    ratio: ours / m(samples.none?.[q]),
    target: 'lower',
    met: ours < m(samples.none?.[q]),
  });
}
for (const c of cases) console.log(`${c.name}: ${fmt(c.greenhub)} vs ${fmt(c.baseline)} ms`);
writeResults('switch', {
  command: `node bench/switch.js${quick ? ' --quick' : ''}`,
  gevent: gevent.label,
  cases,
  notes: [
    `200 greenlets × 0.5 ms slices between sleep(0)s; a datagram every 5 ms from another process; 3 s per run, medians of ${reps} interleaved runs. Ratios below 1× are better here (a delay).`,
  ],
});
