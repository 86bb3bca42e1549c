import { describe, expect, it } from 'vitest';
import {
  DeadlockError,
  Event,
  type Greenlet,
  GreenletExit,
  Group,
  getCurrent,
  Pool,
  PoolFull,
  sleep,
  spawn,
} from '../../src/index.js';
import { captureErrors } from '../helpers.js';

describe('Group', () => {
  it('spawns members, forgets them when they die, and join() waits for all (also those spawned meanwhile)', async () => {
    const group = new Group();
    const release = new Event();
    const late = new Event();
    group.spawn(async () => {
      await release.wait();
      group.spawn(() => late.wait());
    });
    expect(group.length).toBe(1);
    const joiner = spawn(() => group.join());
    await sleep(0);
    release.set();
    await sleep(0);
    await sleep(0);
    expect(joiner.dead).toBe(false); // the member spawned meanwhile is still running
    late.set();
    expect(await joiner.get()).toBe(true);
    expect(group.length).toBe(0);
  });

  it('join({ raiseError: true }) throws the first failed member after waiting', async () => {
    captureErrors.install();
    const group = new Group();
    group.spawn(() => sleep(5));
    group.spawn(() => {
      throw new Error('member failed');
    });
    await expect(group.join({ raiseError: true })).rejects.toThrow('member failed');
    expect(group.length).toBe(0);
    captureErrors.restore();
  });

  it('kill() kills every member and waits until the group is empty', async () => {
    const group = new Group();
    const members = [group.spawn(() => sleep(60_000)), group.spawn(() => sleep(60_000))];
    await sleep(0);
    await group.kill();
    expect(group.length).toBe(0);
    for (const g of members) expect(g.value).toBeInstanceOf(GreenletExit);
  });

  it('a member joining its own group gets DeadlockError', async () => {
    const group = new Group();
    const g = group.spawn(() => group.join());
    await expect(g.get()).rejects.toBeInstanceOf(DeadlockError);
  });

  it('apply() runs inline when called from a member', async () => {
    const group = new Group();
    const g = group.spawn(async () => {
      const me = getCurrent();
      return (await group.apply(() => getCurrent())) === me;
    });
    expect(await g.get()).toBe(true);
    expect(await group.apply((a: number, b: number) => a + b, [2, 3])).toBe(5);
  });
});

describe('Pool', () => {
  it('spawn() resolves once a slot is free: producers get backpressure', async () => {
    const pool = new Pool(2);
    const release = new Event();
    const started: number[] = [];
    const task = async (n: number) => {
      started.push(n);
      await release.wait();
    };
    await pool.spawn(task, 1);
    await pool.spawn(task, 2);
    expect(pool.full()).toBe(true);
    expect(pool.freeCount()).toBe(0);
    const producer = spawn(async () => {
      const third = await pool.spawn(task, 3);
      return third;
    });
    await sleep(0);
    await sleep(0);
    expect(producer.dead).toBe(false); // waiting for a slot
    expect(started).toEqual([1, 2]);
    release.set();
    const third = (await producer.get()) as Greenlet;
    expect(third.name).toMatch(/^Greenlet-/); // a promise of a pool spawn yields the greenlet itself
    await pool.join();
    expect(started).toEqual([1, 2, 3]);
  });

  it('applyAsync() never waits: the greenlet exists at once and starts when a slot frees', async () => {
    const pool = new Pool(1);
    const release = new Event();
    await pool.spawn(() => release.wait());
    const queued = pool.applyAsync((x: number) => x * 2, [21]);
    expect(queued.started).toBe(false);
    expect(pool.length).toBe(2);
    release.set();
    expect(await queued.get()).toBe(42);
  });

  it('killing an applyAsync greenlet before it starts withdraws its slot reservation', async () => {
    const pool = new Pool(1);
    const release = new Event();
    const blocker = await pool.spawn(() => release.wait());
    let ran = false;
    const queued = pool.applyAsync(() => {
      ran = true;
    });
    await queued.kill();
    await sleep(0);
    expect(pool.length).toBe(1);
    release.set();
    await blocker.join();
    await sleep(0);
    expect(ran).toBe(false);
    expect(pool.freeCount()).toBe(1);
  });

  it('imap() yields results in input order; an error is thrown at its position', async () => {
    const pool = new Pool(3);
    const delays = [30, 1, 15, 5];
    const ordered: number[] = [];
    for await (const n of pool.imap(
      async (i: number) => {
        await sleep(delays[i]!);
        return i;
      },
      [0, 1, 2, 3],
    )) {
      ordered.push(n);
    }
    expect(ordered).toEqual([0, 1, 2, 3]);

    const seen: number[] = [];
    const failing = async () => {
      for await (const n of pool.imap(
        async (i: number) => {
          if (i === 2) throw new Error('item 2 failed');
          return i;
        },
        [0, 1, 2, 3],
      )) {
        seen.push(n);
      }
    };
    await expect(failing()).rejects.toThrow('item 2 failed');
    expect(seen).toEqual([0, 1]);
    await pool.join();
  });

  it('imapUnordered() yields results in completion order', async () => {
    const pool = new Pool(4);
    const delays = [20, 1, 10];
    const done: number[] = [];
    for await (const n of pool.imapUnordered(
      async (i: number) => {
        await sleep(delays[i]!);
        return i;
      },
      [0, 1, 2],
    )) {
      done.push(n);
    }
    expect(done).toEqual([1, 2, 0]);
  });

  it('imap({ maxsize }) bounds how many results run or wait for the reader', async () => {
    const pool = new Pool(10);
    let active = 0;
    let peak = 0;
    const results: number[] = [];
    for await (const n of pool.imap(
      async (i: number) => {
        peak = Math.max(peak, ++active);
        await sleep(1);
        active--;
        return i;
      },
      Array.from({ length: 12 }, (_, i) => i),
      { maxsize: 3 },
    )) {
      results.push(n);
      await sleep(2); // a slow reader
    }
    expect(results).toHaveLength(12);
    expect(peak).toBeLessThanOrEqual(3);
  });

  it('a reader that stops early kills the tasks still running', async () => {
    const pool = new Pool(2);
    for await (const n of pool.imap(
      async (i: number) => {
        if (i > 0) await sleep(60_000);
        return i;
      },
      [0, 1, 2, 3],
    )) {
      expect(n).toBe(0);
      break;
    }
    await sleep(0);
    expect(pool.length).toBe(0);
  });

  it('map() collects results in order; add() with blocking false throws PoolFull', async () => {
    const pool = new Pool(2);
    expect(await pool.map((x: number) => x * x, [1, 2, 3])).toEqual([1, 4, 9]);
    const release = new Event();
    await pool.spawn(() => release.wait());
    await pool.spawn(() => release.wait());
    const outsider = spawn(() => release.wait());
    await expect(pool.add(outsider, { blocking: false })).rejects.toBeInstanceOf(PoolFull);
    expect(await pool.waitAvailable(1)).toBe(false);
    release.set();
    expect(await pool.waitAvailable()).toBe(true);
  });

  it('rejects a bad size', () => {
    expect(() => new Pool(0)).toThrow(RangeError);
    expect(() => new Pool(-2)).toThrow(/`size` to be a positive integer/);
    expect(new Pool().freeCount()).toBe(Number.POSITIVE_INFINITY);
  });
});
