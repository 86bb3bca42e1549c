import { afterEach, describe, expect, it } from 'vitest';
import { addLink, CallbackLink } from '../../src/greenlet/internal.js';
import {
  Event,
  Greenlet,
  GreenletExit,
  getCurrent,
  getHub,
  InvalidArgumentTypeError,
  InvalidArgumentValueError,
  sleep,
  spawn,
  spawnLater,
  Timeout,
} from '../../src/index.js';
import { captureErrors } from '../helpers.js';

afterEach(() => captureErrors.restore());

describe('Greenlet start', () => {
  it('does not run inside spawn(): it starts when the spawner next yields, in FIFO spawn order', async () => {
    const order: string[] = [];
    const a = spawn(() => order.push('a'));
    const b = spawn(() => order.push('b'));
    order.push('spawner');
    expect(a.started && !a.dead).toBe(true);
    await sleep(0);
    expect(order).toEqual(['spawner', 'a', 'b']);
    expect(a.dead && b.dead).toBe(true);
  });

  it('a greenlet spawned by a greenlet starts after the ones already scheduled', async () => {
    const order: string[] = [];
    const parent = spawn(() => {
      order.push('parent');
      spawn(() => order.push('child'));
    });
    spawn(() => order.push('sibling'));
    await parent.join();
    await sleep(0);
    expect(order).toEqual(['parent', 'sibling', 'child']);
  });

  it('new Greenlet() does not start until start(); start() is idempotent', async () => {
    let runs = 0;
    const g = new Greenlet(() => ++runs);
    await sleep(0);
    expect(g.started).toBe(false);
    g.start();
    g.start();
    await g.join();
    expect(runs).toBe(1);
    expect(g.value).toBe(1);
  });

  it('spawnLater(ms) starts after ms; killing it before then means it never runs', async () => {
    const ran: string[] = [];
    const later = spawnLater(20, () => ran.push('later'));
    const never = spawnLater(20, () => ran.push('never'));
    await never.kill();
    const t0 = performance.now();
    await later.join();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(15);
    expect(ran).toEqual(['later']);
    expect(never.dead).toBe(true);
    expect(never.started).toBe(false); // gevent: `started` is false once the greenlet is dead
  });

  it('passes its arguments and resolves async values', async () => {
    const g = spawn(async (a: number, b: string) => `${a}${b}`, 4, '2');
    expect(await g.get()).toBe('42');
  });
});

describe('Greenlet identity', () => {
  it('is named Greenlet-<id> by default, the name is settable', async () => {
    const g = spawn(() => undefined);
    expect(g.name).toBe(`Greenlet-${g.id}`);
    g.name = 'worker';
    expect(g.name).toBe('worker');
    expect(String(g)).toContain('worker');
    await g.join();
  });

  it('ids are small integers, unique among live greenlets, and reused after death', async () => {
    const stop = new Event();
    const live = Array.from({ length: 5 }, () => spawn(() => stop.wait()));
    const ids = live.map((g) => g.id);
    expect(new Set(ids).size).toBe(5);
    for (const id of ids) expect(id).toBeLessThan(1000);
    stop.set();
    for (const g of live) await g.join();
    const again = spawn(() => undefined);
    expect(ids).toContain(again.id);
    await again.join();
  });

  it('parent is the spawning greenlet, null at top level', async () => {
    const outer = spawn(() => spawn(() => getCurrent()?.parent));
    expect(outer.parent).toBeNull();
    const inner = (await outer.get()) as Greenlet;
    expect(inner.parent).toBe(outer);
    await inner.join();
  });

  it('getCurrent() follows await and timers started inside the greenlet', async () => {
    const g = spawn(async () => {
      await sleep(1);
      const afterAwait = getCurrent();
      const inTimer = await new Promise((resolve) => setTimeout(() => resolve(getCurrent()), 1));
      return [afterAwait, inTimer];
    });
    expect(await g.get()).toEqual([g, g]);
    expect(getCurrent()).toBeNull();
  });

  it('is not thenable: a promise resolving to a greenlet yields the greenlet', async () => {
    const g = spawn(async () => 5);
    expect('then' in g).toBe(false);
    expect(await Promise.resolve(g)).toBe(g);
    const viaAsync = await (async () => g)();
    expect(viaAsync).toBe(g);
    await g.join();
  });
});

