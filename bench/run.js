// `npm run bench`: runs every benchmark area, then writes bench/RESULTS.md from bench/results/*.json.
//
//   node bench/run.js                 all areas on this Node, then RESULTS.md
//   node bench/run.js hub threadpool  only these areas (workers: greenhub run --workers, bench/workers.js)
//   node bench/run.js --node24        also the hub area on Node 24 (npm's node@24 package, via npx)
//   node bench/run.js --render        only rewrite RESULTS.md from the JSON results already there
//
// Areas are the files bench/<area>.js that write bench/results/<area>.json (see bench/lib.js).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { benchDir, fmt, resultsDir } from './lib.js';

const args = process.argv.slice(2);
const known = ['hub', 'threadpool', 'lanes', 'patch', 'metrics', 'cancel', 'switch', 'workers'].filter((a) =>
  existsSync(`${benchDir}${a}.js`),
);
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
/**
 * The headline HTTP benchmark: server × phase, then the issue's targets.
 * @param {any} data
 */
function httpSection(data) {
  const ms = (/** @type {any} */ s) => (s ? `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})` : '—');
  const lines = [
    '## Headline: a mixed I/O + CPU service (issue 7)',
    '',
    `${data.cpus} CPUs (${data.cpuModel}), Node ${data.node}, ${data.gevent}; ${data.date}. Command: \`${data.command}\` (\`npm run bench:http\`).`,
    `/io waits 20 ms; /cpu runs pbkdf2-sha256 × ${data.iterations} (about 20 ms of CPU here, the same work for every server). Figures: median (min–max) over the repetitions; p99 "steady" leaves out each run's first 2 s. Latencies in ms.`,
    '',
    '![/io p99 under CPU load](http-io-p99.svg)',
    '',
    '| server | phase | req/s | /io p50 | /io p99 | /io p99 steady | /cpu p50 | /cpu p99 | server CPU s |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const server of data.servers) {
    if (server.skipped) {
      lines.push(`| ${server.label} | skipped: ${server.skipped} | | | | | | | |`);
      continue;
    }
    for (const phase of data.phases) {
      const p = server.phases[phase.id];
      if (!p) continue;
      lines.push(
        `| ${server.label} | ${phase.title} | ${ms(p.rps)} | ${ms(p.io.p50Ms)} | ${ms(p.io.p99Ms)} | ${ms(p.io.p99SteadyMs)} | ${ms(p.cpu.p50Ms)} | ${ms(p.cpu.p99Ms)} | ${ms(p.serverCpuS)} |`,
      );
    }
  }
  const get = (/** @type {string} */ id) => data.servers.find((/** @type {any} */ s) => s.id === id)?.phases;
  const piscina = get('plain-piscina');
  const inline = get('plain-inline');
  const m = (/** @type {any} */ x) => x?.median;
  const targets = [];
  for (const id of ['greenhub-offload', 'greenhub-hybrid']) {
    const g = get(id);
    if (!g || !piscina || !inline) continue;
    const row = (
      /** @type {string} */ what,
      /** @type {number | undefined} */ value,
      /** @type {string} */ target,
      /** @type {boolean} */ met,
    ) => targets.push(`| ${id} | ${what} | ${fmt(value)} | ${target} | ${met ? 'yes' : '**no**'} |`);
    row(
      '80/20 mix: /io p99 steady (ms)',
      m(g.mix.io.p99SteadyMs),
      `≤ 30 and ≤ 1.15 × raw piscina (${fmt(m(piscina.mix.io.p99SteadyMs))})`,
      m(g.mix.io.p99SteadyMs) <= Math.min(30, 1.15 * m(piscina.mix.io.p99SteadyMs)),
    );
    row(
      '80/20 mix: total req/s',
      m(g.mix.rps),
      `≥ 0.95 × raw piscina (${fmt(m(piscina.mix.rps))})`,
      m(g.mix.rps) >= 0.95 * m(piscina.mix.rps),
    );
    row(
      '40 /io + 10 /cpu: /io req/s',
      m(g['io+cpu'].io.rps),
      `≥ 0.95 × raw piscina (${fmt(m(piscina['io+cpu'].io.rps))})`,
      m(g['io+cpu'].io.rps) >= 0.95 * m(piscina['io+cpu'].io.rps),
    );
    row(
      '40 /io + 10 /cpu: /io p99 steady (ms)',
      m(g['io+cpu'].io.p99SteadyMs),
      '≤ 31',
      m(g['io+cpu'].io.p99SteadyMs) <= 31,
    );
    row('2 clients on /cpu: p99 (ms)', m(g.fairness.cpu.p99Ms), '≤ 70', m(g.fairness.cpu.p99Ms) <= 70);
    row(
      '/io alone: req/s',
      m(g.io.rps),
      `≥ 0.95 × plain Node (${fmt(m(inline.io.rps))})`,
      m(g.io.rps) >= 0.95 * m(inline.io.rps),
    );
  }
  const offload = get('greenhub-offload');
  const hybridRun = get('greenhub-hybrid');
  if (offload && hybridRun)
    targets.push(
      `| greenhub-hybrid | 80/20 mix req/s ≥ offload | ${fmt(m(hybridRun.mix.rps))} vs ${fmt(m(offload.mix.rps))} | hybrid ≥ offload | ${m(hybridRun.mix.rps) >= m(offload.mix.rps) ? 'yes' : '**no**'} |`,
    );
  if (targets.length)
    lines.push('', '| server | figure | measured | target | met |', '|---|---|---|---|---|', ...targets);
  return lines.join('\n');
}

const http = load('http');
if (http) parts.push(httpSection(http), '');
for (const [name, title] of [
  ['threadpool', 'Thread pool (issue 3)'],
  ['lanes', 'Priority lanes (issue 14)'],
  ['patch', 'Patched I/O (issue 4)'],
  ['metrics', 'Metrics and monitoring (issue 5)'],
  ['cancel', 'Cancellation at the caller (issue 11)'],
  ['switch', 'The hub’s switch interval (issue 16)'],
  ['workers', 'Processes: greenhub run --workers (issue 13)'],
]) {
  const data = load(/** @type {string} */ (name));
  if (data) parts.push(genericSection(data, /** @type {string} */ (title)), '');
}
writeFileSync(`${benchDir}RESULTS.md`, `${parts.join('\n').trim()}\n`);
console.log(`\nwrote bench/RESULTS.md`);
