// LoopExit needs Node's loop to run dry, which never happens inside the test runner: each scenario
// is a program of its own (test/threadpool/scenarios/), run in a child process.
import { describe, expect, it } from 'vitest';
import { runNode } from '../helpers.js';

const scenario = (name: string, args: string[] = []) =>
  runNode({ file: `test/threadpool/scenarios/${name}.mjs`, args, timeoutMs: 20_000 });

describe('LoopExit and threads', () => {
  it.concurrent('a greenlet joining a 2-second CPU task on a cold pool never gets LoopExit', async () => {
    const { code, stdout, stderr } = await scenario('long-task');
    expect(stderr).not.toMatch(/LoopExit/);
    expect(stdout.trim()).toBe('value 2000 exception none');
    expect(code).toBe(0);
  });

  it.concurrent('once the pool is closed and its task can no longer deliver, the waiter gets LoopExit', async () => {
    const { stdout } = await scenario('pool-closed');
    expect(stdout.trim()).toMatch(
      /^LoopExit: This operation would block forever: top-level code waits in wait\(\) on Event\(unset\)/,
    );
  });

  it.concurrent('a SharedEvent wait keeps LoopExit away while a thread that could set it lives, not after', async () => {
    const { stdout } = await scenario('shared-wait');
    const [first, second] = stdout.trim().split('\n');
    expect(first).toBe('woken true');
    expect(second).toMatch(/^LoopExit: .*waits in wait\(\) on SharedEvent\(unset\)/);
  });

  it.concurrent('joining an unref’d daemon thread keeps the process until it ends; an unjoined daemon does not', async () => {
    const { code, stdout } = await scenario('threads', ['daemon']);
    const [joined, exit] = stdout.trim().split('\n');
    expect(joined).toBe('joined daemon true after true');
    expect(Number(/exit after (\d+) ms/.exec(exit!)?.[1])).toBeLessThan(5_000); // not the 60 s spin
    expect(code).toBe(0);
  });

  it.concurrent('a non-daemon thread keeps the process alive until it ends, as in Python', async () => {
    const { code, stdout } = await scenario('threads');
    const exit = stdout.trim().split('\n')[1]!;
    expect(Number(/exit after (\d+) ms/.exec(exit)?.[1])).toBeGreaterThanOrEqual(500); // 200 + 300 ms
    expect(code).toBe(0);
  });
});
