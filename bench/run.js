// `npm run bench`: runs every benchmark area, then writes bench/RESULTS.md from bench/results/*.json.
//
//   node bench/run.js                 all areas on this Node, then RESULTS.md
//   node bench/run.js hub threadpool  only these areas
//   node bench/run.js --node24        also the hub area on Node 24 (npm's node@24 package, via npx)
//   node bench/run.js --render        only rewrite RESULTS.md from the JSON results already there
//
// Areas are the files bench/<area>.js that write bench/results/<area>.json (see bench/lib.js).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { benchDir, fmt, resultsDir } from './lib.js';

const args = process.argv.slice(2);
const known = ['hub', 'threadpool', 'patch', 'metrics'].filter((a) => existsSync(`${benchDir}${a}.js`));
const chosen = args.filter((a) => !a.startsWith('--'));
const areas = chosen.length ? chosen : known;

if (!args.includes('--render')) {
  execFileSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
  for (const area of areas) {
    console.log(`\n== ${area} ==`);
    execFileSync(process.execPath, [`${benchDir}${area}.js`], { stdio: 'inherit' });
  }
  if (args.includes('--node24') && areas.includes('hub')) {
    console.log('\n== hub on Node 24 ==');
    execFileSync('npx', ['--yes', 'node@24', `${benchDir}hub.js`, '--out', 'hub-node24'], {
      stdio: 'inherit',
    });
  }
}

/** @param {string} name */
function load(name) {
  const file = `${resultsDir}${name}.json`;
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : null;
}

/** @param {number | null | undefined} r */
const ratio = (r) => (r === null || r === undefined || Number.isNaN(r) ? '—' : `${r.toFixed(2)}×`);

/**
 * @param {any} hub
 * @param {string} title
 */
function hubSection(hub, title) {
  const lines = [
    `### ${title}`,
    '',
    `Node ${hub.node}, ${hub.cpus} CPUs (${hub.cpuModel}), ${hub.gevent}; ${hub.date}. Command: \`${hub.command}\`.`,
    'Each figure is the median of the repetitions, each repetition a fresh process.',
    '',
    '| case | unit | greenhub | plain-Node floor | greenhub ÷ floor | floor with ALS active | greenhub ÷ that | gevent | greenhub vs gevent | target | met |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const c of hub.cases) {
    lines.push(
      `| ${c.name} | ${c.unit} | ${fmt(c.greenhub)} | ${fmt(c.floor)} (${c.floorName}) | ${ratio(c.ratio)} | ${fmt(c.floorAls)} | ${ratio(c.ratioAls)} | ${fmt(c.gevent)} | ${c.vsGevent ? `${c.vsGevent.toFixed(1)}× better` : '—'} | ${c.target} | ${c.met ? 'yes' : '**no**'} |`,
    );
  }
  const spawn = hub.cases.find((/** @type {any} */ c) => c.id === 'spawn-join');
  if (spawn?.floorCtx) {
    lines.push(
      '',
      `spawn + joinAll against tasks that each get their own \`AsyncLocalStorage.run()\` context (the least any library can do to give every task its own async context, as greenlets have): ${fmt(spawn.floorCtx)} tasks/s, greenhub ${ratio(spawn.ratioCtx)} of that.`,
    );
  }
  return lines.join('\n');
}

/**
 * A generic area: cases with greenhub, baseline, ratio, target, met.
 * @param {any} data
 * @param {string} title
 */
function genericSection(data, title) {
  const lines = [
    `## ${title}`,
    '',
    `Node ${data.node}, ${data.cpus} CPUs; ${data.date}. Command: \`${data.command}\`.`,
    '',
    '| case | unit | greenhub | baseline | ratio | target | met |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const c of data.cases) {
    lines.push(
      `| ${c.name} | ${c.unit} | ${fmt(c.greenhub)} | ${fmt(c.baseline)} (${c.baselineName}) | ${ratio(c.ratio)} | ${c.target} | ${c.met ? 'yes' : '**no**'} |`,
    );
  }
  if (data.notes) lines.push('', ...[].concat(data.notes));
  return lines.join('\n');
}

const hub = load('hub');
const hub24 = load('hub-node24');
const parts = [
  '# Benchmark results',
  '',
  'Written by `npm run bench` (`node bench/run.js`) from `bench/results/*.json`; every comparison is measured in the same run as its baseline. Ratios above 1× mean greenhub is faster (for memory: uses more).',
  '',
];
if (hub) {
  parts.push(
    '## Hub and greenlets (issue 2)',
    '',
    hubSection(hub, `Node ${hub.node} (the machine's Node)`),
    '',
    hub24
      ? hubSection(hub24, `Node ${hub24.node}`)
      : '_Node 24 not measured in this run (`node bench/run.js --node24`)._',
    '',
    '### Reading these numbers',
    '',
    '- **The floor is plain Node in a process where greenhub never loads.** A greenlet runs in its own `AsyncLocalStorage` context (SPEC §2.1: `getCurrent()` must follow `await`). On Node 20, enabling any AsyncLocalStorage turns on async hooks, which tax *every* promise in the process — the "floor with ALS active" column is the same plain-Node code after one `als.run()`. Promise-heavy floors (queues, handoffs) lose about half their speed to that alone; greenhub pays it too, and no library that gives tasks an async context can avoid it on Node 20.',
    '- **On Node 24** AsyncLocalStorage is built on `AsyncContextFrame` (no promise hooks), so the queue and handoff figures are free of the tax; starting a context still costs a frame allocation per `run()`, which bounds spawn + join.',
    "- **gevent** runs the same shapes (`bench/gevent/hub_cases.py`) with Debian's python3-gevent, when installed.",
    '',
  );
}
for (const [name, title] of [
  ['threadpool', 'Thread pool (issue 3)'],
  ['patch', 'Patched I/O (issue 4)'],
  ['metrics', 'Metrics and monitoring (issue 5)'],
]) {
  const data = load(/** @type {string} */ (name));
  if (data) parts.push(genericSection(data, /** @type {string} */ (title)), '');
}
writeFileSync(`${benchDir}RESULTS.md`, `${parts.join('\n').trim()}\n`);
console.log(`\nwrote bench/RESULTS.md`);