describe('Greenlet join and get', () => {
  it('join() resolves true when finished and never throws the greenlet error', async () => {
    captureErrors.install();
    const g = spawn(() => {
      throw new Error('boom');
    });
    expect(await g.join()).toBe(true);
    expect(g.successful()).toBe(false);
    expect((g.exception as Error).message).toBe('boom');
  });

  it('join(timeout) resolves false when the greenlet is still running', async () => {
    const g = spawn(() => sleep(60_000));
    expect(await g.join(5)).toBe(false);
    expect(g.dead).toBe(false);
    await g.kill();
  });

  it('get() returns the value, rethrows the error, throws Timeout after its timeout', async () => {
    expect(await spawn(() => 7).get()).toBe(7);
    const failing = spawn(async () => {
      throw new RangeError('nope');
    });
    await expect(failing.get()).rejects.toThrow(RangeError);
    const slow = spawn(() => sleep(60_000));
    const error = await slow.get({ timeout: 5 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Timeout);
    await expect(slow.get({ block: false })).rejects.toBeInstanceOf(Timeout);
    await slow.kill();
  });

  it('value and exception read undefined until dead', async () => {
    const g = spawn(async () => {
      await sleep(1);
      return 'v';
    });
    expect(g.value).toBeUndefined();
    expect(g.ready()).toBe(false);
    await g.join();
    expect([g.value, g.exception, g.ready(), g.successful()]).toEqual(['v', undefined, true, true]);
  });
});

describe('Greenlet kill', () => {
  it('killing a never-started greenlet means it never runs; links still fire', async () => {
    let ran = false;
    const g = new Greenlet(() => {
      ran = true;
    });
    const linked: Greenlet[] = [];
    g.rawlink((x) => linked.push(x));
    await g.kill();
    g.start();
    await sleep(0);
    expect(ran).toBe(false);
    expect(g.dead).toBe(true);
    expect(g.value).toBeInstanceOf(GreenletExit);
    expect(linked).toEqual([g]);
  });

  it('killing a scheduled greenlet before it runs means it never runs', async () => {
    let ran = false;
    const g = spawn(() => {
      ran = true;
    });
    await g.kill();
    await sleep(0);
    expect(ran).toBe(false);
    expect(g.started).toBe(false);
  });

  it('a default kill counts as success with GreenletExit as value', async () => {
    const g = spawn(() => sleep(60_000));
    await sleep(0);
    await g.kill();
    expect(g.successful()).toBe(true);
    expect(g.value).toBeInstanceOf(GreenletExit);
    expect(g.exception).toBeUndefined();
  });

  it('delivers the exception at the current checkpoint: the parked wait rejects and finally blocks run', async () => {
    const steps: string[] = [];
    const g = spawn(async () => {
      try {
        steps.push('waiting');
        await new Event().wait();
        steps.push('woken');
      } catch (e) {
        steps.push(e instanceof GreenletExit ? 'got GreenletExit' : 'other');
        throw e;
      } finally {
        steps.push('finally');
      }
    });
    await sleep(0);
    await g.kill();
    expect(steps).toEqual(['waiting', 'got GreenletExit', 'finally']);
  });

  it('delivers the exception at the next checkpoint when the greenlet is not parked in a hub wait', async () => {
    const steps: string[] = [];
    let release!: () => void;
    const foreign = new Promise<void>((r) => (release = r));
    const g = spawn(async () => {
      await foreign; // not a hub wait: the kill cannot land here
      steps.push('after foreign await');
      await sleep(0); // the next checkpoint
      steps.push('not reached');
    });
    await sleep(0);
    const killed = g.kill();
    release();
    await killed;
    expect(steps).toEqual(['after foreign await']);
    expect(g.value).toBeInstanceOf(GreenletExit);
  });

  it('a checkpoint that does not block still delivers a pending kill', async () => {
    let release!: () => void;
    const foreign = new Promise<void>((r) => (release = r));
    const ready = new Event();
    ready.set();
    const g = spawn(async () => {
      await foreign;
      await ready.wait(); // already set: would not block, but is a checkpoint
      return 'not reached';
    });
    await sleep(0);
    const killed = g.kill();
    release();
    await killed;
    expect(g.value).toBeInstanceOf(GreenletExit);
  });

  it('kill({ exception }) makes the greenlet fail with that exception (an Error class is instantiated)', async () => {
    class Stop extends Error {}
    const a = spawn(() => sleep(60_000));
    const b = spawn(() => sleep(60_000));
    await sleep(0);
    const reason = new Error('shutting down');
    await a.kill({ exception: reason });
    await b.kill({ exception: Stop });
    expect(a.exception).toBe(reason);
    expect(b.exception).toBeInstanceOf(Stop);
    expect(a.successful()).toBe(false);
  });

  it('kill({ block: false }) returns before the greenlet is dead; kill({ timeout }) gives up waiting', async () => {
    let giveUp = false;
    const stubborn = spawn(async () => {
      while (!giveUp) {
        try {
          await sleep(60_000);
        } catch {
          // ignores kills until told to give up
        }
      }
    });
    await sleep(0);
    await stubborn.kill({ block: false });
    expect(stubborn.dead).toBe(false);
    const t0 = performance.now();
    await stubborn.kill({ timeout: 20 });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(15);
    expect(stubborn.dead).toBe(false);
    giveUp = true;
    await stubborn.kill();
    expect(stubborn.dead).toBe(true);
  });

  it('a greenlet killing itself gets the exception at once and ends successfully', async () => {
    const g = spawn(async () => {
      await getCurrent()!.kill();
      return 'not reached';
    });
    await g.join();
    expect(g.value).toBeInstanceOf(GreenletExit);
  });

  it('killing a dead greenlet does nothing', async () => {
    const g = spawn(() => 1);
    await g.join();
    await g.kill();
    expect(g.value).toBe(1);
  });
});

describe('Greenlet links', () => {
  it('fire in registration order, in a later turn, also when registered after the greenlet finished', async () => {
    const order: string[] = [];
    const g = spawn(() => 'v');
    g.rawlink(() => order.push('raw1'));
    g.rawlink(() => order.push('raw2'));
    await g.join();
    await sleep(0);
    g.rawlink(() => order.push('late1'));
    g.rawlink(() => order.push('late2'));
    expect(order).toEqual(['raw1', 'raw2']); // not synchronously
    await sleep(0);
    expect(order).toEqual(['raw1', 'raw2', 'late1', 'late2']);
  });

  it('a lone internal link, then a wait and user links: all fire, in registration order', async () => {
    const order: string[] = [];
    const g = spawn(() => sleep(1));
    addLink(g, new CallbackLink(() => order.push('internal 1')));
    const joined = g.join().then(() => order.push('join'));
    g.rawlink(() => order.push('raw'));
    addLink(g, new CallbackLink(() => order.push('internal 2')));
    await joined;
    await sleep(0);
    // One notification fires the list in order; the woken join resumes after it.
    expect(order).toEqual(['internal 1', 'raw', 'internal 2', 'join']);
  });

  it('a lone internal link taken out before the greenlet ends never fires; one added to a dead greenlet fires at once', async () => {
    const fired: string[] = [];
    const g = spawn(() => sleep(1));
    const link = new CallbackLink(() => fired.push('removed'));
    addLink(g, link);
    link.list?._removeLink(link);
    expect(link.list).toBe(null);
    await g.join();
    addLink(g, new CallbackLink(() => fired.push('late')));
    expect(fired).toEqual(['late']);
  });

  it('link() callbacks run in a greenlet of their own; rawlink() callbacks run outside any greenlet', async () => {
    const seen: { link?: Greenlet | null; raw?: Greenlet | null } = {};
    const linked = new Event();
    const g = spawn(() => 'v');
    g.link(() => {
      seen.link = getCurrent();
      linked.set();
    });
    g.rawlink(() => {
      seen.raw = getCurrent();
    });
    await linked.wait();
    expect(seen.link).toBeInstanceOf(Greenlet);
    expect(seen.link).not.toBe(g);
    expect(seen.raw).toBeNull();
  });

  it('linkValue fires only on success, linkException only on failure', async () => {
    captureErrors.install();
    const fired: string[] = [];
    const done = new Event();
    const ok = spawn(() => 1);
    const bad = spawn(() => {
      throw new Error('x');
    });
    for (const g of [ok, bad]) {
      g.linkValue((x) => void fired.push(`value:${x === ok ? 'ok' : 'bad'}`));
      g.linkException((x) => void fired.push(`exception:${x === ok ? 'ok' : 'bad'}`));
    }
    bad.rawlink(() => setImmediate(() => done.set()));
    await done.wait();
    await sleep(0);
    expect(fired.sort()).toEqual(['exception:bad', 'value:ok']);
  });

  it('unlink removes a callback before it fires', async () => {
    const fired: string[] = [];
    const g = spawn(() => 1);
    const cb = (): void => void fired.push('x');
    g.rawlink(cb);
    g.unlink(cb);
    await g.join();
    await sleep(0);
    expect(fired).toEqual([]);
  });

  it('an error thrown by a rawlink callback goes to hub.onError, not up the stack', async () => {
    const reported = captureErrors.install();
    const g = spawn(() => 1);
    g.rawlink(() => {
      throw new Error('callback broke');
    });
    await g.join();
    await sleep(0);
    expect(reported.map((r) => (r.error as Error).message)).toEqual(['callback broke']);
  });
});

describe('unobserved failures', () => {
  it('are reported once through hub.onError, with the greenlet', async () => {
    const reported = captureErrors.install();
    const g = spawn(() => {
      throw new Error('nobody listens');
    });
    await sleep(0);
    await sleep(0);
    expect(reported).toHaveLength(1);
    expect(reported[0]!.greenlet).toBe(g);
    expect((reported[0]!.error as Error).message).toBe('nobody listens');
    expect(getHub().stats().unobservedErrors).toBeGreaterThan(0);
  });

  it('are not reported when someone joins, gets or links before the next turn', async () => {
    const reported = captureErrors.install();
    const joined = spawn(() => {
      throw new Error('a');
    });
    const got = spawn(() => {
      throw new Error('b');
    });
    const linked = spawn(() => {
      throw new Error('c');
    });
    linked.linkException(() => undefined);
    await joined.join();
    await got.get().catch(() => undefined);
    await sleep(0);
    await sleep(0);
    expect(reported).toEqual([]);
  });

  it('a kill that ends a greenlet with a custom exception is not reported as a failure', async () => {
    const reported = captureErrors.install();
    const g = spawn(() => sleep(60_000));
    await sleep(0);
    await g.kill({ exception: new Error('stop') });
    await sleep(0);
    expect(reported).toEqual([]);
  });
});

describe('argument checks', () => {
  it('name the argument, the expected form and what came', async () => {
    expect(() => spawn(42 as never)).toThrow(InvalidArgumentTypeError);
    expect(() => spawn(42 as never)).toThrow(/`fn` to be a function, got `42` \(number\)/);
    expect(() => spawnLater(-1, () => undefined)).toThrow(InvalidArgumentValueError);
    expect(() => spawnLater(Number.NaN, () => undefined)).toThrow(/`ms`/);
    const g = spawn(() => undefined);
    expect(() => g.join('1' as never)).toThrow(/`timeout`.*got `"1"` \(string\)/);
    expect(() => g.join(-5)).toThrow(InvalidArgumentValueError);
    expect(() => g.get({ timout: 5 } as never)).toThrow(/unknown option `opts.timout`/);
    expect(() => g.kill({ block: 'yes' } as never)).toThrow(/`opts.block` to be a boolean/);
    expect(() => {
      g.name = 5 as never;
    }).toThrow(/`name` to be a string/);
    expect(() => g.rawlink(null as never)).toThrow(/`callback` to be a function/);
    try {
      spawn(undefined as never);
    } catch (e) {
      expect((e as InvalidArgumentTypeError).code).toBe('ERR_GREENHUB_INVALID_ARG_TYPE');
      expect((e as InvalidArgumentTypeError).argument).toBe('fn');
    }
    await g.join();
  });
});
