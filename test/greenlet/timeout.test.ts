import { describe, expect, it } from 'vitest';
import {
  Event,
  GreenletExit,
  getCurrent,
  getHub,
  InvalidArgumentValueError,
  NoCurrentGreenletError,
  sleep,
  spawn,
  Timeout,
  withTimeout,
} from '../../src/index.js';
import { runNode } from '../patch/scenario.js';

describe('Timeout', () => {
  it('fires into the greenlet that started it, at its current wait', async () => {
    const g = spawn(async () => {
      const t = Timeout.start(10);
      try {
        await new Event().wait();
        return 'not reached';
      } catch (e) {
        return e === t ? 'own timeout' : e;
      }
    });
    expect(await g.get()).toBe('own timeout');
  });

  it('fires at the next checkpoint when the greenlet is not parked', async () => {
    let release!: () => void;
    const foreign = new Promise<void>((r) => (release = r));
    const fired = new Event();
    const g = spawn(async () => {
      const t = Timeout.start(1);
      setTimeout(() => fired.set(), 5);
      await foreign; // unpatched: the Timeout cannot land here
      try {
        await sleep(0);
        return 'not reached';
      } catch (e) {
        return e === t ? 'delivered at the checkpoint' : e;
      }
    });
    await fired.wait();
    release();
    expect(await g.get()).toBe('delivered at the checkpoint');
  });

  it('cancel() disarms it, and withdraws a throw that fired but was not delivered yet', async () => {
    let release!: () => void;
    const foreign = new Promise<void>((r) => (release = r));
    const g = spawn(async () => {
      const t = Timeout.start(1);
      await new Promise((r) => setTimeout(r, 10)); // not a hub wait: it fires meanwhile
      expect(t.pending).toBe(false);
      t.cancel();
      await foreign;
      await sleep(1); // would throw the Timeout if it were still pending
      return 'clean';
    });
    await sleep(20);
    release();
    expect(await g.get()).toBe('clean');
  });

  it('`using` cancels it at the end of the block', async () => {
    const g = spawn(async () => {
      let outside: Timeout;
      {
        using t = Timeout.start(5);
        outside = t;
        expect(t.pending).toBe(true);
      }
      expect(outside.pending).toBe(false);
      await sleep(15);
      return 'still alive';
    });
    expect(await g.get()).toBe('still alive');
  });

  it('nested timeouts each raise their own instance; an inner handler swallows only its own', async () => {
    const g = spawn(async () => {
      const outer = Timeout.start(10);
      const caught: string[] = [];
      try {
        const inner = Timeout.start(1000);
        try {
          await new Event().wait();
        } catch (e) {
          if (e !== inner) throw e;
          caught.push('inner');
        } finally {
          inner.cancel();
        }
      } catch (e) {
        caught.push(e === outer ? 'outer' : 'other');
      }
      return caught;
    });
    expect(await g.get()).toEqual(['outer']);
  });

  it("an outer Timeout interrupts an inner wait's own timeout instead of being swallowed by it", async () => {
    const g = spawn(async () => {
      const outer = Timeout.start(5);
      try {
        // Event.wait(timeout) resolves false on its own timer; the outer Timeout must still escape.
        return await new Event().wait(10_000);
      } catch (e) {
        return e === outer ? 'outer escaped' : e;
      }
    });
    expect(await g.get()).toBe('outer escaped');
  });

  it('raises the given exception instead of itself (an instance or an Error class)', async () => {
    class TooSlow extends Error {}
    const reason = new Error('deadline');
    const a = spawn(() => {
      Timeout.start(1, reason);
      return new Event().wait();
    });
    const b = spawn(() => {
      Timeout.start(1, TooSlow);
      return new Event().wait();
    });
    await expect(a.get()).rejects.toBe(reason);
    await expect(b.get()).rejects.toBeInstanceOf(TooSlow);
  });

  it('null never fires; a Timeout dies with its greenlet', async () => {
    let armed: Timeout | undefined;
    const g = spawn(async () => {
      const never = Timeout.start(null);
      expect(never.pending).toBe(false);
      armed = Timeout.start(60_000);
      return 'done';
    });
    await g.join();
    expect(armed?.pending).toBe(false); // cancelled when the greenlet finished
  });

  it('start() outside a greenlet throws NoCurrentGreenletError; bad delays throw RangeError', () => {
    expect(() => Timeout.start(10)).toThrow(NoCurrentGreenletError);
    expect(() => new Timeout(-1)).toThrow(InvalidArgumentValueError);
    expect(() => new Timeout(Number.NaN)).toThrow(/`ms`/);
    expect(() => new Timeout('5' as never)).toThrow(TypeError);
    expect(new Timeout(5).code).toBe('ERR_GREENHUB_TIMEOUT');
    expect(new Timeout(5)).toBeInstanceOf(Error);
  });

  it('reads as an Error: name, message, code, stack, String(), the [object Error] tag, a settable message', () => {
    const t = new Timeout(1500);
    expect([t.name, t.message, t.code]).toEqual([
      'Timeout',
      'Timed out after 1.50 s',
      'ERR_GREENHUB_TIMEOUT',
    ]);
    expect(t.stack).toBe('Timeout: Timed out after 1.50 s');
    expect(String(t)).toBe('Timeout: Timed out after 1.50 s');
    expect(Object.prototype.toString.call(t)).toBe('[object Error]');
    expect(new Timeout(null).message).toBe('Timeout (never fires)');
    t.message = 'gave up on the upstream';
    expect([t.message, String(t)]).toEqual(['gave up on the upstream', 'Timeout: gave up on the upstream']);
    expect(new Timeout(5).message).toBe('Timed out after 5 ms');
  });

  it('a Timeout that fired and escapes as an unhandled rejection is reported by Node with its message, as an error', async () => {
    const { code, stderr } = await runNode([
      '--input-type=module',
      '-e',
      [
        "import { sleep, spawn, Timeout } from 'greenhub';",
        'const g = spawn(async () => { Timeout.start(5); await sleep(10_000); });',
        'Promise.reject(await g.get().catch((e) => e));',
      ].join('\n'),
    ]);
    expect(code).toBe(1);
    expect(stderr).toContain('Timeout: Timed out after 5 ms');
    expect(stderr).not.toContain('UnhandledPromiseRejection');
  });

  it('with spawn-site tracking on, its stack says where it was created', () => {
    const hub = getHub();
    const before = hub.trackSpawnSites;
    hub.trackSpawnSites = true;
    try {
      const t = new Timeout(5);
      expect(t.stack?.split('\n')[0]).toBe('Timeout: Timed out after 5 ms');
      expect(t.stack).toContain('timeout.test.ts');
    } finally {
      hub.trackSpawnSites = before;
    }
  });
});

