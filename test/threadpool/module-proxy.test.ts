import { GreenletExit, spawn, Timeout, withTimeout } from 'greenhub';
import { ThreadPool, UncloneableError, WorkerCrashError } from 'greenhub/threadpool';
import { afterAll, describe, expect, expectTypeOf, it } from 'vitest';
import { flags, TASKS, until } from './helpers.js';

type Tasks = typeof import('./fixtures/tasks.mjs');

const pool = new ThreadPool({ maxThreads: 2, name: 'modules', cancelGrace: 50 });
const tasks = pool.module<Tasks>(TASKS);
afterAll(() => pool.close());

describe('ThreadPool.module()', () => {
  it('calls every exported function on a thread, with types inferred from the module', async () => {
    const sum = tasks.add(2, 3);
    expectTypeOf(sum).toEqualTypeOf<Promise<number>>();
    expect(await sum).toBe(5);
    expect(await tasks.later(5, 'x')).toBe('x');
    expect(await tasks.answer).toBe(42); // an exported value, read on a thread
    expect(pool.stats().tasks.ok).toBeGreaterThanOrEqual(3);
  });

  it("rejects with the task's error, rebuilt whole", async () => {
    const error = (await tasks.fail('range').catch((e: unknown) => e)) as RangeError & { code: string };
    expect(error).toBeInstanceOf(RangeError);
    expect(error.code).toBe('E_RANGE');
    expect((error.cause as Error).message).toBe('root cause');
  });

  it('a call whose thread dies rejects instead of waiting forever for a reply', async () => {
    const error = await tasks.exit(7).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkerCrashError);
    expect((error as WorkerCrashError).exitCode).toBe(7);
    expect(await tasks.add(1, 1)).toBe(2);
  });

  it('a call is part of the calling greenlet: killing it cancels the call on its thread', async () => {
    const mark = flags();
    const g = spawn(() => tasks.spinUntilCancelled(mark.buffer));
    await until(mark.view, 1);
    await g.kill();
    expect(g.value).toBeInstanceOf(GreenletExit);
    await until(mark.view, 0); // it stopped at a checkpoint
  });

  it('withTimeout() bounds a call; so does the timeout option of the proxy', async () => {
    const mark = flags();
    expect(
      await withTimeout<unknown>(50, () => tasks.spinUntilCancelled(mark.buffer), { fallback: 'late' }),
    ).toBe('late');
    const bounded = pool.module<Tasks>(TASKS, { timeout: 300 });
    const start = performance.now();
    await expect(bounded.delayed(60_000)).rejects.toBeInstanceOf(Timeout);
    expect(performance.now() - start).toBeLessThan(10_000);
    expect(await bounded.add(1, 2)).toBe(3); // calls that finish in time go through
  });

  it('refuses to construct through the proxy: the object would live on one thread of many', async () => {
    const Remote = (tasks as unknown as { echo: new () => Promise<unknown> }).echo;
    await expect(new Remote()).rejects.toThrow(
      /constructing a module export through a pool proxy is not supported/,
    );
  });

  it('a function argument is refused at once, naming the argument', async () => {
    await expect(tasks.echo((() => 1) as unknown as number)).rejects.toBeInstanceOf(UncloneableError);
  });

  it('a misspelt export fails with the exports the module has', async () => {
    const typo = tasks as unknown as { ad(): Promise<unknown> };
    await expect(typo.ad()).rejects.toThrow(/has no export `ad`; its exported functions: .*\badd\b/);
  });
});
