import { Greenlet, getHub, joinAll, PoolFull, spawn } from 'greenhub';
import { PoolClosedError, TaskRef, ThreadPool, task, UncloneableError } from 'greenhub/threadpool';
import { afterAll, describe, expect, it } from 'vitest';
import { flags, ref, TASKS, until } from './helpers.js';

const pool = new ThreadPool({ maxThreads: 2, name: 'pool-tests' });
afterAll(() => pool.close());

describe('ThreadPool', () => {
  it('apply() runs a module export on a thread and returns its result', async () => {
    expect(await pool.apply(ref('add'), 2, 3)).toBe(5);
    expect(await pool.apply(task<(x: number) => number>(TASKS), 21)).toBe(42); // the default export
  });

  it('apply() awaits an async task', async () => {
    expect(await pool.apply(ref('later'), 5, 'late')).toBe('late');
  });

  it('spawn() returns a Greenlet whose value is the result, named after the task', async () => {
    const g = pool.spawn(ref('add'), 20, 22);
    expect(g).toBeInstanceOf(Greenlet);
    expect(g.name).toBe('add (tasks.mjs)');
    expect(await g.get()).toBe(42);
    expect(g.successful()).toBe(true);
  });

  it('spawned tasks work with joinAll and links like any greenlet', async () => {
    const linked: number[] = [];
    const gs = [1, 2, 3].map((n) => pool.spawn(ref('later'), 5 * n, n));
    for (const g of gs) g.link((done) => linked.push(done.value as number));
    const finished = await joinAll(gs);
    expect(finished.map((g) => g.value).sort()).toEqual([1, 2, 3]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(linked.sort()).toEqual([1, 2, 3]);
  });

  it('map() keeps input order; imapUnordered() yields in completion order', async () => {
    expect(await pool.map(task<(x: number) => number>(TASKS), [1, 2, 3, 4, 5])).toEqual([2, 4, 6, 8, 10]);
    const order: number[] = [];
    for await (const ms of pool.imapUnordered(ref('delayed'), [80, 1])) order.push(ms);
    expect(order).toEqual([1, 80]);
  });

  it('imap() with a window larger than the queue waits for its own tasks and loses no item', async () => {
    await using local = new ThreadPool({ maxThreads: 1, maxQueue: 1 });
    const results: number[] = [];
    for await (const value of local.imap(task<(x: number) => number>(TASKS), [1, 2, 3, 4, 5, 6], {
      maxsize: 6,
    }))
      results.push(value);
    expect(results).toEqual([2, 4, 6, 8, 10, 12]);
  });

  it('imap() yields each result once it and all before it are done', async () => {
    const results: number[] = [];
    for await (const value of pool.imap(task<(x: number) => number>(TASKS), [3, 1, 2])) results.push(value);
    expect(results).toEqual([6, 2, 4]);
  });

  it('imap(): an item that cannot be sent fails the map at its position, after the results before it', async () => {
    const results: number[] = [];
    const reading = (async () => {
      const items: unknown[] = [1, 2, () => 3, 4];
      for await (const value of pool.imap(task<(x: unknown) => number>(TASKS), items as number[]))
        results.push(value);
    })();
    await expect(reading).rejects.toBeInstanceOf(UncloneableError);
    expect(results).toEqual([2, 4]);
  });

  it('a consumer that leaves imap() early cancels the tasks still in flight', async () => {
    const local = new ThreadPool({ maxThreads: 2 });
    const mark = flags();
    const items = [0, 1, 2, 3].map((i) => ({ flags: mark.buffer, i }));
    for await (const first of local.imap(ref('stepOrSpin'), items, { maxsize: 2 })) {
      expect(first).toBe(0);
      await until(mark.view, 1);
      break; // item 1 is spinning on a thread: leaving must stop it
    }
    await until(mark.view, 0); // it stopped at a checkpoint
    await local.close(); // and nothing is left running (close would wait for it)
    expect(local.stats().tasks).toMatchObject({ ok: 1, cancelled: 1 });
  });

  it('run() runs a self-contained function without a module file', async () => {
    expect(await pool.run((a: number, b: number) => a * b, 6, 7)).toBe(42);
    const shape = {
      area(side: number) {
        return side * side;
      },
    };
    expect(await pool.run(shape.area, 3)).toBe(9); // a method's source works too
  });

  it('stats() counts tasks by outcome and reports threads, queue and timings', async () => {
    const local = new ThreadPool({ maxThreads: 1, name: 'stats' });
    await local.apply(ref('add'), 1, 1);
    await expect(local.apply(ref('fail'), 'boom')).rejects.toThrow('boom');
    const stats = local.stats();
    expect(stats).toMatchObject({
      name: 'stats',
      closed: false,
      maxThreads: 1,
      inFlight: 0,
      queued: 0,
      tasks: { ok: 1, error: 1, cancelled: 0, crashed: 0 },
    });
    expect(stats.threads).toBe(1);
    expect(stats.runTime.max).toBeGreaterThan(0);
    await local.close();
    expect(local.stats().closed).toBe(true);
  });

  it.skipIf(process.platform !== 'linux')(
    'niceIncrement lowers the priority of the pool threads, not the hub (Linux: /proc)',
    async () => {
      const { threadPriority } = await import('./fixtures/tasks.mjs');
      await using niced = new ThreadPool({ maxThreads: 1, niceIncrement: 7, name: 'niced' });
      await using plain = new ThreadPool({ maxThreads: 1, name: 'plain' });
      const before = threadPriority();
      expect(await niced.apply(ref('threadPriority'))).toBe(before + 7);
      expect(await plain.apply(ref('threadPriority'))).toBe(before);
      expect(threadPriority()).toBe(before);
    },
  );

  it('niceIncrement must be an integer from 0 to 19', () => {
    for (const bad of [-1, 20, 1.5, Number.NaN])
      expect(() => new ThreadPool({ niceIncrement: bad })).toThrow(
        expect.objectContaining({
          code: 'ERR_GREENHUB_INVALID_ARG_VALUE',
          argument: 'opts.niceIncrement',
        }),
      );
    expect(() => new ThreadPool({ niceIncrement: '5' as unknown as number })).toThrow(TypeError);
  });

  it('stats().utilization is the share of thread time spent running tasks (a busy pool is near 1)', async () => {
    await using busy = new ThreadPool({ maxThreads: 1, name: 'busy' });
    for (let i = 0; i < 5; i++)
      await busy.run((ms: number) => {
        const end = Date.now() + ms;
        while (Date.now() < end);
      }, 40);
    const { utilization } = busy.stats();
    // 200 ms of work over the pool's lifetime (thread start-up included, slow on a loaded machine):
    // far above the 0.0002 that piscina's own figure gives.
    expect(utilization).toBeGreaterThan(0.2);
    expect(utilization).toBeLessThanOrEqual(1);
  });

  it('maxQueue overflow fails fast with PoolFull, although every task carries an abort signal', async () => {
    // piscina does not apply maxQueue to tasks with a signal; the pool counts for itself.
    const local = new ThreadPool({ maxThreads: 1, maxQueue: 2 });
    const mark = flags();
    const running = local.spawn(ref('markStarted'), mark.buffer, 200);
    await until(mark.view, 1);
    const queued = [local.spawn(ref('add'), 1, 1), local.spawn(ref('add'), 2, 2)];
    expect(() => local.spawn(ref('add'), 3, 3)).toThrow(PoolFull); // synchronously: nothing waits
    await expect(local.apply(ref('add'), 3, 3)).rejects.toThrow(/is full: 1 threads busy and 2 tasks queued/);
    await joinAll([running, ...queued]);
    expect(await local.apply(ref('add'), 3, 3)).toBe(6); // room again
    await local.close();
  });

  it('close() lets tasks in flight finish, then refuses new ones with PoolClosedError', async () => {
    const local = new ThreadPool({ maxThreads: 1 });
    const g = local.spawn(ref('later'), 30, 'finished');
    await local.close();
    expect(await g.get()).toBe('finished');
    expect(() => local.spawn(ref('add'), 1, 1)).toThrow(PoolClosedError);
    await expect(local.apply(ref('add'), 1, 1)).rejects.toBeInstanceOf(PoolClosedError);
    expect(local.close()).toBe(local.close()); // idempotent
  });

  it('close({ timeout }) cancels what did not finish in time: those tasks fail with PoolClosedError', async () => {
    const local = new ThreadPool({ maxThreads: 1, cancelGrace: 50 });
    const mark = flags();
    const stuck = local.spawn(ref('spinUntilCancelled'), mark.buffer);
    const queued = local.spawn(ref('add'), 1, 1);
    await until(mark.view, 1);
    const joined = joinAll([stuck, queued]);
    await local.close({ timeout: 20 });
    await joined;
    expect(stuck.exception).toBeInstanceOf(PoolClosedError);
    expect(queued.exception).toBeInstanceOf(PoolClosedError);
    await until(mark.view, 0); // the running task saw the cancellation (its finally ran)
    expect(local.stats().threads).toBe(0);
  });

  it('await using closes the pool at the end of the block', async () => {
    let escaped: ThreadPool;
    {
      await using local = new ThreadPool({ maxThreads: 1 });
      escaped = local;
      expect(await local.apply(ref('add'), 1, 2)).toBe(3);
    }
    expect(escaped.closed).toBe(true);
  });

  it('getHub().threadpool is a default pool sized to the machine, created on first use, again after close', async () => {
    const hub = getHub();
    const first = hub.threadpool;
    expect(first).toBe(hub.threadpool);
    expect(first.name).toBe('default');
    const { availableParallelism } = await import('node:os');
    expect(first.maxThreads).toBe(availableParallelism());
    expect(await first.apply(ref('add'), 1, 1)).toBe(2);
    await first.close();
    expect(hub.threadpool).not.toBe(first);
    const custom = new ThreadPool({ maxThreads: 1 });
    hub.threadpool = custom;
    expect(hub.threadpool).toBe(custom);
    expect(() => {
      hub.threadpool = {} as ThreadPool;
    }).toThrow(/expected `threadpool` to be a ThreadPool/);
    await custom.close();
  });

  it('apply() inside a greenlet counts as a task operation of that greenlet', async () => {
    const mark = flags();
    const g = spawn(() => pool.apply(ref('markStarted'), mark.buffer, 50));
    await until(mark.view, 1);
    expect(getHub().stats().operations.task).toBeGreaterThanOrEqual(1);
    expect(getHub().formatRunInfo()).toMatch(/awaiting task ×1/);
    expect(getHub().formatRunInfo()).toMatch(/waker: ThreadPool "pool-tests" \(tasks in flight\)/);
    await g.join();
  });
});

describe('ThreadPool arguments', () => {
  it('refuses bad options, naming the option, what was expected and what came', () => {
    expect(() => new ThreadPool({ maxThreads: 0 })).toThrow(
      'new ThreadPool(): expected `opts.maxThreads` to be a positive integer, got `0` (number)',
    );
    expect(() => new ThreadPool({ maxThreads: 2, minThreads: 3 })).toThrow(/opts.minThreads/);
    expect(() => new ThreadPool({ maxQueue: -1 })).toThrow(/opts.maxQueue/);
    expect(() => new ThreadPool({ maxQueue: Number.POSITIVE_INFINITY })).toThrow(/opts.maxQueue/);
    expect(() => new ThreadPool({ idleTimout: 5 } as never)).toThrow(/unknown option `opts.idleTimout`/);
    expect(() => new ThreadPool({ cancelGrace: Number.POSITIVE_INFINITY })).toThrow(/opts.cancelGrace/);
  });

  it('task() refuses a relative path (relative to what?) and an empty export name', () => {
    expect(() => task('./tasks.js')).toThrow(/expected `module` to be a URL/);
    expect(() => task(TASKS, '')).toThrow(/exportName/);
    expect(task(TASKS.pathname, 'add')).toBeInstanceOf(TaskRef);
  });

  it('spawn()/apply() refuse something that is not a TaskRef', async () => {
    expect(() => pool.spawn((() => 1) as never)).toThrow(/expected `task` to be a TaskRef/);
    await expect(pool.apply('add' as never)).rejects.toThrow(/expected `task` to be a TaskRef/);
  });

  it('a missing export is reported with the exports the module does have', async () => {
    await expect(pool.apply(task(TASKS, 'ad'))).rejects.toThrow(
      /module .*tasks\.mjs has no export `ad`; its exported functions: .*\badd\b/,
    );
  });
});