describe('withTimeout', () => {
  it('returns the value when fn finishes in time', async () => {
    const g = spawn(() => withTimeout(1000, async () => 'ok'));
    expect(await g.get()).toBe('ok');
  });

  it('throws its own Timeout, or returns the fallback', async () => {
    const thrown = spawn(() => withTimeout(5, () => sleep(10_000)));
    await expect(thrown.get()).rejects.toBeInstanceOf(Timeout);
    const fallback = spawn(() => withTimeout(5, () => sleep(10_000).then(() => 'late'), { fallback: 'fb' }));
    expect(await fallback.get()).toBe('fb');
  });

  it('does not turn an outer Timeout or a real error into its fallback', async () => {
    const g = spawn(async () => {
      const outer = Timeout.start(5);
      try {
        await withTimeout<unknown>(10_000, () => sleep(10_000), { fallback: 'inner fallback' });
        return 'not reached';
      } catch (e) {
        return e === outer ? 'outer passed through' : e;
      }
    });
    expect(await g.get()).toBe('outer passed through');
    const real = spawn(() =>
      withTimeout(
        1000,
        async () => {
          throw new TypeError('real');
        },
        { fallback: 'no' },
      ),
    );
    await expect(real.get()).rejects.toThrow('real');
  });

  it('works in top-level code by running fn in a greenlet', async () => {
    await expect(withTimeout(5, () => sleep(10_000))).rejects.toBeInstanceOf(Timeout);
    expect(await withTimeout(100, () => getCurrent()?.name)).toBe('withTimeout');
  });

  it('keeps its deadline when the body awaits a promise greenhub does not see; the late result is discarded', async () => {
    let resolveLate!: (value: string) => void;
    const late = new Promise<string>((resolve) => {
      resolveLate = resolve;
    });
    const g = spawn(() => withTimeout(1, () => late, { fallback: 'fallback' }));
    expect(await g.get()).toBe('fallback');
    resolveLate('completed');
    await late;
    expect(g.value).toBe('fallback');
  });
});

describe('sleep', () => {
  it('sleep(0) lets every other runnable greenlet run first', async () => {
    const order: string[] = [];
    const a = spawn(async () => {
      order.push('a1');
      await sleep(0);
      order.push('a2');
    });
    const b = spawn(async () => {
      order.push('b1');
      await sleep(0);
      order.push('b2');
    });
    await a.join();
    await b.join();
    expect(order).toEqual(['a1', 'b1', 'a2', 'b2']);
  });

  it('sleep(0) lets due I/O callbacks run before it returns', async () => {
    let ioDone = false;
    const g = spawn(async () => {
      setImmediate(() => {
        ioDone = true;
      });
      await sleep(0);
      return ioDone;
    });
    expect(await g.get()).toBe(true);
  });

  it('sleep(ms) is a checkpoint where kill lands', async () => {
    const g = spawn(() => sleep(60_000));
    await sleep(0);
    await g.kill();
    expect(g.value).toBeInstanceOf(GreenletExit);
  });

  it('rejects bad delays', () => {
    expect(() => sleep(-1)).toThrow(InvalidArgumentValueError);
    expect(() => sleep('1' as never)).toThrow(TypeError);
  });
});
