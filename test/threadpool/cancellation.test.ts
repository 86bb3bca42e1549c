import { GreenletExit, joinAll, killAll, PoolFull, spawn, Timeout, wait, withTimeout } from 'greenhub';
import { ThreadPool } from 'greenhub/threadpool';
import { describe, expect, it } from 'vitest';
import { flags, ref, until } from './helpers.js';

describe('cancelling pool tasks', () => {
  it('killing the greenlet of a queued task removes it from the queue: it never runs', async () => {
    await using pool = new ThreadPool({ maxThreads: 1 });
    const busy = flags();
    const queued = flags();
    const running = pool.spawn(ref('markStarted'), busy.buffer, 100);
    await until(busy.view, 1);
    const g = pool.spawn(ref('markStarted'), queued.buffer, 0);
    expect(pool.stats().queued).toBe(1);
    await g.kill();
    expect(g.value).toBeInstanceOf(GreenletExit);
    expect(pool.stats().queued).toBe(0);
    await running.join();
    expect(await pool.apply(ref('add'), 1, 1)).toBe(2); // the next task runs: the queue moved on
    expect(Atomics.load(queued.view, 1)).toBe(0);
    expect(pool.stats().tasks.cancelled).toBe(1);
  });

  it('a task cancelled in the queue gives its place back at once; the queue keeps its order', async () => {
    await using pool = new ThreadPool({ maxThreads: 1, maxQueue: 2 });
    const busy = flags();
    const running = pool.spawn(ref('spinUntilCancelled'), busy.buffer);
    await until(busy.view, 1);
    const first = pool.spawn(ref('add'), 1, 0);
    const second = pool.spawn(ref('add'), 2, 0);
    expect(() => pool.spawn(ref('add'), 9, 0)).toThrow(PoolFull);
    await first.kill();
    const third = pool.spawn(ref('add'), 3, 0); // the killed task's place, free at once
    expect(pool.stats().queued).toBe(2);
    await running.kill();
    const done = await joinAll([second, third]);
    expect(done.map((g) => g.value)).toEqual([2, 3]);
    expect(pool.stats().tasks).toMatchObject({ ok: 2, cancelled: 2 });
  });

  it('killing a greenlet before it even started cancels its task too', async () => {
    await using pool = new ThreadPool({ maxThreads: 1 });
    const mark = flags();
    const g = pool.spawn(ref('spinUntilCancelled'), mark.buffer);
    await g.kill(); // the greenlet never ran; the task was already submitted
    expect(g.dead).toBe(true);
    await pool.close(); // would wait forever if the task were still spinning
    expect(pool.stats().tasks.cancelled).toBe(1);
  });

  it('a running task sees the kill at its next checkpoint(), and the kill returns at once', async () => {
    await using pool = new ThreadPool({ maxThreads: 1, cancelGrace: 5_000 });
    const mark = flags();
    const g = pool.spawn(ref('spinUntilCancelled'), mark.buffer);
    await until(mark.view, 1);
    const start = performance.now();
    await g.kill();
    expect(performance.now() - start).toBeLessThan(1_000); // far below cancelGrace
    expect(g.value).toBeInstanceOf(GreenletExit);
    await until(mark.view, 0); // its finally ran: it stopped by itself, no termination
    await pool.close();
    expect(pool.stats().terminatedThreads).toBe(0);
  });

  // 1: the reason passed the task's own instanceof (waitForSignal), or, for a task whose
  // greenhub/worker hands the shared context no class (an older copy), has the code and reason.
  it.each([
    ['the task’s own class', 'waitForSignal'],
    ['the context’s class when the task’s greenhub/worker hands none', 'waitForSignalWithoutClass'],
  ] as const)("a running task's currentSignal() aborts with a TaskCancelledError: %s", async (_, fixture) => {
    await using pool = new ThreadPool({ maxThreads: 1 });
    const mark = flags();
    const g = pool.spawn(ref(fixture), mark.buffer);
    await until(mark.view, 1);
    await g.kill();
    await until(mark.view, 0);
    expect(Atomics.load(mark.view, 0)).toBe(1);
  });

  it('a Timeout in the calling greenlet cancels the task and raises the Timeout', async () => {
    await using pool = new ThreadPool({ maxThreads: 1, minThreads: 1 });
    await pool.apply(ref('add'), 0, 0); // a warm thread: the task is running when the Timeout fires
    const mark = flags();
    const g = spawn(async () => {
      using _ = Timeout.start(100);
      await pool.apply(ref('spinUntilCancelled'), mark.buffer);
    });
    await g.join();
    expect(g.exception).toBeInstanceOf(Timeout);
    expect(Atomics.load(mark.view, 1)).toBe(1);
    await until(mark.view, 0);
  });

  it('withTimeout() around apply() returns its fallback and stops the task', async () => {
    await using pool = new ThreadPool({ maxThreads: 1, minThreads: 1 });
    await pool.apply(ref('add'), 0, 0);
    const mark = flags();
    const value = await withTimeout<unknown>(100, () => pool.apply(ref('spinUntilCancelled'), mark.buffer), {
      fallback: 'gave up',
    });
    expect(value).toBe('gave up');
    await until(mark.view, 0);
  });

  it("withTimeout() around g.get() or g.join() bounds the wait, not the task (gevent's get(timeout)); g.kill() cancels it", async () => {
    await using pool = new ThreadPool({ maxThreads: 1 });
    const mark = flags();
    const g = pool.spawn(ref('spinUntilCancelled'), mark.buffer);
    await until(mark.view, 1);
    expect(await withTimeout<unknown>(50, () => g.get(), { fallback: 'waited enough' })).toBe(
      'waited enough',
    );
    await expect(withTimeout(50, () => g.join())).rejects.toBeInstanceOf(Timeout);
    // A cancellation would have been counted at once (the caller's side never waits for the thread).
    expect(pool.stats().tasks.cancelled, 'the task was not cancelled').toBe(0);
    expect(g.dead).toBe(false);
    expect(Atomics.load(mark.view, 0), 'the task still spins').toBe(0);
    await g.kill();
    await until(mark.view, 0);
    expect(pool.stats().tasks.cancelled).toBe(1);
  });

  it('a task that ignores cancellation is terminated after cancelGrace, and its thread replaced', async () => {
    await using pool = new ThreadPool({ maxThreads: 1, minThreads: 1, cancelGrace: 400 });
    const mark = flags();
    const g = pool.spawn(ref('holdIgnoringCancel'), mark.buffer, 60_000);
    await until(mark.view, 1);
    const start = performance.now();
    await g.kill();
    expect(performance.now() - start).toBeLessThan(300); // the kill did not wait for the grace
    expect(await pool.apply(ref('add'), 2, 2)).toBe(4); // served by the replacement thread
    expect(pool.stats().terminatedThreads).toBe(1);
    expect(pool.stats().threads).toBe(1);
  });

  it('killing a group of pool greenlets (killAll) stops every one of them', async () => {
    await using pool = new ThreadPool({ maxThreads: 2 });
    const marks = [flags(), flags(), flags()];
    const gs = marks.map((m) => pool.spawn(ref('spinUntilCancelled'), m.buffer));
    await until(marks[0]!.view, 1);
    await until(marks[1]!.view, 1);
    await killAll(gs);
    expect(gs.every((g) => g.dead)).toBe(true);
    await until(marks[0]!.view, 0);
    await until(marks[1]!.view, 0);
    expect(Atomics.load(marks[2]!.view, 1)).toBe(0); // the third was still queued: never started
  });

  it('wait() and joinAll() with a timeout see pool greenlets like any other', async () => {
    await using pool = new ThreadPool({ maxThreads: 2, cancelGrace: 20 });
    const fast = pool.spawn(ref('delayed'), 1);
    const slow = pool.spawn(ref('delayed'), 2_000);
    const ready = await wait([fast, slow], { count: 1 });
    expect(ready).toEqual([fast]);
    expect(await joinAll([slow], { timeout: 10 })).toEqual([]);
    await slow.kill();
  });

  // piscina's pain points: aborting a running task must keep the pool usable, and tasks after many
  // aborts must still start (piscina issue #805: later tasks never started after an abort).
  it('after many aborts of running and queued tasks, new tasks still start', async () => {
    await using pool = new ThreadPool({ maxThreads: 1, minThreads: 1, cancelGrace: 10 });
    for (let round = 0; round < 5; round++) {
      const mark = flags();
      const running = pool.spawn(ref('holdIgnoringCancel'), mark.buffer, 60_000);
      const queued = [pool.spawn(ref('add'), 1, 1), pool.spawn(ref('add'), 2, 2)];
      await until(mark.view, 1);
      await killAll([queued[0]!, running]);
      expect(await queued[1]!.get()).toBe(4);
    }
    expect(await pool.apply(ref('add'), 20, 22)).toBe(42);
    expect(pool.stats().terminatedThreads).toBe(5);
  });

  it('a task cancelled while in flight to its thread throws before the function runs', async () => {
    await using pool = new ThreadPool({ maxThreads: 1 });
    const mark = flags();
    const g = pool.spawn(ref('markStarted'), mark.buffer, 0);
    g.kill({ block: false }); // before the hub even started the greenlet
    await g.join();
    await pool.close();
    expect(Atomics.load(mark.view, 1)).toBe(0);
  });
});
