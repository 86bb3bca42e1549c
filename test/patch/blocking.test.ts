import { describe, expect, it } from 'vitest';
import { scenario } from './scenario.js';

const PATCH = (options: string) => `
import { patchAll, blockingStats, onBlockingCall, BlockingCallError } from 'greenhub/patch';
import { spawn, sleep } from 'greenhub';
import { execSync } from 'node:child_process';
patchAll({ signal: false, ${options} });
`;

describe.concurrent('patchBlocking: synchronous calls that stall the hub', () => {
  it("'warn': one line per call site, naming the API, the duration, the greenlet and the site", async () => {
    const { code, stderr, result } = await scenario(`${PATCH("blocking: 'warn', maxBlockingTime: 30")}
      import { statSync } from 'node:fs';
      const block = () => execSync('sleep 0.05');
      const g = spawn(() => { block(); block(); }); // one site, twice
      g.name = 'GET /report';
      await g.join();
      execSync('sleep 0.05'); // another site, top level
      // Under the limit: a stat, not a process (starting one can take 30 ms on a loaded machine).
      statSync('.');
      report(blockingStats());
    `);
    expect(code).toBe(0);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^greenhub: blocking call child_process\.execSync\(\) took \d+ ms \(limit 30 ms\) in "GET \/report" \(Greenlet-1\) at block \(.*\[eval1\]:\d+:\d+\)$/,
    );
    expect(lines[1]).toMatch(
      /^greenhub: blocking call child_process\.execSync\(\) took \d+ ms \(limit 30 ms\) in top-level code at /,
    );
    expect(result).toMatchObject({ events: 3, byApi: { 'child_process.execSync': { events: 3 } } });
  });

  it("'count': nothing printed, every slow call counted and passed to onBlockingCall listeners", async () => {
    const { code, stderr, result } = await scenario(`${PATCH("blocking: 'count', maxBlockingTime: 20")}
      import fs from 'node:fs';
      import crypto from 'node:crypto';
      import zlib from 'node:zlib';
      const seen = [];
      onBlockingCall((r) => seen.push([r.api, r.durationMs >= 20, r.greenlet]));
      const g = spawn(() => {
        crypto.pbkdf2Sync('secret', 'salt', 200_000, 64, 'sha512');
        zlib.gzipSync(crypto.randomBytes(8 << 20), { level: 9 });
        fs.readFileSync('package.json'); // fast: not reported
      });
      g.name = 'worker-ish';
      await g.join();
      const shared = new Int32Array(new SharedArrayBuffer(4));
      Atomics.wait(shared, 0, 0, 40);
      report({ seen, stats: blockingStats().events });
    `);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(result).toEqual({
      seen: [
        ['crypto.pbkdf2Sync', true, '"worker-ish" (Greenlet-1)'],
        ['zlib.gzipSync', true, '"worker-ish" (Greenlet-1)'],
        ['Atomics.wait', true, null],
      ],
      stats: 3,
    });
  });

  it("'throw': the next call from a site that blocked is refused with BlockingCallError before it runs", async () => {
    const { code, result } = await scenario(`${PATCH("blocking: 'throw', maxBlockingTime: 30")}
      const outcomes = [];
      // A refused call returns before the 50-ms sleep would run; the margin absorbs a loaded machine.
      const site = () => execSync('sleep 0.05');
      for (let i = 0; i < 3; i++) {
        const t = performance.now();
        try { site(); outcomes.push('ran'); }
        catch (e) { outcomes.push([e instanceof BlockingCallError, e.code, e.api, e.durationMs >= 30, performance.now() - t < 45]); }
      }
      execSync('sleep 0.05'); // a different site is not refused
      outcomes.push('other site ran');
      report(outcomes);
    `);
    expect(code).toBe(0);
    expect(result).toEqual([
      'ran',
      [true, 'ERR_GREENHUB_BLOCKING_CALL', 'child_process.execSync', true, true],
      'ran',
      'other site ran',
    ]);
  });

  it('a slow call is counted in /metrics under its API: greenhub_hub_blocked_seconds_total{api, name} and greenhub_hub_blocking_events_total', async () => {
    const { code, result } = await scenario(`${PATCH("blocking: 'count', maxBlockingTime: 5")}
      import crypto from 'node:crypto';
      import client from 'prom-client';
      import { collectMetrics } from 'greenhub/metrics';
      const register = new client.Registry();
      const collection = collectMetrics({ register, defaultMetrics: false });
      await spawn(function hashes() { return crypto.pbkdf2Sync('secret', 'salt', 100_000, 64, 'sha512'); }).join();
      const json = await register.getMetricsAsJSON();
      const values = (name) => json.find((m) => m.name === name).values;
      const blocked = Object.fromEntries(values('greenhub_hub_blocked_seconds_total').map((v) => [v.labels.api, v.value]));
      const stats = blockingStats();
      report({
        name: values('greenhub_hub_blocked_seconds_total').find((v) => v.labels.api === 'crypto.pbkdf2Sync')?.labels.name,
        seconds: blocked['crypto.pbkdf2Sync'],
        patchSeconds: stats.byApi['crypto.pbkdf2Sync']?.seconds,
        events: values('greenhub_hub_blocking_events_total')[0].value,
        patchEvents: stats.events,
      });
      collection.close();
    `);
    expect(code).toBe(0);
    const r = result as {
      name: string;
      seconds: number;
      patchSeconds: number;
      events: number;
      patchEvents: number;
    };
    expect(r.name).toBe('hashes'); // the blocked greenlet's metric name (its function's, unnamed)
    expect(r.seconds).toBeGreaterThan(0.005);
    expect(r.seconds).toBeCloseTo(r.patchSeconds, 9);
    expect(r.events).toBeGreaterThanOrEqual(1);
    expect(r.events).toBe(r.patchEvents);
  });

  it('a block that both the blocking monitor and the patch see is counted once, by the monitor, under the API the patch named', async () => {
    const { code, result } = await scenario(`${PATCH("blocking: 'count', maxBlockingTime: 5")}
      import { getHub, startBlockingMonitor } from 'greenhub';
      const monitor = startBlockingMonitor({ maxBlockingTime: 50, print: false });
      await monitor.ready();
      const reports = [];
      monitor.on('blocked', (r) => reports.push(r));
      const before = getHub().stats();
      const seen = new Promise((resolve) => monitor.on('blocked', (r) => r.api === 'Atomics.wait' && resolve(r)));
      const alive = setInterval(() => {}, 1000); // the monitor does not keep the process alive for its report
      await spawn(async () => {
        await sleep(1);
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
      }).join();
      await seen;
      clearInterval(alive);
      const after = getHub().stats();
      const waits = reports.filter((r) => r.api === 'Atomics.wait');
      report({
        patchSaw: blockingStats().byApi['Atomics.wait']?.events,
        monitorSaw: waits.length,
        events: after.blockingEvents - before.blockingEvents,
        reports: reports.length,
        ms: (after.blockedMsByApi['Atomics.wait'] ?? 0) - (before.blockedMsByApi['Atomics.wait'] ?? 0),
        monitorMs: waits.reduce((sum, r) => sum + r.durationMs, 0),
      });
      await monitor.stop();
    `);
    expect(code).toBe(0);
    const r = result as Record<string, number>;
    expect(r).toMatchObject({ patchSaw: 1, monitorSaw: 1 });
    expect(r.events).toBe(r.reports);
    expect(r.ms).toBeCloseTo(r.monitorMs!, 9);
    expect(r.ms).toBeGreaterThanOrEqual(150);
  });

  it('below the threshold nothing is recorded, and the wrappers return what the originals return', async () => {
    const { code, stderr, result } = await scenario(`${PATCH("blocking: 'warn'")}
      import fs from 'node:fs';
      const out = execSync('echo same').toString();
      let error;
      try { fs.readFileSync('/definitely/missing'); } catch (e) { error = e.code; }
      report({ out, error, events: blockingStats().events });
    `);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(result).toEqual({ out: 'same\n', error: 'ENOENT', events: 0 });
  });
});
