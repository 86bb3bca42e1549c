// Cancellation that real applications can trust (issue 11): how fast a kill or a withTimeout
// deadline is kept when the greenlet awaits a promise greenhub does not see, and what the change
// cost the hot paths, measured against an earlier commit in the same run.
//
//   npm run build && node bench/cancel.js                    latency only (about 10 s); the
//       regression rows of the last --base run are kept as they were, with their date
//   npm run build && node bench/cancel.js --base 9bfbb3a     also the regression rows: the hub
//       cases (spawn + join, Event handoff, Timeout start + cancel) and the patched-I/O overhead of
//       <base> (built in a temporary git worktree) and of this tree, interleaved (about 4 min)
//
// Writes bench/results/cancel.json.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getHub, sleep, spawn, withTimeout } from 'greenhub';
import { benchDir, fmt, median, resultsDir, runJson, writeResults } from './lib.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const baseRef = process.argv.includes('--base') ? process.argv[process.argv.indexOf('--base') + 1] : null;

/** @param {number[]} xs @param {number} q */
const quantile = (xs, q) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
};

/** A promise nobody will ever settle: an await greenhub cannot see. */
const never = () => new Promise(() => {});

/**
 * Kill-to-dead: `await g.kill()` on a greenlet awaiting `awaitWhat()`, one at a time.
 * @param {() => Promise<unknown>} awaitWhat
 * @param {number} n
 */
async function killToDead(awaitWhat, n) {
  const ms = [];
  for (let i = 0; i < n; i++) {
    const g = spawn(awaitWhat);
    await sleep(0); // it runs up to its await
    const t0 = performance.now();
    await g.kill();
    ms.push(performance.now() - t0);
    if (!g.dead) throw new Error('kill returned with the greenlet alive');
  }
  return ms;
}

/**
 * How late `withTimeout(deadline)` returns on an unseen await, from the call to its return (what
 * its caller sees), and — interleaved with it, so that both see the same machine — how late a
 * plain timer of the same delay fires.
 * @param {number} deadline
 * @param {number} n
 */
async function overshoots(deadline, n) {
  return spawn(async () => {
    /** @type {number[]} */ const deadlineMs = [];
    /** @type {number[]} */ const timerMs = [];
    for (let i = 0; i < n; i++) {
      let t0 = performance.now();
      await withTimeout(deadline, never, { fallback: null });
      deadlineMs.push(performance.now() - t0 - deadline);
      t0 = performance.now();
      await new Promise((r) => setTimeout(r, deadline));
      timerMs.push(performance.now() - t0 - deadline);
    }
    return { deadlineMs, timerMs };
  }).get();
}

const cases = [];
const summary = (/** @type {number[]} */ xs) => ({ p50: quantile(xs, 0.5), p99: quantile(xs, 0.99) });

const unseenKill = summary(await killToDead(never, 2_000));
const parkedKill = summary(await killToDead(() => sleep(60_000), 2_000));
cases.push({
  name: 'kill-to-dead, greenlet in an unseen await: p99',
  unit: 'ms',
  greenhub: unseenKill.p99,
  baseline: parkedKill.p99,
  baselineName: 'kill of a greenlet parked in sleep(), same run',
  ratio: unseenKill.p99 / parkedKill.p99,
  target: '≤ 2 ms p99 (main 9bfbb3a: never)',
  met: unseenKill.p99 <= 2,
  p50: unseenKill.p50,
});
const measured = await overshoots(5, 300);
const overshoot = summary(measured.deadlineMs);
const lateness = summary(measured.timerMs);
cases.push({
  name: 'withTimeout(5 ms) overshoot on an unseen await: p99',
  unit: 'ms',
  greenhub: overshoot.p99,
  baseline: lateness.p99,
  baselineName: 'a plain setTimeout(5) firing late, interleaved in the same run',
  ratio: overshoot.p99 / lateness.p99,
  target: '≤ 2 ms p99 beyond the deadline (main 9bfbb3a: until the promise settles)',
  met: overshoot.p99 <= 2,
  p50: overshoot.p50,
});
console.log(
  `kill-to-dead (unseen await) p50 ${fmt(unseenKill.p50)} p99 ${fmt(unseenKill.p99)} ms; parked: p99 ${fmt(parkedKill.p99)} ms`,
);
console.log(
  `withTimeout overshoot p50 ${fmt(overshoot.p50)} p99 ${fmt(overshoot.p99)} ms; setTimeout lateness p99 ${fmt(lateness.p99)} ms`,
);
const abandoned = getHub().stats().abandoned;

/**
 * Regression rows: the hub cases and patched I/O of `ref` against this tree, interleaved.
 * @param {string} ref
 */
