import { getEventListeners } from 'node:events';
import { GreenletExit, InvalidArgumentTypeError, InvalidArgumentValueError, Timeout } from 'greenhub';
import { ThreadPool } from 'greenhub/threadpool';
import { afterAll, describe, expect, it } from 'vitest';
import { flags, ref, until } from './helpers.js';

const pool = new ThreadPool({ maxThreads: 1, minThreads: 1, cancelGrace: 5_000, name: 'with-options' });
afterAll(() => pool.close());

/** What `cancelReason` (fixtures) writes into `flags[0]`. */
const SAW = { kill: 1, timeout: 2 } as const;

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('pool.withOptions({ signal })', () => {
  it('aborting cancels a running task as a kill does: its currentSignal() aborts; the call rejects with signal.reason', async () => {
    const controller = new AbortController();
    const mark = flags();
    const call = pool.withOptions({ signal: controller.signal }).apply(ref('cancelReason'), mark.buffer);
    await until(mark.view, 1);
    const reason = new Error('client went away');
    controller.abort(reason);
    expect(await rejection(call)).toBe(reason);
    await until(mark.view, 0);
    expect(Atomics.load(mark.view, 0), 'the task saw a kill').toBe(SAW.kill);
    expect(pool.stats().tasks.cancelled).toBeGreaterThanOrEqual(1);
  });

  it('aborting removes a queued task from the queue: it never starts', async () => {
    const busy = flags();
    const running = pool.apply(ref('markStarted'), busy.buffer, 50);
    await until(busy.view, 1);
    const controller = new AbortController();
    const queued = flags();
    const call = pool.withOptions({ signal: controller.signal }).apply(ref('markStarted'), queued.buffer, 0);
    expect(pool.stats().queued).toBe(1);
    controller.abort();
    const error = await rejection(call);
    expect(error).toBe(controller.signal.reason);
    expect((error as Error).name).toBe('AbortError');
    expect(pool.stats().queued).toBe(0);
    expect(await running).toBe('done');
    expect(await pool.apply(ref('add'), 1, 1)).toBe(2);
    expect(Atomics.load(queued.view, 1), 'the queued task never ran').toBe(0);
  });

  it('a task that ignores the abort is terminated after cancelGrace and its thread replaced', async () => {
    const local = new ThreadPool({ maxThreads: 1, minThreads: 1, cancelGrace: 50 });
    try {
      const controller = new AbortController();
      const mark = flags();
      const call = local
        .withOptions({ signal: controller.signal })
        .apply(ref('holdIgnoringCancel'), mark.buffer, 60_000);
      await until(mark.view, 1);
      controller.abort();
      expect(await rejection(call)).toBe(controller.signal.reason);
      expect(await local.apply(ref('add'), 2, 2)).toBe(4); // served by the replacement thread
      expect(local.stats().terminatedThreads).toBe(1);
    } finally {
      await local.close();
    }
  });

  it('an already-aborted signal rejects every call at once with its reason; the task is never sent', async () => {
    const reason = new Error('already gone');
    const view = pool.withOptions({ signal: AbortSignal.abort(reason) });
    const mark = flags();
    const before = pool.stats().tasks;
    expect(await rejection(view.apply(ref('markStarted'), mark.buffer, 0))).toBe(reason);
    expect(await rejection(view.run((x: number) => x, 1))).toBe(reason);
    expect(await rejection(view.map(ref('stepOrSpin'), [{ flags: mark.buffer, i: 1 }]))).toBe(reason);
    const g = view.spawn(ref('markStarted'), mark.buffer, 0);
    await g.join();
    expect(g.exception).toBe(reason);
    expect(pool.stats().inFlight).toBe(0);
    expect(pool.stats().tasks, 'nothing reached the pool').toEqual(before);
    expect(await pool.apply(ref('add'), 1, 2)).toBe(3);
    expect(Atomics.load(mark.view, 1), 'no task ran').toBe(0);
  });

  it('spawn: the greenlet fails with the reason; killing it still cancels the task', async () => {
    const controller = new AbortController();
    const view = pool.withOptions({ signal: controller.signal });
    const mark = flags();
    const g = view.spawn(ref('cancelReason'), mark.buffer);
    await until(mark.view, 1);
    controller.abort('stop');
    await g.join();
    expect(g.exception).toBe('stop');
    await until(mark.view, 0);

    const other = flags();
    const killed = pool
      .withOptions({ signal: new AbortController().signal })
      .spawn(ref('cancelReason'), other.buffer);
    await until(other.view, 1);
    await killed.kill();
    expect(killed.value).toBeInstanceOf(GreenletExit);
    await until(other.view, 0);
    expect(Atomics.load(other.view, 0)).toBe(SAW.kill);
  });

  it('map: aborting cancels the tasks in flight and rejects the map', async () => {
    const controller = new AbortController();
    const mark = flags();
    let read = 0;
    function* items() {
      for (let i = 0; i < 100; i++) {
        read++;
        yield { flags: mark.buffer, i };
      }
    }
    const mapping = pool.withOptions({ signal: controller.signal }).map(ref('stepOrSpin'), items());
    await until(mark.view, 1); // item 1 spins on its thread
    const readWhenAborted = read;
    controller.abort();
    expect(await rejection(mapping)).toBe(controller.signal.reason);
    expect(read).toBe(readWhenAborted);
    await until(mark.view, 0); // the spinning task stopped at its checkpoint
  });

  it('imap: after an abort, the next read rejects with the reason and takes no further item', async () => {
    const controller = new AbortController();
    let read = 0;
    function* items() {
      for (let i = 1; i <= 100; i++) {
        read++;
        yield i;
      }
    }
    const results = pool
      .withOptions({ signal: controller.signal })
      .imap(ref('default'), items(), { maxsize: 1 });
    expect(await results.next()).toEqual({ done: false, value: 2 });
    const readWhenAborted = read;
    controller.abort();
    expect(await rejection(results.next())).toBe(controller.signal.reason);
    expect(read).toBe(readWhenAborted);
  });

  it('releases its abort listener when the call settles, whatever the outcome', async () => {
    const controller = new AbortController();
    const view = pool.withOptions({ signal: controller.signal });
    await Promise.all([view.apply(ref('add'), 1, 1), view.run((a: number) => a, 2)]);
    await rejection(view.apply(ref('fail'), 'range'));
    expect(await view.map(ref('default'), [1, 2, 3])).toEqual([2, 4, 6]);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});

describe('pool.withOptions({ timeout })', () => {
  it('cancels a running task after `timeout` ms: the task sees a timeout, the call rejects with a Timeout', async () => {
    const mark = flags();
    const start = performance.now();
    const error = await rejection(pool.withOptions({ timeout: 100 }).apply(ref('cancelReason'), mark.buffer));
    expect(error).toBeInstanceOf(Timeout);
    expect((error as Timeout).ms).toBe(100);
    expect(performance.now() - start).toBeGreaterThanOrEqual(95);
    await until(mark.view, 0);
    expect(Atomics.load(mark.view, 0), 'the task saw a timeout').toBe(SAW.timeout);
  });

  it('AbortSignal.timeout(): the call rejects with its TimeoutError, the task sees a timeout', async () => {
    const mark = flags();
    const signal = AbortSignal.timeout(100);
    const error = await rejection(pool.withOptions({ signal }).apply(ref('cancelReason'), mark.buffer));
    expect(error).toBe(signal.reason);
    expect((error as Error).name).toBe('TimeoutError');
    await until(mark.view, 0);
    expect(Atomics.load(mark.view, 0), 'the task saw a timeout').toBe(SAW.timeout);
  });

  it('counts time in the queue: a task still queued when it passes never starts', async () => {
    const busy = flags();
    const running = pool.apply(ref('markStarted'), busy.buffer, 300);
    await until(busy.view, 1);
    const queued = flags();
    const error = await rejection(
      pool.withOptions({ timeout: 50 }).apply(ref('markStarted'), queued.buffer, 0),
    );
    expect(error).toBeInstanceOf(Timeout);
    expect(await running).toBe('done');
    expect(await pool.apply(ref('add'), 1, 1)).toBe(2);
    expect(Atomics.load(queued.view, 1)).toBe(0);
  });

  it('applies to each task of a map on its own; a result in time is unaffected', async () => {
    const view = pool.withOptions({ timeout: 10_000 });
    expect(await view.map(ref('default'), [1, 2, 3])).toEqual([2, 4, 6]);
    const results: number[] = [];
    for await (const n of view.imapUnordered(ref('default'), [5])) results.push(n);
    expect(results).toEqual([10]);
    const g = pool.withOptions({ timeout: 50 }).spawn(ref('spinUntilCancelled'), flags().buffer);
    await g.join();
    expect(g.exception).toBeInstanceOf(Timeout);
  });

  it('run() keeps naming a closed-over variable', async () => {
    const factor = 3;
    const error = await rejection(pool.withOptions({ timeout: 5_000 }).run((x: number) => x * factor, 2));
    expect(error).toMatchObject({ code: 'ERR_GREENHUB_CLOSURE', variable: 'factor' });
    expect((error as Error).message).toMatch(
      /^ThreadPool\.withOptions\(\)\.run\(\): .*pool\.withOptions\(…\)\.run/,
    );
  });
});

describe('options are explicit, never guessed', () => {
  it('the pool’s own methods pass every argument after the task to the task, an options-like object included', async () => {
    const last = { timeout: 1 };
    expect(await pool.run((_a: number, b: { timeout: number }) => b, 1, last)).toEqual(last);
    expect(await pool.apply(ref('echo'), { signal: 'not an option' })).toEqual({ signal: 'not an option' });
  });

  it('withOptions() checks its options once, naming the argument, the expected form and what came', () => {
    const where = 'ThreadPool.withOptions()';
    const bad = () => pool.withOptions({ signal: { aborted: false } as unknown as AbortSignal });
    expect(bad).toThrow(InvalidArgumentTypeError);
    expect(bad).toThrow(`${where}: expected \`opts.signal\` to be an AbortSignal`);
    expect(bad).toThrow(/got an object$/);
    expect(() => pool.withOptions({ timeout: -1 })).toThrow(InvalidArgumentValueError);
    expect(() => pool.withOptions({ timeout: '5' as unknown as number })).toThrow(
      /`opts\.timeout`.*got `"5"` \(string\)/,
    );
    expect(() => pool.withOptions({ timout: 5 } as never)).toThrow(/unknown option `opts\.timout`/);
    expect(() => pool.withOptions(null as never)).toThrow(/expected `opts` to be an options object/);
    const view = pool.withOptions({ timeout: undefined, signal: undefined });
    for (const method of ['spawn', 'apply', 'run', 'map', 'imap', 'imapUnordered'] as const)
      expect(typeof view[method], method).toBe('function');
  });
});
