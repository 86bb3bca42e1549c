// One cancellation-leak scenario, run in a process of its own (patching is process-global):
//   node --expose-gc test/reliability/scenarios/leaks.mjs <scenario> <count>
// It starts <count> greenlets that each block inside one patched operation, waits until every one
// of them is inside it, kills them all, and reports (as `RESULT {json}`, see test/patch/scenario.ts)
// what the process still holds compared with a baseline taken before: active resources by type,
// the local server's open connections, the hub's counters, and heapUsed after a full GC.
import { spawn as spawnChild } from 'node:child_process';
import dgram from 'node:dgram';
import dns from 'node:dns';
import events from 'node:events';
import http from 'node:http';
import net from 'node:net';
import timers from 'node:timers/promises';
import { GreenletExit, getHub, killAll, sleep, spawn } from 'greenhub';
import { patchAll } from 'greenhub/patch';

patchAll({ signal: false });

const [name, countArg] = process.argv.slice(2);
const count = Number(countArg);
/** @param {unknown} value */
const report = (value) => process.stdout.write(`RESULT ${JSON.stringify(value)}\n`);

/**
 * Wait until `condition()` holds, polling every 5 ms; fail after `limitMs`.
 * @param {() => boolean} condition @param {string} what
 */
async function until(condition, what, limitMs = 20_000) {
  const end = performance.now() + limitMs;
  while (!condition()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Patched operations in flight, of one kind or all. @param {string} [kind] */
const inFlight = (kind) => {
  const ops = getHub().stats().operations;
  return kind === undefined ? Object.values(ops).reduce((a, b) => a + b, 0) : (ops[kind] ?? 0);
};

/** @returns {Record<string, number>} */
function resources() {
  /** @type {Record<string, number>} */
  const byType = {};
  for (const type of process.getActiveResourcesInfo()) byType[type] = (byType[type] ?? 0) + 1;
  return byType;
}

/** Resource types whose count is above the baseline's. @param {Record<string, number>} baseline */
function extra(baseline) {
  const now = resources();
  return Object.fromEntries(
    Object.entries(now)
      .filter(([type, n]) => n > (baseline[type] ?? 0))
      .map(([type, n]) => [type, n - (baseline[type] ?? 0)]),
  );
}

function heapUsed() {
  const gc = /** @type {() => void} */ (globalThis.gc);
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** A TCP or HTTP server on 127.0.0.1 that accepts and never answers; counts sockets open/closed. */
/** @param {'http' | 'net'} kind */
async function silentServer(kind) {
  // `carrying`: sockets that carried a request (http), or every socket (net).
  const seen = { opened: 0, closed: 0, requests: 0, carrying: 0, packets: 0 };
  const carrying = new WeakSet();
  /** @param {net.Socket} socket */
  const onSocket = (socket) => {
    seen.opened++;
    if (kind === 'net') carrying.add(socket);
    socket.on('close', () => {
      seen.closed++;
      if (carrying.has(socket)) seen.carrying--;
    });
    if (kind === 'net') seen.carrying++;
  };
  /** @param {http.IncomingMessage} req */
  const onRequest = (req) => {
    seen.requests++;
    if (!carrying.has(req.socket)) {
      carrying.add(req.socket);
      seen.carrying++;
    }
  };
  const server = kind === 'http' ? http.createServer(onRequest) : net.createServer(() => {});
  server.on('connection', onSocket);
  server.maxConnections = Number.POSITIVE_INFINITY;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', 1024, () => resolve(undefined)));
  return { server, seen, port: /** @type {net.AddressInfo} */ (server.address()).port };
}

/** A UDP socket on 127.0.0.1 that receives DNS queries and never answers. */
async function silentDns() {
  const udp = dgram.createSocket('udp4');
  const seen = { opened: 0, closed: 0, requests: 0, carrying: 0, packets: 0 };
  udp.on('message', () => seen.packets++);
  await new Promise((resolve) => udp.bind(0, '127.0.0.1', () => resolve(undefined)));
  dns.setServers([`127.0.0.1:${udp.address().port}`]);
  return { udp, seen };
}

/**
 * @typedef {{ opened: number, closed: number, requests: number, carrying: number, packets: number }} Seen
 * @typedef {{
 *   op: (i: number) => Promise<unknown>,
 *   ready: (n: number, before: Seen) => boolean,
 *   server?: Seen,
 *   counters?: Seen,
 *   teardown?: () => void,
 * }} Scenario
 */

/**
 * Each scenario: `setup()` starts what the greenlets talk to, `op(i)` is the body of greenlet i,
 * `ready(n, before)` says all n greenlets are inside their operation (`before`: the counters when
 * the round began), `teardown()` stops the server.
 * @type {Record<string, () => Promise<Scenario>>}
 */
const SCENARIOS = {
  'timers/promises': async () => ({
    op: () => timers.setTimeout(60_000),
    ready: (n) => inFlight() === n,
  }),
  'setTimeout callback': async () => ({
    op: () => new Promise((resolve) => setTimeout(resolve, 60_000)),
    ready: (n) => inFlight() === n,
  }),
  fetch: async () => {
    const { server, seen, port } = await silentServer('http');
    return {
      op: (i) => fetch(`http://127.0.0.1:${port}/${i}`),
      // The server's request handlers run in greenlets too (patched http): count the fetches only.
      ready: (n, before) => seen.requests - before.requests === n && inFlight('fetch') === n,
      server: seen,
      counters: seen,
      teardown: () => server.close(),
    };
  },
  'net.connect (connecting)': async () => ({
    // A lookup that never answers keeps each socket connecting until the kill destroys it.
    op: () =>
      new Promise((resolve, reject) => {
        net
          .connect({ host: 'pending.test', port: 80, lookup: () => {} }, () => resolve(undefined))
          .on('error', reject);
      }),
    ready: (n) => inFlight() === n,
  }),
  'net.connect (connected, waiting for data)': async () => {
    const { server, seen, port } = await silentServer('net');
    return {
      // A connected socket is a resource the greenlet owns: it closes it in `finally`.
      op: async () => {
        const socket = net.connect(port, '127.0.0.1');
        try {
          await events.once(socket, 'connect');
          await events.once(socket, 'data');
        } finally {
          socket.destroy();
        }
      },
      ready: (n, before) => seen.opened - before.opened === n && inFlight('event') === n,
      server: seen,
      counters: seen,
      teardown: () => server.close(),
    };
  },
  'child_process.spawn': async () => ({
    op: async () => {
      const child = spawnChild('sleep', ['60']);
      await events.once(child, 'exit');
    },
    ready: (n) => inFlight('child') === n,
  }),
  'dns.promises.resolve4': async () => {
    const { udp, seen } = await silentDns();
    return {
      op: (i) => dns.promises.resolve4(`silent-${i}.test`),
      counters: seen,
      // Every greenlet is inside its query and queries reach the server (a burst of UDP may drop
      // some packets; c-ares would resend them after seconds).
      ready: (n, before) => seen.packets > before.packets && inFlight('dns') === n,
      teardown: () => udp.close(),
    };
  },
};

/**
 * Run `n` greenlets of the scenario to the kill; returns what the kill took.
 * @param {Scenario} scenario @param {number} n
 */
async function round(scenario, n) {
  const before = { opened: 0, closed: 0, requests: 0, carrying: 0, packets: 0, ...scenario.counters };
  const greenlets = Array.from({ length: n }, (_, i) => spawn(() => scenario.op(i)));
  await until(() => scenario.ready(n, before), `${n} greenlets inside their operation`);
  const start = performance.now();
  await killAll(greenlets);
  const killMs = performance.now() - start;
  // The connections that carried the killed calls close at once; spare connections a client pool
  // opened (undici replaces an aborted connection with an idle one) close by its keep-alive timeout.
  const seen = scenario.server;
  if (seen) await until(() => seen.carrying === 0, 'the server to see the calls close', 5_000);
  const carriedClosedMs = performance.now() - start;
  const notKilled = greenlets.filter((g) => !(g.value instanceof GreenletExit)).length;
  return { killMs, carriedClosedMs, notKilled };
}

/**
 * Closing handles is asynchronous (a socket's close, a child's exit): wait (bounded) until every
 * resource type is back to its baseline count and the server saw every socket close; returns what
 * is still open then.
 */
async function settle(/** @type {Record<string, number>} */ baseline) {
  const start = performance.now();
  let leaked = extra(baseline);
  try {
    await until(() => Object.keys((leaked = extra(baseline))).length === 0, 'resources to close', 10_000);
    await until(() => inFlight() === 0, 'operations to end', 10_000);
    const seen = scenario.server;
    if (seen) await until(() => seen.closed === seen.opened, 'server sockets to close', 10_000);
  } catch {
    // reported: `leaked` and `server` say what stayed open
  }
  return { leaked, settleMs: performance.now() - start };
}

const setup = SCENARIOS[name];
if (setup === undefined) throw new Error(`unknown scenario ${name}`);
// The standard streams open their handles lazily: open them before the baseline.
void process.stdout;
void process.stderr;
// Resources are counted with the scenario's server up; the heap after a warm-up round (which must
// settle back to the resource baseline too), so that loaded modules, undici's dispatcher and the
// JIT's code count in the baseline, not as a leak.
const scenario = await setup();
const baselineResources = resources();
await round(scenario, Math.min(100, count));
await settle(baselineResources);
const baselineHeap = heapUsed();

const started = performance.now();
const { killMs, carriedClosedMs, notKilled } = await round(scenario, count);
const { leaked, settleMs } = await settle(baselineResources);
const stats = getHub().stats();
const heapDelta = heapUsed() - baselineHeap;
scenario.teardown?.();
report({
  scenario: name,
  count,
  notKilled,
  killMs: Math.round(killMs),
  carriedClosedMs: Math.round(carriedClosedMs),
  settleMs: Math.round(settleMs),
  totalMs: Math.round(performance.now() - started),
  leaked,
  server: scenario.server ?? null,
  live: stats.greenlets.live,
  waiters: stats.waiters,
  operations: inFlight(),
  heapDeltaBytes: heapDelta,
});
await sleep(0);
process.exit(0);
