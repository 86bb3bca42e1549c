// Other projects' own test suites under the preload (issue 16's "suite time" target): how long
// Express's and Koa's suites take under `--import greenhub/register` against plain Node, in the
// same run. ../shared/external/run-suite.mjs runs each suite twice (plain, then preloaded) and
// prints each run's wall time; this script runs it `--reps` times per suite (default 2) and keeps,
// per suite, the median of the per-run ratios.
//
//   npm run build && node bench/suites.js [--reps N]     (about 1.5 min per repetition)
//
// Skipped, with the reason, where ../shared/external is not there. Writes bench/results/suites.json.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { median, progress, writeResults } from './lib.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const runner = fileURLToPath(new URL('../../shared/external/run-suite.mjs', import.meta.url));
const i = process.argv.indexOf('--reps');
const reps = i === -1 ? 2 : Number(process.argv[i + 1]);
if (!Number.isInteger(reps) || reps < 1) {
  console.error(`--reps: expected a positive integer, got ${process.argv[i + 1]}`);
  process.exit(2);
}
if (!existsSync(runner)) {
  console.log(`skipped: ${runner} is not there (the suites live beside the repository)`);
  process.exit(0);
}

/**
 * One run of the suite, plain and preloaded: their wall times (ms) as run-suite.mjs prints them.
 * @param {string} suite
 */
function timeSuite(suite) {
  const r = spawnSync(process.execPath, [runner, suite], { cwd: root, encoding: 'utf8', timeout: 900_000 });
  const ms = (/** @type {string} */ label) => {
    const m = r.stdout.match(
      new RegExp(`^${suite} ${label}: (\\d+) passing, (\\d+) failing \\((\\d+) ms\\)$`, 'm'),
    );
    if (m === null)
      throw new Error(`${suite}: no "${label}" line in run-suite's output:\n${r.stdout}${r.stderr}`);
    return { passing: Number(m[1]), ms: Number(m[3]) };
  };
  return { plain: ms('plain Node'), preloaded: ms('under greenhub/register'), ok: r.status === 0 };
}

const cases = [];
for (const suite of ['express', 'koa']) {
  /** @type {ReturnType<typeof timeSuite>[]} */
  const runs = [];
  for (let rep = 0; rep < reps; rep++) runs.push(timeSuite(suite));
  const ratios = runs.map((r) => r.preloaded.ms / r.plain.ms);
  const ratio = median(ratios);
  const c = {
    name: `${suite}'s own test suite (${runs[0]?.plain.passing} tests), wall time under the preload (per-run ratios ${ratios.map((x) => x.toFixed(2)).join(', ')})`,
    unit: 'ms',
    greenhub: median(runs.map((r) => r.preloaded.ms)),
    baseline: median(runs.map((r) => r.plain.ms)),
    baselineName: 'plain Node, the same suite just before',
    ratio,
    target: '≤ 1.15×',
    met: ratio <= 1.15 && runs.every((r) => r.ok),
  };
  cases.push(c);
  progress(c);
}
writeResults('suites', {
  command: `node bench/suites.js${reps === 2 ? '' : ` --reps ${reps}`}`,
  cases,
  notes: [
    "Wall time of each suite's own runner (mocha for Express, `node --test` for Koa, which starts a process per test file and so pays the preload's start-up in each), as ../shared/external/run-suite.mjs reports it; ratios below 1× mean the preloaded run was faster. Every test that passes plain passed preloaded in every run (run-suite.mjs exits 1 otherwise, and the case then reads not met).",
  ],
});
