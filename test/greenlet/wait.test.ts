import { describe, expect, it } from 'vitest';
import {
  AsyncResult,
  Event,
  GreenletExit,
  iwait,
  joinAll,
  killAll,
  sleep,
  spawn,
  wait,
} from '../../src/index.js';
import { captureErrors } from '../helpers.js';

const finishAfter = (ms: number, value: string) =>
  spawn(async () => {
    await sleep(ms);
    return value;
  });

describe('joinAll', () => {
  it('resolves with the greenlets in completion order', async () => {
    const slow = finishAfter(20, 'slow');
    const fast = finishAfter(1, 'fast');
    const mid = finishAfter(10, 'mid');
    expect(await joinAll([slow, fast, mid])).toEqual([fast, mid, slow]);
  });

  it('count returns after that many; timeout returns those done so far', async () => {
    const a = finishAfter(1, 'a');
    const b = finishAfter(60_000, 'b');
    expect(await joinAll([a, b], { count: 1 })).toEqual([a]);
    expect(await joinAll([a, b], { timeout: 5 })).toEqual([a]);
    await b.kill();
  });

  it('raiseError rejects with the first failure as soon as it happens', async () => {
    captureErrors.install();
    const failing = spawn(async () => {
      await sleep(1);
      throw new Error('first failure');
    });
    const forever = spawn(() => sleep(60_000));
    await expect(joinAll([forever, failing], { raiseError: true })).rejects.toThrow('first failure');
    await forever.kill();
    captureErrors.restore();
  });

  it('leaves no link behind on the greenlets after a timeout', async () => {
    const g = spawn(() => sleep(60_000));
    await joinAll([g], { timeout: 1 });
    // No links: no list, or an empty one.
    const links = g._links;
    expect(links === null || ('size' in links && links.size === 0)).toBe(true);
    await g.kill();
  });

  it('a greenlet that gains another waiter while joinAll waits on it wakes both', async () => {
    const releaseA = new Event();
    const releaseB = new Event();
    const a = spawn(() => releaseA.wait());
    const b = spawn(() => releaseB.wait());
    const all = joinAll([a, b]);
    const other = spawn(() => a.join());
    await sleep(0); // `other` parks in a.join(): a's one link becomes a list of two
    releaseA.set();
    expect(await other.get()).toBe(true);
    releaseB.set();
    expect(await all).toEqual([a, b]);
  });

  it('after a timeout, takes back the link it had to give a greenlet that gained another waiter', async () => {
    const g = spawn(() => sleep(60_000));
    const joined = joinAll([g], { timeout: 20 });
    const joiner = spawn(() => g.join());
    await sleep(0); // `joiner` parks in g.join(): g's one link (the joinAll's) becomes a list of two
    expect(await joined).toEqual([]);
    expect((g._links as { size: number }).size).toBe(1); // the joiner's wait, nothing of the joinAll
    await g.kill();
    expect(await joiner.get()).toBe(true);
  });

  it('after a timeout, takes back its link from a greenlet that had links before', async () => {
    const g = spawn(() => sleep(60_000));
    const seen: unknown[] = [];
    g.rawlink((source) => seen.push(source));
    expect(await joinAll([g, g], { timeout: 5 })).toEqual([]);
    expect((g._links as { size: number }).size).toBe(1); // the rawlink
    await g.kill();
    await sleep(0);
    expect(seen).toEqual([g]);
  });

  it('the same greenlet listed twice counts twice', async () => {
    const g = finishAfter(1, 'g');
    expect(await joinAll([g, g])).toEqual([g, g]);
  });

  it('rejects things that are not greenlets', async () => {
    await expect(joinAll([new Event()] as never)).rejects.toThrow(/`greenlets\[0\]` to be a Greenlet/);
  });
});

describe('wait and iwait', () => {
  it('wait() takes Greenlets, Events and AsyncResults and returns them as they become ready', async () => {
    // Each becomes ready after the one before it (not after a timer of its own, which a loaded
    // machine may fire in the same turn as another): ev, then g, then result.
    const ev = new Event();
    const result = new AsyncResult<number>();
    const g = spawn(async () => {
      await ev.wait();
      return 'g';
    });
    g.link(() => result.set(1));
    setTimeout(() => ev.set(), 1);
    expect(await wait([result, g, ev])).toEqual([ev, g, result]);
  });

  it('wait({ count, timeout })', async () => {
    const never = new Event();
    const soon = new Event();
    setTimeout(() => soon.set(), 1);
    expect(await wait([never, soon], { count: 1 })).toEqual([soon]);
    expect(await wait([never], { timeout: 5 })).toEqual([]);
  });

  it('iwait() yields greenlets (not their values) in completion order', async () => {
    const slow = finishAfter(15, 'slow');
    const fast = finishAfter(1, 'fast');
    const seen = [];
    for await (const g of iwait([slow, fast])) seen.push(g);
    expect(seen).toEqual([fast, slow]);
    expect(seen.map((g) => g.value)).toEqual(['fast', 'slow']);
  });

  it('iwait({ timeout }) stops yielding when the time is up', async () => {
    const fast = finishAfter(1, 'fast');
    const never = spawn(() => sleep(60_000));
    const seen = [];
    for await (const g of iwait([fast, never], { timeout: 10 })) seen.push(g);
    expect(seen).toEqual([fast]);
    await never.kill();
  });
});

describe('killAll', () => {
  it('kills every greenlet and waits until all are dead', async () => {
    const gs = [1, 2, 3].map(() => spawn(() => sleep(60_000)));
    await sleep(0);
    await killAll(gs);
    for (const g of gs) expect(g.value).toBeInstanceOf(GreenletExit);
  });
});
