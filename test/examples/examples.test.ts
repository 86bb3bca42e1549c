import { describe, expect, it } from 'vitest';
import { runNode } from '../helpers.js';

const lines = (text: string) => text.trim().split('\n');

describe('examples (each run as a program, as `npm start` does)', () => {
  it('switching.js prints the four lines of gevent’s foo/bar example in order', async () => {
    const { code, stdout } = await runNode({ file: 'examples/switching.js' });
    expect(code).toBe(0);
    expect(lines(stdout)).toEqual([
      'Running in foo',
      'Explicit context to bar',
      'Explicit context switch to foo again',
      'Implicit context switch back to bar',
    ]);
  });

  it('sync-vs-async.js: in order synchronously; as greenlets it takes about the longest sleep, not the sum', async () => {
    const { code, stdout } = await runNode({ file: 'examples/sync-vs-async.js' });
    expect(code).toBe(0);
    const out = lines(stdout);
    const syncTasks = out.slice(1, 11).map((l) => Number(/Task (\d)/.exec(l)?.[1]));
    expect(syncTasks).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const asyncLines = out.slice(13, 23);
    const asyncDelays = asyncLines.map((l) => Number(/slept (\d+) ms/.exec(l)?.[1]));
    // Finished by duration. Two sleeps 1–2 ms apart may swap on a loaded machine: Node's timers
    // fire by the loop's cached clock, in lists per duration, not in one global order.
    asyncDelays.forEach((delay, i) => {
      expect(delay).toBeGreaterThanOrEqual(Math.max(0, ...asyncDelays.slice(0, i)) - 2);
    });
    const [, syncMs, sum] = /synchronous took (\d+) ms \(sum of sleeps: (\d+) ms\)/
      .exec(out[11]!)!
      .map(Number);
    const [, asyncMs, longest] = /asynchronous took (\d+) ms \(longest sleep: (\d+) ms\)/
      .exec(out[23]!)!
      .map(Number);
    // Node computes a timer's expiry from the loop's cached clock, which lags on a loaded machine,
    // so a sleep can end a little early by performance.now(): the bounds are proportional.
    expect(syncMs).toBeGreaterThanOrEqual(sum! * 0.8);
    expect(asyncMs).toBeGreaterThanOrEqual(longest! * 0.8);
    // Compared with the synchronous run measured in the same process, under the same load: the sum
    // of sleeps is typically 5–6× the longest, so half is a wide margin on a loaded machine.
    expect(asyncMs).toBeLessThan(syncMs! / 2);
  });

  it('polling.js: three greenlets finish together after about 2 s', async () => {
    const { code, stdout } = await runNode({ file: 'examples/polling.js' });
    expect(code).toBe(0);
    const out = lines(stdout);
    expect(out.slice(0, 3)).toEqual([
      'Started Polling: at 0.0 seconds',
      'Started Polling: at 0.0 seconds',
      'Hey lets do some stuff while the greenlets poll, at 0.0 seconds',
    ]);
    for (const line of out.slice(3)) {
      const seconds = Number(/at ([\d.]+) seconds/.exec(line)?.[1]);
      expect(seconds).toBeGreaterThanOrEqual(2);
      expect(seconds).toBeLessThan(3);
    }
    expect(out.slice(3).map((l) => l.replace(/[\d.]+ seconds/, 'N seconds'))).toEqual([
      'Ended Polling: at N seconds',
      'Ended Polling: at N seconds',
      'All done at N seconds',
    ]);
  });

  it('loop-exit.js: plain Node exits 0 saying nothing; greenhub reports LoopExit and exits 1', async () => {
    const { code, stdout } = await runNode({ file: 'examples/loop-exit.js' });
    expect(code).toBe(0);
    const [plain, greenhub] = stdout.split('--- greenhub');
    expect(plain).toContain('(no output)');
    expect(plain).toContain('exit status: 0');
    expect(greenhub).toContain(
      'LoopExit: This operation would block forever: "consumer" (Greenlet-1) waits in wait() on Event(unset)',
    );
    expect(greenhub).toContain('Run info: 1 live greenlet');
    expect(greenhub).toContain('exit status: 1');
  });
});
