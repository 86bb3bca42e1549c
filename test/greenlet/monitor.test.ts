import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { programFrames } from '../../src/greenlet/monitor.js';
import {
  type BlockingMonitor,
  type BlockingReport,
  formatBlockingReport,
  getBlockingMonitor,
  getHub,
  InvalidStateError,
  setBlockingApi,
  sleep,
  spawn,
  startBlockingMonitor,
} from '../../src/index.js';
import { runNode } from '../helpers.js';

/** Hold the thread in JavaScript for `ms`. */
function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/** Hold the thread in a native call for `ms`. */
function nativeBlock(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

async function started(opts?: Parameters<typeof startBlockingMonitor>[0]): Promise<BlockingMonitor> {
  const monitor = startBlockingMonitor({ print: false, ...opts });
  await monitor.ready();
  return monitor;
}

const nextReport = (monitor: BlockingMonitor): Promise<BlockingReport> =>
  once(monitor, 'blocked').then(([report]) => report as BlockingReport);

afterEach(async () => {
  await getBlockingMonitor()?.stop();
});

describe('blocking monitor', () => {
  it('reports a greenlet that spins past maxBlockingTime: its name, how long, and the stack of the blocking code', async () => {
    const monitor = await started({ maxBlockingTime: 50 });
    const before = getHub().stats();
    const report = nextReport(monitor);
    const g = spawn(async function crunchNumbers() {
      await sleep(1);
      spin(200);
    });
    g.name = 'cruncher';
    const r = await report;
    expect(r.greenlet).toEqual({ id: g.id, name: 'cruncher' });
    expect(r.durationMs).toBeGreaterThanOrEqual(200 - 2 * monitor.resolutionMs);
    expect(r.durationMs).toBeLessThan(2000);
    expect(r.api).toBeNull();
    expect(r.stack).toMatch(/at crunchNumbers \(.*monitor\.test\.ts/);
    const after = getHub().stats();
    expect(after.blockingEvents - before.blockingEvents).toBe(1);
    expect(after.blockedMs - before.blockedMs).toBeCloseTo(r.durationMs, 5);
    expect((after.blockedMsByApi.none ?? 0) - (before.blockedMsByApi.none ?? 0)).toBeCloseTo(r.durationMs, 5);
  });

  it('names the blocking API the patch layer set with setBlockingApi(), for a native call too, and counts time by API', async () => {
    const monitor = await started({ maxBlockingTime: 50 });
    const report = nextReport(monitor);
    const g = spawn(async () => {
      await sleep(1);
      const previous = setBlockingApi('fs.readFileSync');
      try {
        nativeBlock(150);
      } finally {
        setBlockingApi(previous);
      }
    });
    g.name = 'reader';
    const r = await report;
    expect(r.api).toBe('fs.readFileSync');
    expect(r.greenlet?.name).toBe('reader');
    expect(r.durationMs).toBeGreaterThanOrEqual(150 - 2 * monitor.resolutionMs);
    expect(getHub().stats().blockedMsByApi['fs.readFileSync']).toBeGreaterThanOrEqual(r.durationMs);
  });

  it('reports code outside any greenlet with greenlet null and its stack', async () => {
    const monitor = await started({ maxBlockingTime: 50 });
    const report = nextReport(monitor);
    await sleep(1);
    (function topLevelWork() {
      spin(150);
    })();
    const r = await report;
    expect(r.greenlet).toBeNull();
    expect(r.stack).toContain('topLevelWork');
    expect(formatBlockingReport(r, 50)).toMatch(
      /^greenhub: the hub was blocked for \d+ ms by code outside any greenlet \(maxBlockingTime 50 ms\)\n {4}at spin .*\n {4}at topLevelWork/,
    );
  });

  it('does not report a loop saturated by many short greenlets that keep switching (only the real block after them)', async () => {
    // A wide margin between a short greenlet and the limit: on a loaded machine the OS may pause
    // the process for tens of milliseconds in the middle of any of them.
    const monitor = await started({ maxBlockingTime: 200 });
    const reports: BlockingReport[] = [];
    monitor.on('blocked', (r) => reports.push(r));
    // 30 greenlets × 10 ms: the loop is busy for 300 ms, but no greenlet holds it past 200 ms.
    const workers = Array.from({ length: 30 }, () =>
      spawn(async () => {
        spin(10);
        await sleep(0);
      }),
    );
    for (const w of workers) await w.join();
    const sentinel = nextReport(monitor);
    const g = spawn(async () => {
      await sleep(1);
      spin(400);
    });
    g.name = 'sentinel';
    await sentinel;
    expect(reports.map((r) => r.greenlet?.name)).toEqual(['sentinel']);
  });

  it('prints the report on stderr, and a "still blocked" notice from the watchdog while a long block lasts', async () => {
    const { code, stderr } = await runNode({
      source: `
        import { spawn, sleep, startBlockingMonitor } from 'greenhub';
        const monitor = startBlockingMonitor({ maxBlockingTime: 50 });
        await monitor.ready();
        // The watchdog does not keep the process alive; a server would, this interval stands in.
        const alive = setInterval(() => {}, 1000);
        const done = new Promise((resolve) => monitor.once('blocked', resolve));
        const g = spawn(async function endless() {
          await sleep(1);
          const end = performance.now() + 1300;
          while (performance.now() < end);
        });
        g.name = 'looper';
        await done;
        await monitor.stop();
        clearInterval(alive);
      `,
    });
    expect(code).toBe(0);
    expect(stderr).toMatch(
      /greenhub: the hub has been blocked for 1\.\d s and still is \(maxBlockingTime 50 ms\) by "looper" \(Greenlet-1\)\n/,
    );
    expect(stderr).toMatch(
      /greenhub: the hub was blocked for 1\.\d+ s by "looper" \(Greenlet-1\) \(maxBlockingTime 50 ms\)\n {4}at endless/,
    );
  });

  it('does not keep the process alive: a script that only starts the monitor exits by itself', async () => {
    const started = performance.now();
    const { code, stdout } = await runNode({
      source: `
        import { startBlockingMonitor } from 'greenhub';
        const monitor = startBlockingMonitor({ print: false });
        await monitor.ready();
        console.log('running ' + monitor.running);
      `,
      timeoutMs: 10_000,
    });
    expect(code).toBe(0);
    expect(stdout).toBe('running true\n');
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('stops cleanly while a probe of a block may be in flight, again and again: the process never aborts', async () => {
    // The watchdog used to exit right after letting go of its inspector session, racing this
    // thread's teardown of it; Node then aborted the whole process (in MainThreadInterface::Post):
    // about 1 run in 24 of this loop, and now and then a test runner's fork in a full run. It now
    // exits only once this thread has answered (watchdog-source.ts).
    const { code, stdout, stderr } = await runNode({
      source: `
        import { startBlockingMonitor } from 'greenhub';
        for (let i = 0; i < 120; i++) {
          const monitor = startBlockingMonitor({ print: false, maxBlockingTime: 10 });
          await monitor.ready();
          const end = performance.now() + 12 + (i % 5) * 5;
          while (performance.now() < end);
          if (i % 3 === 0) await new Promise((resolve) => setImmediate(resolve));
          await monitor.stop();
        }
        console.log('stopped 120 times');
      `,
      timeoutMs: 60_000,
    });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toBe('stopped 120 times\n');
  });

  it('still reports a block, and lets the process exit once the application has nothing left to do', async () => {
    const { code, stdout } = await runNode({
      source: `
        import { spawn, sleep, startBlockingMonitor } from 'greenhub';
        const monitor = startBlockingMonitor({ maxBlockingTime: 50, print: false });
        await monitor.ready();
        // The application's own work, until the report came; then nothing keeps the loop open.
        const work = setInterval(() => {}, 1000);
        const blocked = new Promise((resolve) => monitor.once('blocked', resolve));
        const g = spawn(async () => {
          await sleep(1);
          const end = performance.now() + 200;
          while (performance.now() < end);
        });
        g.name = 'spinner';
        const report = await blocked;
        clearInterval(work);
        console.log(JSON.stringify({ greenlet: report.greenlet?.name, long: report.durationMs >= 150 }));
      `,
      timeoutMs: 10_000,
    });
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ greenlet: 'spinner', long: true });
  });

  it('costs the hub no switch count: the counter moves into shared memory and back', async () => {
    const hub = getHub();
    await spawn(() => 1).join();
    const before = hub.stats().switches;
    const monitor = await started();
    await spawn(() => 1).join();
    expect(hub.stats().switches).toBe(before + 1);
    await monitor.stop();
    await spawn(() => 1).join();
    expect(hub.stats().switches).toBe(before + 2);
    expect(monitor.running).toBe(false);
  });

  it('startBlockingMonitor() returns the running monitor for the same options and refuses other options', async () => {
    const monitor = await started({ maxBlockingTime: 80 });
    expect(startBlockingMonitor({ maxBlockingTime: 80, print: false })).toBe(monitor);
    expect(getBlockingMonitor()).toBe(monitor);
    expect(() => startBlockingMonitor({ maxBlockingTime: 20, print: false })).toThrow(InvalidStateError);
    await monitor.stop();
    expect(getBlockingMonitor()).toBeNull();
  });

  it('validates its options and setBlockingApi() its argument', () => {
    expect(() => startBlockingMonitor({ maxBlockingTime: -1 })).toThrow(
      /startBlockingMonitor\(\): expected `opts.maxBlockingTime` to be a non-negative number of milliseconds, got `-1` \(number\)/,
    );
    expect(() => startBlockingMonitor({ maxBlockingTime: 0.5 })).toThrow(RangeError);
    expect(() => startBlockingMonitor({ print: 'no' as never })).toThrow(TypeError);
    expect(() => startBlockingMonitor({ maxBlockingtime: 5 } as never)).toThrow(
      /unknown option `opts.maxBlockingtime`/,
    );
    expect(() => setBlockingApi(42 as never)).toThrow(
      /setBlockingApi\(\): expected `api` to be a string or null/,
    );
    expect(getBlockingMonitor()).toBeNull();
  });
});

describe('the stack of a blocking report', () => {
  it('starts at the program’s own frame, whatever builtin the block was sampled in (Node 20 and 24 shapes)', () => {
    const node24 = [
      'Error',
      '    at <anonymous>:1:1',
      '    at Performance.hasOwnProperty (<anonymous>)',
      '    at node:internal/validators:548:57',
      '    at wrappedFn (node:internal/errors:540:14)',
      '    at Performance.now (node:internal/perf/performance:138:5)',
      '    at endless (file:///app/main.js:11:30)',
      '    at run (node:internal/modules/esm/module_job:1:1)',
    ].join('\n');
    expect(programFrames(node24)).toBe(
      '    at endless (file:///app/main.js:11:30)\n    at run (node:internal/modules/esm/module_job:1:1)',
    );
    const node20 = [
      'Error',
      '    at get performance (node:perf_hooks:1:1)',
      '    at spin (/app/x.js:2:3)',
    ].join('\n');
    expect(programFrames(node20)).toBe('    at spin (/app/x.js:2:3)');
    expect(programFrames('Error\n    at node:internal/a:1:1')).toBe('    at node:internal/a:1:1');
  });
});