function regression(ref) {
  const dir = mkdtempSync(join(tmpdir(), 'greenhub-base-'));
  const rows = [];
  try {
    execFileSync('git', ['worktree', 'add', '--detach', dir, ref], { cwd: root, stdio: 'ignore' });
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
    execFileSync(
      process.execPath,
      [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
      {
        cwd: dir,
        stdio: 'inherit',
      },
    );
    const reps = 5;
    for (const [id, name] of [
      ['spawn-join', 'spawn + join'],
      ['event-handoff', 'Event handoff'],
      ['timeout-start-cancel', 'Timeout start + cancel'],
    ]) {
      const base = [];
      const head = [];
      let unit = '';
      for (let i = 0; i < reps; i++) {
        base.push(
          runJson(process.execPath, ['--expose-gc', join(dir, 'bench/hub-cases.js'), id, 'greenhub']).value,
        );
        const r = runJson(process.execPath, ['--expose-gc', `${benchDir}hub-cases.js`, id, 'greenhub']);
        head.push(r.value);
        unit = r.unit;
      }
      const ratio = median(head) / median(base);
      rows.push({
        name: `${name} vs ${ref}`,
        unit,
        greenhub: median(head),
        baseline: median(base),
        baselineName: `${ref}, same run, ${reps} interleaved processes each`,
        ratio,
        target: '≥ 0.95× (within 5 %)',
        met: ratio >= 0.95,
        regression: true,
      });
      console.log(`${name}: ${fmt(median(head))} vs ${fmt(median(base))} ${unit} (${ratio.toFixed(2)}×)`);
    }
    // Patched-I/O overhead: each tree's own bench/patch.js (patched ÷ original in one process).
    const overhead = (/** @type {string} */ tree) => {
      execFileSync(process.execPath, [join(tree, 'bench/patch.js')], { cwd: tree, stdio: 'ignore' });
      return JSON.parse(readFileSync(join(tree, 'bench/results/patch.json'), 'utf8')).cases;
    };
    const baseCases = overhead(dir);
    const headCases = overhead(root);
    for (const c of headCases) {
      const b = baseCases.find((/** @type {any} */ x) => x.name === c.name);
      if (!b || typeof c.ratio !== 'number' || typeof b.ratio !== 'number') continue;
      // Both ratios are patched ÷ original CPU time (lower is better); their quotient is the change.
      const change = c.ratio / b.ratio;
      rows.push({
        name: `patched I/O overhead vs ${ref}: ${c.name}`,
        unit: 'patched ÷ original',
        greenhub: c.ratio,
        baseline: b.ratio,
        baselineName: `${ref}, same run`,
        ratio: change,
        target: '≤ 1.05× of the base overhead (noisy on 2 cores)',
        met: change <= 1.05,
        regression: true,
      });
    }
  } finally {
    execFileSync('git', ['worktree', 'remove', '--force', dir], { cwd: root, stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

/**
 * The regression rows: measured now with --base, else those of the last run that had it (a
 * latency-only run, as `npm run bench` makes, must not erase them), with when and how they were
 * measured.
 * @returns {{ rows: any[], from: { date: string, command: string } | null }}
 */
function regressionRows() {
  if (baseRef) return { rows: regression(baseRef), from: null };
  let last;
  try {
    last = JSON.parse(readFileSync(`${resultsDir}cancel.json`, 'utf8'));
  } catch {
    return { rows: [], from: null };
  }
  const rows = (last.cases ?? []).filter((/** @type {any} */ c) => c.regression === true);
  return {
    rows,
    from: rows.length > 0 ? (last.regressionFrom ?? { date: last.date, command: last.command }) : null,
  };
}

const { rows: regressionCases, from: regressionFrom } = regressionRows();
cases.push(...regressionCases);

writeResults('cancel', {
  command: `node bench/cancel.js${baseRef ? ` --base ${baseRef}` : ''}`,
  cases,
  ...(regressionFrom === null ? {} : { regressionFrom }),
  notes: [
    `Latency rows: 2,000 sequential kills and 300 sequential withTimeout(5 ms) calls; the greenlet awaits a promise that never settles. Abandoned continuations at the end: ${abandoned.total} (all of them still awaiting, as they must).`,
    regressionFrom === null
      ? 'Regression rows compare against the commit before the cancellation work, built in a temporary git worktree and run interleaved with this tree in the same session.'
      : `Regression rows are those of the run of ${regressionFrom.date} (\`${regressionFrom.command}\`): the commit before the cancellation work, built in a temporary git worktree and run interleaved with the tree of that day; this run measured the latency rows only.`,
  ],
});
process.exit(0);
