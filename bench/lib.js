// Shared by the benchmark areas (bench/<area>.js) and the runner (bench/run.js).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

export const benchDir = fileURLToPath(new URL('.', import.meta.url));
export const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));

/**
 * `--quick` on an area's command line: the short form that `npm run bench` runs by default (fewer
 * repetitions, shorter runs; see bench/run.js). The results say so in their `command`.
 */
export const quick = process.argv.includes('--quick');
/** `--case=X`: re-measure only that case (or group) of an area, keeping the others (see amendResults). */
export const onlyCase = process.argv.find((a) => a.startsWith('--case='))?.slice(7);

/**
 * The line an area prints as it finishes a case (bench/run.js shows it as it comes).
 * @param {{ name: string, unit: string, greenhub: number, baseline: number, ratio: number, target: string, met: boolean | null }} c
 *   `met` null: a case without a target
 */
export function progress(c) {
  console.log(
    `${c.met === null ? '    ' : c.met ? 'met ' : 'MISS'} ${c.name}: ${fmt(c.greenhub)} vs ${fmt(c.baseline)} ${c.unit} (${c.ratio.toFixed(2)}×), target ${c.target}`,
  );
}

/** @param {number[]} values */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? /** @type {number} */ (sorted[mid])
    : /** @type {number} */ (sorted[mid - 1] + /** @type {number} */ (sorted[mid])) / 2;
}

/**
 * The same cases measured in several runs (repetitions in one process, or fresh processes), each
 * as one case: the runs' median ratio (the middle one, the upper of two for an even count), `met`
 * against the bound its target states (`≥ 0.95`, `≤ 1.05×`), the figures of the run that measured
 * that ratio, and with more than one run their ratios, also as a range in the name.
 * @template {{ name: string, ratio: number, target: string, met: boolean | null }} C
 * @param {C[][]} runs  each run's cases, in the same order
 * @param {string} what  what a run is, for the name: `runs`, `processes`
 * @returns {C[]}
 */
export function combineRuns(runs, what) {
  return (runs[0] ?? []).map((first, i) => {
    const per = runs.map((run) => /** @type {C} */ (run[i]));
    const ratios = per.map((c) => c.ratio);
    const ratio = /** @type {number} */ ([...ratios].sort((a, b) => a - b)[ratios.length >> 1]);
    const chosen = /** @type {C} */ (per.find((c) => c.ratio === ratio));
    const bound = Number.parseFloat(first.target.replace(/^[≤≥]\s*/, ''));
    const met = first.target.startsWith('≥') ? ratio >= bound : ratio <= bound;
    if (runs.length === 1) return { ...chosen, met };
    const range = `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`;
    return {
      ...chosen,
      met,
      runs: ratios,
      name: `${first.name}; median of ${runs.length} ${what}, range ${range}`,
    };
  });
}

/**
 * Run a command that prints one JSON line `{ value, unit }` and return it.
 * @param {string} file
 * @param {string[]} args
 * @returns {{ value: number, unit: string }}
 */
export function runJson(file, args) {
  const out = execFileSync(file, args, {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 300_000,
  });
  return JSON.parse(out.trim().split('\n').at(-1) ?? '');
}

/** The Python with gevent the issues compare against, or null with the reason it is unusable. */
export function geventPython() {
  const python = '/usr/bin/python3';
  try {
    const version = execFileSync(
      python,
      ['-c', 'import gevent, sys; print(gevent.__version__, sys.version.split()[0])'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    ).trim();
    const [gevent, py] = version.split(' ');
    return { python, label: `gevent ${gevent} (Python ${py})` };
  } catch {
    return { python: null, label: 'gevent not installed (apt-get install python3-gevent)' };
  }
}

/** What the numbers were measured on. */
export function machine() {
  return {
    node: process.version,
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    platform: `${os.platform()} ${os.arch()}`,
  };
}

/**
 * Write `bench/results/<area>.json`.
 * @param {string} area
 * @param {object} data
 */
export function writeResults(area, data) {
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(
    `${resultsDir}${area}.json`,
    `${JSON.stringify({ area, ...machine(), date: new Date().toISOString().slice(0, 10), ...data }, null, 2)}\n`,
  );
}

/**
 * Re-measure some cases of `bench/results/<area>.json` and keep the others: the cases `replaces`
 * selects are taken out, `cases` go in their place (or at the end), and the file records the
 * amendment (which cases, the command, the date) so that RESULTS.md says which figures came from a
 * later run. Without a file of the same Node version, the new cases are written alone. `order`
 * (case ids, the bench's own order) places a case the file did not have yet.
 * @param {string} area
 * @param {{ name: string, id?: string }[]} cases
 * @param {(old: any) => boolean} replaces
 * @param {string} command
 * @param {string[]} [order]
 */
export function amendResults(area, cases, replaces, command, order) {
  const file = `${resultsDir}${area}.json`;
  const old = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : null;
  if (old === null || old.node !== process.version) {
    writeResults(area, { command, cases });
    return;
  }
  const kept = [];
  let at = -1;
  for (const c of old.cases) {
    if (replaces(c)) {
      if (at < 0) at = kept.length;
    } else kept.push(c);
  }
  kept.splice(at < 0 ? kept.length : at, 0, ...cases);
  if (order !== undefined) {
    const rank = (/** @type {{ id?: string }} */ c) => {
      const i = order.indexOf(c.id ?? '');
      return i < 0 ? order.length : i;
    };
    kept.sort((a, b) => rank(a) - rank(b));
  }
  const date = new Date().toISOString().slice(0, 10);
  const names = cases.map((c) => c.name);
  // An earlier amendment no longer speaks for the cases re-measured now.
  const earlier = (old.amended ?? [])
    .map((/** @type {{ cases: string[] }} */ a) => ({
      ...a,
      cases: a.cases.filter((name) => !names.includes(name) && !replaces({ name })),
    }))
    .filter((/** @type {{ cases: string[] }} */ a) => a.cases.length > 0);
  const amended = [...earlier, { cases: names, command, date }];
  writeFileSync(file, `${JSON.stringify({ ...old, cases: kept, amended }, null, 2)}\n`);
}

/** 1234567 → "1.23M", 950 → "950", 0.731 → "0.73" */
export function fmt(/** @type {number | null | undefined} */ value) {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (abs >= 1e4) return `${(value / 1e3).toFixed(0)}k`;
  if (abs >= 100) return value.toFixed(0);
  return value.toFixed(2);
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago (for a server another process starts).
 * @returns {Promise<number>}
 */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (srv.address());
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}
