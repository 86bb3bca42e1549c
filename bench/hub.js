// The hub's hot paths next to their floors, measured in one run: `node bench/hub.js [--reps N]`
// (5 repetitions, gevent's figures beside them when installed); `--quick`: 2 repetitions of 2 timed
// runs each instead of 3, no gevent; `--case=ID`: that case only, replaced in the results file.
// Every measurement is a fresh process (bench/hub-cases.js), so the plain-Node floor never shares
// a process with greenhub's AsyncLocalStorage; implementations are interleaved, medians kept.
// A ratio to a floor is the median of the repetitions' own ratios (greenhub's run against the
// floor's run beside it), not the ratio of the medians: on a shared machine whose speed drifts by
// a factor between minutes, runs next to each other are the fair comparison.
import {
  amendResults,
  benchDir,
  fmt,
  geventPython,
  median,
  onlyCase as only,
  quick,
  runJson,
  writeResults,
} from './lib.js';

const option = (/** @type {string} */ name) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? undefined : process.argv[i + 1];
};
const reps = Number(option('--reps')) || (quick ? 2 : 5);
const out = option('--out') ?? 'hub';

/**
 * name, description, and the target: either a ratio to the plain floor ("higher"/"lower" is
 * better) or an absolute bound. `gevent: false`: gevent has no such figure.
 * `met` reads greenhub's median (`greenhub`) and the median ratio to the plain floor (`ratio`).
 * @type {{ id: string, name: string, target: string, met: (r: { greenhub: number, ratio: number }) => boolean, gevent?: false }[]}
 */
const cases = [
  {
    id: 'spawn-join',
    name: 'spawn + joinAll, 100k trivial greenlets',
    target: '≥ 0.5 × floor',
    met: (r) => r.ratio >= 0.5,
  },
  {
    id: 'sleep0-pingpong',
    name: 'two greenlets ping-pong with sleep(0)',
    target: '≥ 0.7 × floor',
    met: (r) => r.ratio >= 0.7,
  },
  { id: 'event-handoff', name: 'Event handoff ping-pong', target: '≥ 2M/s', met: (r) => r.greenhub >= 2e6 },
  {
    id: 'queue-unbounded',
    name: 'Queue put/get, 1M items, unbounded',
    target: '≥ 0.6 × floor',
    met: (r) => r.ratio >= 0.6,
  },
  {
    id: 'queue-100',
    name: 'Queue put/get, 1M items, maxsize 100',
    target: '≥ 0.6 × floor',
    met: (r) => r.ratio >= 0.6,
  },
  {
    id: 'idle-memory',
    name: 'memory per idle greenlet (100k waiting on an Event), process RSS growth',
    target: '≤ 1.5 KB',
    met: (r) => r.greenhub <= 1.5,
  },
  {
    id: 'idle-heap',
    name: 'memory per idle greenlet (100k waiting on an Event), V8 heap kept after a full GC',
    target: '≤ 1.0 KB',
    met: (r) => r.greenhub <= 1.0,
    gevent: false,
  },
  {
    id: 'timeout-start-cancel',
    name: 'Timeout start + cancel',
    target: '≥ 1.5 × floor',
    met: (r) => r.ratio >= 1.5,
  },
];

const floors = {
  'spawn-join': 'async fn with one await + Promise.all',
  'sleep0-pingpong': 'setImmediate ping-pong',
  'event-handoff': 'promise handoff',
  'queue-unbounded': 'plain promise queue',
  'queue-100': 'plain promise queue, bounded',
  'idle-memory': 'pending async fn',
  'idle-heap': 'pending async fn',
  'timeout-start-cancel': 'setTimeout + clearTimeout',
};

const gevent = quick ? { python: null, label: 'gevent not run (--quick)' } : geventPython();
const results = [];
for (const c of cases) {
  if (only && c.id !== only) continue;
  /** @type {Record<string, number[]>} */
  const samples = { greenhub: [], floor: [], 'floor-als': [], 'floor-ctx': [], gevent: [] };
  let unit = '';
  for (let i = 0; i < reps; i++) {
    for (const impl of c.id === 'spawn-join'
      ? ['floor', 'greenhub', 'floor-als', 'floor-ctx']
      : ['floor', 'greenhub', 'floor-als']) {
      const r = runJson(process.execPath, [
        '--expose-gc',
        `${benchDir}hub-cases.js`,
        c.id,
        impl,
        ...(quick ? ['--quick'] : []),
      ]);
      samples[impl]?.push(r.value);
      unit = r.unit;
    }
    if (gevent.python && c.gevent !== false && i < 3)
      samples.gevent?.push(runJson(gevent.python, [`${benchDir}gevent/hub_cases.py`, c.id]).value);
  }
  /** @type {Record<string, number>} */
  const r = Object.fromEntries(
    Object.entries(samples)
      .filter(([, v]) => v.length)
      .map(([k, v]) => [k, median(v)]),
  );
  const lowerIsBetter = unit.startsWith('KB');
  /** Median over the repetitions of greenhub's figure divided by `floor`'s in the same repetition. */
  const ratioTo = (/** @type {string} */ floor) => {
    const base = samples[floor] ?? [];
    return base.length === 0
      ? null
      : median(samples.greenhub.map((g, i) => g / /** @type {number} */ (base[i])));
  };
  const ratio = /** @type {number} */ (ratioTo('floor'));
  const row = {
    id: c.id,
    name: c.name,
    unit,
    floorName: floors[/** @type {keyof floors} */ (c.id)],
    greenhub: r.greenhub,
    floor: r.floor,
    floorAls: r['floor-als'],
    floorCtx: r['floor-ctx'] ?? null,
    gevent: r.gevent ?? null,
    ratio,
    ratioAls: ratioTo('floor-als'),
    ratioCtx: ratioTo('floor-ctx'),
    vsGevent: r.gevent ? (lowerIsBetter ? r.gevent / r.greenhub : r.greenhub / r.gevent) : null,
    target: c.target,
    met: c.met({ greenhub: r.greenhub, ratio }),
    spread: { greenhub: [Math.min(...samples.greenhub), Math.max(...samples.greenhub)] },
  };
  results.push(row);
  console.log(
    `${c.name.padEnd(52)} greenhub ${fmt(row.greenhub).padStart(7)}  floor ${fmt(row.floor).padStart(7)} (${row.ratio.toFixed(2)}×)  ` +
      `floor+ALS ${fmt(row.floorAls).padStart(7)}  gevent ${fmt(row.gevent).padStart(7)}  ${unit}  ${row.met ? 'met' : 'MISSED'} ${c.target}`,
  );
}

const command = `node bench/hub.js --reps ${reps}${quick ? ' --quick' : ''}${only ? ` --case=${only}` : ''}${out === 'hub' ? '' : ` --out ${out}`}`;
// `--case=ID` re-measures that case and keeps the others of the results file.
if (only)
  amendResults(
    out,
    results,
    (c) => c.id === only,
    command,
    cases.map((c) => c.id),
  );
else writeResults(out, { command, gevent: gevent.label, reps, cases: results });
