import { GreenletExit, getHub, spawn } from 'greenhub';
import { type Hybrid, hybrid, PoolClosedError, ThreadPool } from 'greenhub/threadpool';
import { afterAll, describe, expect, it } from 'vitest';
import { flags, ref, until } from './helpers.js';

const pool = new ThreadPool({ maxThreads: 2, name: 'hybrid-tests' });
afterAll(() => pool.close());

const ms = (value: number) => value * 1000; // spin(ms): size in microseconds of work

/**
 * Call until the call is placed inline (at most 40 calls): a thread's first run of a function
 * includes its compilation, so the first measurement can be well above the function's steady cost,
 * and the estimate (an average) takes a few calls to come down.
 */
async function untilInline(fn: Hybrid<(ms: number) => number>, arg: number): Promise<void> {
  for (let i = 0; i < 40 && fn.place(arg).placement !== 'inline'; i++) await fn(arg);
}

describe('hybrid()', () => {
  it('runs the first call on a thread (no measurement yet), then cheap calls inline', async () => {
    const add = hybrid(ref('add'), { pool });
    expect(add.place(1, 2)).toMatchObject({ placement: 'thread', estimateMs: null });
    expect(await add(1, 2)).toBe(3); // measured on the thread; the module loads here meanwhile
    expect(await add(2, 3)).toBe(5);
    const placement = add.place(3, 4);
    expect(placement.placement).toBe('inline');
    expect(placement.reason).toBe('estimate ≤ thresholdMs (0.5 ms)');
    const inlineBefore = add.stats().inline;
    expect(await add(3, 4)).toBe(7);
    expect(add.stats().inline).toBe(inlineBefore + 1);
  });

  it('places calls by the cost measured for their size: small ones inline, large ones on threads', async () => {
    const spin = hybrid(ref('spin'), { pool, size: ms });
    expect(spin.place(0.01).placement).toBe('thread'); // nothing measured yet
    await untilInline(spin, 0.01);
    // 20 ms: a class never measured, estimated from the small one scaled by size: a thread
    expect(spin.place(20).placement).toBe('thread');
    await spin(20);
    expect(spin.place(0.01).placement).toBe('inline');
    expect(spin.place(20)).toMatchObject({ placement: 'thread', reason: 'estimate > thresholdMs (0.5 ms)' });
    expect(spin.place(20).estimateMs).toBeGreaterThan(10);
    const stats = spin.stats();
    expect(stats.name).toBe('spin (tasks.mjs)');
    expect(stats.classes.map((c) => c.samples).reduce((a, b) => a + b)).toBe(stats.inline + stats.thread);
    // a size class never measured borrows the nearest one's cost, scaled by size
    expect(spin.place(5).estimateMs).toBeGreaterThan(2);
  });

  it('a class whose cost changes moves across the threshold: measurements keep coming from both sides', async () => {
    let cost = 0.01;
    const work = hybrid(
      (spinMs: number) => {
        const end = performance.now() + spinMs;
        while (performance.now() < end);
        return spinMs;
      },
      { pool },
    );
    await work(cost);
    await work(cost);
    expect(work.place(cost).placement).toBe('inline');
    cost = 5; // same size class (no size function): the inline runs now measure 5 ms
    for (let i = 0; i < 12 && work.place(cost).placement === 'inline'; i++) await work(cost);
    expect(work.place(cost).placement).toBe('thread');
  });

  it('thresholdMs sets the boundary', async () => {
    const generous = hybrid(ref('spin'), { pool, thresholdMs: 1_000 });
    await untilInline(generous, 2);
    expect(generous.place(2)).toMatchObject({ placement: 'inline' });
    const strict = hybrid(ref('add'), { pool, thresholdMs: 0 });
    await strict(1, 1);
    expect(strict.place(1, 1).placement).toBe('thread');
  });

  it('an inline call has a task context: killing its greenlet aborts currentSignal() and returns at once', async () => {
    const local = new ThreadPool({ maxThreads: 1 });
    const wait = hybrid(ref('waitForSignal'), { pool: local, thresholdMs: 50 }); // its first run is cold
    const first = flags();
    const onThread = spawn(() => wait(first.buffer));
    await until(first.view, 1);
    await onThread.kill(); // its synchronous part was measured on the thread: cheap
    await local.close(); // once the task settled there, the measurement is in
    const marks = flags();
    expect(wait.place(marks.buffer).placement).toBe('inline');
    const g = spawn(() => wait(marks.buffer));
    await until(marks.view, 1);
    await g.kill();
    expect(g.value).toBeInstanceOf(GreenletExit);
    await until(marks.view, 0);
    expect(Atomics.load(marks.view, 0)).toBe(1); // the signal's reason was a TaskCancelledError
    expect(wait.stats()).toMatchObject({ inline: 1, thread: 1 });
  });

  it('inline calls yield to the event loop once they took 2 × thresholdMs in one turn', async () => {
    const work = hybrid(ref('spin'), { pool, thresholdMs: 0.5 });
    await untilInline(work, 0.2);
    expect(work.place(0.2).placement).toBe('inline');
    let ticked = false;
    setImmediate(() => {
      ticked = true;
    });
    const g = spawn(async () => {
      for (let i = 0; i < 50 && !ticked; i++) await work(0.2);
      return ticked;
    });
    expect(await g.get()).toBe(true); // 50 × 0.2 ms inline would be 10 ms without a yield
  });

  it('a result marked by move() is the value itself, inline as from a thread', async () => {
    const make = hybrid(ref('makeBuffer'), { pool, thresholdMs: 50 });
    const fromThread = (await make(16)) as unknown as Uint8Array;
    expect(fromThread).toBeInstanceOf(Uint8Array);
    for (let i = 0; i < 40 && make.place(16).placement !== 'inline'; i++) await make(16);
    expect(make.place(16).placement).toBe('inline');
    const inline = (await make(16)) as unknown as Uint8Array;
    expect(inline).toBeInstanceOf(Uint8Array);
    expect(inline[0]).toBe(7);
  });

  it('uses the hub’s default pool unless given one', async () => {
    const hub = getHub();
    const local = new ThreadPool({ maxThreads: 1 });
    hub.threadpool = local;
    const add = hybrid(ref('add'));
    expect(await add(1, 1)).toBe(2);
    expect(local.stats().tasks.ok).toBe(1);
    await local.close();
  });

  it('refuses bad arguments, naming them', () => {
    expect(() => hybrid('add' as never)).toThrow(
      /expected `task` to be a TaskRef or a self-contained function/,
    );
    expect(() => hybrid(ref('add'), { thresholdMs: -1 })).toThrow(/opts.thresholdMs/);
    expect(() => hybrid(ref('add'), { size: 3 as never })).toThrow(/opts.size/);
    expect(() => hybrid(ref('add'), { pool: {} as never })).toThrow(/opts.pool/);
    expect(() => hybrid(ref('add'), { treshold: 1 } as never)).toThrow(/unknown option/);
  });

  it('a call that cannot be placed rejects (a closed pool), it does not throw', async () => {
    const local = new ThreadPool({ maxThreads: 1 });
    await local.close();
    const add = hybrid(ref('add'), { pool: local });
    await expect(add(1, 2)).rejects.toBeInstanceOf(PoolClosedError);
  });

  it('a size function that returns nonsense makes that call fail, not the model', async () => {
    const add = hybrid(ref('add'), { pool, size: () => Number.NaN });
    await expect(add(1, 2)).rejects.toThrow(
      /expected `opts.size\(...args\)` to be a finite, non-negative number/,
    );
  });
});
