// The HTTP benchmark's load client, run as its own process so that its CPU is not the server's:
//
//   node bench/http/load.js '<json spec>'   → prints one JSON line with per-route figures
//
// spec: { url, durationMs, warmupMs, groups: [{ connections, routes: { '/io': 80, '/cpu': 20 } }] }
// Each group opens `connections` keep-alive connections; each connection sends one request after
// another, picking its route by weight (a fixed, seeded sequence, so every server sees the same
// mix). Every response is timed and attributed to its own route — per-route latency comes from the
// responses, not from a blended histogram — and p99 is given both for the whole run and "steady"
// (requests started after `warmupMs`: the first seconds' fresh-connection queueing inflates the
// tails of servers that run CPU work inline).
import http from 'node:http';

const spec = JSON.parse(process.argv[2] ?? '{}');
const url = new URL(spec.url);
const durationMs = Number(spec.durationMs ?? 10_000);
const warmupMs = Number(spec.warmupMs ?? 2_000);

/** @type {Map<string, { all: number[], steady: number[], errors: number, statuses: Record<string, number> }>} */
const byRoute = new Map();
const started = performance.now();
const deadline = started + durationMs;

/** Deterministic weighted route picker (a small LCG), one per connection. */
function picker(/** @type {Record<string, number>} */ routes, /** @type {number} */ seed) {
  const entries = Object.entries(routes);
  const total = entries.reduce((sum, [, w]) => sum + w, 0);
  let state = seed * 2654435761 + 1;
  return () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    let r = (state / 2 ** 32) * total;
    for (const [route, weight] of entries) {
      r -= weight;
      if (r < 0) return route;
    }
    return /** @type {string} */ (entries.at(-1)?.[0]);
  };
}

/** One request on the given agent; resolves with its status (0 on a network error). */
function request(/** @type {http.Agent} */ agent, /** @type {string} */ path) {
  return new Promise((resolve) => {
    const req = http.request({ host: url.hostname, port: url.port, path, agent, timeout: 30_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

async function connection(/** @type {Record<string, number>} */ routes, /** @type {number} */ seed) {
  // One socket per connection: an agent of its own, kept alive.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const next = picker(routes, seed);
  while (performance.now() < deadline) {
    const route = next();
    const t0 = performance.now();
    const status = await request(agent, route);
    const t1 = performance.now();
    let r = byRoute.get(route);
    if (!r) byRoute.set(route, (r = { all: [], steady: [], errors: 0, statuses: {} }));
    r.statuses[status] = (r.statuses[status] ?? 0) + 1;
    if (status === 0 || status >= 500) {
      r.errors++;
      continue;
    }
    r.all.push(t1 - t0);
    if (t0 - started >= warmupMs) r.steady.push(t1 - t0);
  }
  agent.destroy();
}

const connections = [];
let seed = 1;
for (const group of spec.groups)
  for (let i = 0; i < group.connections; i++) connections.push(connection(group.routes, seed++));
await Promise.all(connections);
const elapsedS = (performance.now() - started) / 1000;

/** @param {number[]} values @param {number} q */
function quantile(values, q) {
  if (values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? null;
}

/** @type {Record<string, object>} */
const routes = {};
let total = 0;
for (const [route, r] of byRoute) {
  total += r.all.length;
  routes[route] = {
    requests: r.all.length,
    errors: r.errors,
    rps: r.all.length / elapsedS,
    p50Ms: quantile(r.all, 0.5),
    p99Ms: quantile(r.all, 0.99),
    p99SteadyMs: quantile(r.steady, 0.99),
    statuses: r.statuses,
  };
}
console.log(JSON.stringify({ elapsedS, rps: total / elapsedS, routes }));
