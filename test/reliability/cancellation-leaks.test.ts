/**
 * Cancellation leaks: many greenlets killed while inside patched I/O leave nothing behind. Each
 * scenario runs in a process of its own (`scenarios/leaks.mjs`, patching is process-global) with
 * `--expose-gc`; it kills every greenlet once all are inside their operation and reports, against a
 * baseline taken after a warm-up round:
 *
 * - `leaked`: resource types of `process.getActiveResourcesInfo()` above their baseline count
 *   (timers, sockets, pipes, child processes, DNS queries) — must be none;
 * - `server`: the local silent server's own view — every connection it accepted was closed;
 * - the hub's live greenlets, parked waiters and operations in flight — all zero;
 * - `heapDeltaBytes`: heapUsed after a full GC minus the baseline's — under {@link HEAP_BOUND}.
 */
import { describe, expect, it } from 'vitest';
import { runNode } from '../patch/scenario.js';

/** 4 MiB: under 420 bytes per killed greenlet for 10,000 of them; a leaked closure each is more. */
const HEAP_BOUND = 4 * 1024 * 1024;

const SCRIPT = 'test/reliability/scenarios/leaks.mjs';

interface LeakReport {
  scenario: string;
  count: number;
  notKilled: number;
  killMs: number;
  carriedClosedMs: number;
  settleMs: number;
  leaked: Record<string, number>;
  server: { opened: number; closed: number; requests: number; carrying: number } | null;
  live: number;
  waiters: number;
  operations: number;
  heapDeltaBytes: number;
}

async function run(scenario: string, count: number): Promise<LeakReport> {
  const outcome = await runNode(['--expose-gc', SCRIPT, scenario, String(count)], { timeoutMs: 40_000 });
  expect(outcome.stderr).toBe('');
  expect(outcome.code).toBe(0);
  const report = outcome.result as LeakReport;
  // Printed so that the figures of each run can be read in the test output.
  console.log(`${scenario}: ${JSON.stringify(report)}`);
  return report;
}

function expectNothingLeft(report: LeakReport, count: number): void {
  expect(report.count).toBe(count);
  expect(report.notKilled, 'every greenlet died of the kill').toBe(0);
  expect(report.leaked, 'no resource above its baseline count').toEqual({});
  expect({ live: report.live, waiters: report.waiters, operations: report.operations }).toEqual({
    live: 0,
    waiters: 0,
    operations: 0,
  });
  expect(report.heapDeltaBytes).toBeLessThan(HEAP_BOUND);
}

// One scenario at a time: each one loads a core on its own, and the other test files share the
// machine (two cores in CI); timing-sensitive tests elsewhere must not starve.
describe('killing greenlets inside patched I/O leaks nothing', { timeout: 45_000 }, () => {
  it('10,000 in timers/promises.setTimeout(60 s): every timer cleared', async () => {
    expectNothingLeft(await run('timers/promises', 10_000), 10_000);
  });

  it('10,000 in `new Promise((r) => setTimeout(r, 60 s))`: every callback timer cleared', async () => {
    expectNothingLeft(await run('setTimeout callback', 10_000), 10_000);
  });

  it('1,000 in net.connect while connecting: every socket destroyed', async () => {
    expectNothingLeft(await run('net.connect (connecting)', 1_000), 1_000);
  });

  it('1,000 on connected sockets waiting for data (closed in finally): the server sees every socket close', async () => {
    const report = await run('net.connect (connected, waiting for data)', 1_000);
    expectNothingLeft(report, 1_000);
    expect(report.server!.closed).toBe(report.server!.opened);
  });

  it('500 in fetch to a server that never answers: every request aborted, the server sees every connection close', async () => {
    const report = await run('fetch', 500);
    expectNothingLeft(report, 500);
    // The warm-up round's 100 and these 500 all reached the server.
    expect(report.server!.requests).toBe(600);
    expect(report.server!.carrying, 'connections that carried a request are closed').toBe(0);
    expect(report.server!.closed).toBe(report.server!.opened);
  });

  it('200 in child_process.spawn(`sleep 60`): every child killed and reaped, its pipes closed', async () => {
    expectNothingLeft(await run('child_process.spawn', 200), 200);
  });

  it('1,000 in dns.promises.resolve4 against a silent 127.0.0.1 server: every query cancelled', async () => {
    expectNothingLeft(await run('dns.promises.resolve4', 1_000), 1_000);
  });
});
