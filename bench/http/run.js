// The headline benchmark (issue 7): one workload, several servers, run in turn.
//
//   npm run bench:http                      3 repetitions of every phase, 10 s each (about 20 min)
//   node bench/http/run.js --reps 1 --duration 3     a quick sanity run
//   node bench/http/run.js --only plain-inline,greenhub-offload
//
// Servers (bench/http/harness.js): plain node:http with the CPU inline; plain node:http with raw
// piscina (2 threads); greenhub demo --mode offload and --mode hybrid (2 threads; and hybrid with
// --nice 0); the CPU-inline app under greenhub run --workers 2; gunicorn -k gevent with 1 and 2
// workers when Debian's python3-gevent and gunicorn are installed (skipped with the reason
// otherwise). `--only` also runs the rows of bench/workers.js. /io waits 20 ms; /cpu runs the
// same pbkdf2 work everywhere, calibrated once at the start to about 20 ms of CPU time here.
//
// Writes bench/results/http.json and bench/http-io-p99.svg; `node bench/run.js --render` puts the
// table in bench/RESULTS.md. Every server it starts is stopped (its whole process group) at the end.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fmt, machine, writeResults } from '../lib.js';
import {
  calibrate,
  cpuSeconds,
  gevent,
  phases as headlinePhases,
  runLoad,
  servers,
  start,
  stop,
  summarise,
} from './harness.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const arg = (/** @type {string} */ name, /** @type {string} */ fallback) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : (process.argv[i + 1] ?? fallback);
};
const reps = Number(arg('--reps', '3'));
const durationS = Number(arg('--duration', '10'));
const only = arg('--only', '').split(',').filter(Boolean);
const phases = headlinePhases(durationS);

const iterations = calibrate(20);
console.log(`pbkdf2 iterations for ~20 ms of CPU time here: ${iterations}`);
/** @type {any[]} */
const results = [];
const live = new Set();
process.on('SIGINT', async () => {
  for (const child of live) await stop(child);
  process.exit(130);
});

for (const server of servers) {
  if (only.length ? !only.includes(server.id) : server.headline === false) continue;
  if (server.reason) {
    console.log(`\n== ${server.label}: skipped — ${server.reason}`);
    results.push({ id: server.id, label: server.label, skipped: server.reason });
    continue;
  }
  console.log(`\n== ${server.label}`);
  /** @type {Record<string, any>} */
  const byPhase = {};
  /** @type {import('./harness.js').Running | undefined} */
  let running;
  try {
    running = await start(server, iterations);
    live.add(running.child);
    const pid = /** @type {number} */ (running.child.pid);
    for (const phase of phases) {
      /** @type {any[]} */
      const runs = [];
      for (let rep = 0; rep < reps; rep++) {
        const cpu0 = cpuSeconds(pid);
        const run = runLoad(running.port, phase);
        run.serverCpuS = cpuSeconds(pid) - cpu0;
        runs.push(run);
      }
      const p = summarise(runs);
      byPhase[phase.id] = p;
      console.log(
        `  ${phase.title.padEnd(38)} ${fmt(p.rps?.median).padStart(6)} req/s  /io p99 ${fmt(p.io.p99Ms?.median)} ms (steady ${fmt(p.io.p99SteadyMs?.median)})  /cpu p99 ${fmt(p.cpu.p99Ms?.median)} ms  cpu ${fmt(p.serverCpuS?.median)} s`,
      );
    }
  } catch (error) {
    console.log(`  failed: ${/** @type {Error} */ (error).message}`);
    byPhase.failed = /** @type {Error} */ (error).message;
  } finally {
    if (running) {
      await stop(running.child);
      live.delete(running.child);
    }
  }
  results.push({ id: server.id, label: server.label, phases: byPhase });
}

writeResults('http', {
  command: `node bench/http/run.js --reps ${reps} --duration ${durationS}`,
  gevent: gevent.label,
  iterations,
  phases: phases.map(({ id, title, durationS: d, groups }) => ({
    id,
    title,
    durationS: d,
    connections: groups.reduce((n, g) => n + g.connections, 0),
  })),
  servers: results,
  machineInfo: machine(),
});
writeFileSync(`${here}../http-io-p99.svg`, chart(results));
console.log('\nwrote bench/results/http.json and bench/http-io-p99.svg');

/**
 * A horizontal bar chart (log scale) of /io p99 (steady) under CPU load, per server: one bar for
 * "40 on /io + 10 on /cpu", one for the 80/20 mix. Plain SVG, no charting dependency.
 * @param {any[]} rows
 */
function chart(rows) {
  const measured = rows.filter((r) => r.phases && !r.phases.failed);
  const bars = measured.flatMap((r) => [
    { server: r.label, phase: '40 /io + 10 /cpu', ms: r.phases['io+cpu']?.io.p99SteadyMs?.median },
    { server: r.label, phase: '80/20 mix', ms: r.phases.mix?.io.p99SteadyMs?.median },
  ]);
  const width = 760;
  const left = 260;
  const barH = 14;
  const rowH = 2 * barH + 14;
  const top = 50;
  const height = top + measured.length * rowH + 40;
  const minMs = 10;
  const maxMs = 10_000;
  const x = (/** @type {number} */ ms) =>
    left + ((Math.log10(Math.max(minMs, ms)) - 1) / (Math.log10(maxMs) - 1)) * (width - left - 30);
  const esc = (/** @type {string} */ s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<title>/io p99 latency (steady) per server while /cpu is loaded</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="20" font-size="14" font-weight="bold">/io p99 latency (steady) while /cpu is loaded — lower is better</text>`,
    `<rect x="${left}" y="30" width="10" height="10" fill="#4c78a8"/><text x="${left + 14}" y="39">40 connections on /io + 10 on /cpu</text>`,
    `<rect x="${left + 250}" y="30" width="10" height="10" fill="#f58518"/><text x="${left + 264}" y="39">80/20 mix</text>`,
  ];
  for (const tick of [10, 30, 100, 300, 1000, 3000, 10000]) {
    const tx = x(tick);
    parts.push(`<line x1="${tx}" y1="${top - 4}" x2="${tx}" y2="${height - 36}" stroke="#ddd"/>`);
    parts.push(
      `<text x="${tx}" y="${height - 20}" text-anchor="middle">${tick >= 1000 ? `${tick / 1000} s` : `${tick} ms`}</text>`,
    );
  }
  measured.forEach((row, i) => {
    const y = top + i * rowH;
    parts.push(`<text x="${left - 8}" y="${y + barH + 4}" text-anchor="end">${esc(row.label)}</text>`);
    bars
      .filter((b) => b.server === row.label)
      .forEach((b, j) => {
        if (b.ms === undefined || b.ms === null) return;
        const by = y + j * barH;
        parts.push(
          `<rect x="${left}" y="${by}" width="${Math.max(1, x(b.ms) - left)}" height="${barH - 2}" fill="${j === 0 ? '#4c78a8' : '#f58518'}"/>`,
        );
        parts.push(
          `<text x="${x(b.ms) + 4}" y="${by + barH - 4}">${b.ms >= 1000 ? `${(b.ms / 1000).toFixed(2)} s` : `${b.ms.toFixed(1)} ms`}</text>`,
        );
      });
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
