import { AsyncLocalStorage } from 'node:async_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DeadlockError,
  Event,
  type Greenlet,
  getCurrent,
  getHub,
  joinAll,
  Lock,
  LoopExit,
  RLock,
  sleep,
  spawn,
} from '../../src/index.js';
import { captureErrors, runNode } from '../helpers.js';

describe('LoopExit (each scenario in its own process: the loop must really run dry)', () => {
  it('a greenlet waiting on an Event nobody sets fails with LoopExit; uncaught, the process exits 1 with the diagnostic', async () => {
    const { code, stdout, stderr } = await runNode({
      source: `
        import { Event, spawn } from 'greenhub';
        const never = new Event();
        const g = spawn(async () => { await never.wait(); console.log('unreachable'); });
        g.name = 'consumer';
      `,
    });
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain('LoopExit: This operation would block forever');
    expect(stderr).toMatch(
      /"consumer" \(Greenlet-1\) waits in wait\(\) on Event\(unset\) since [\d.]+ m?s ago/,
    );
    expect(stderr).toContain('Run info: 1 live greenlet (0 running, 1 waiting, 0 scheduled)');
  });

  it("top-level code awaiting a hub wait gets LoopExit as a rejection (exit 1, never Node's silent 0 or bare 13)", async () => {
    const { code, stderr } = await runNode({
      source: `
        import { Event } from 'greenhub';
        await new Event().wait();
      `,
    });
    expect(code).toBe(1);
    expect(stderr).toContain(
      'This operation would block forever: top-level code waits in wait() on Event(unset)',
    );
  });

  it('catching LoopExit lets the program go on and exit 0', async () => {
    const { code, stdout } = await runNode({
      source: `
        import { Event, LoopExit, spawn } from 'greenhub';
        const g = spawn(async () => {
          try { await new Event().wait(); } catch (e) { return e instanceof LoopExit ? 'caught' : 'other'; }
        });
        console.log(await g.get());
        console.log('went on');
      `,
    });
    expect(stdout.trim().split('\n')).toEqual(['caught', 'went on']);
    expect(code).toBe(0);
  });

  it('a pending timer means no LoopExit', async () => {
    const { code, stdout, stderr } = await runNode({
      source: `
        import { Event, spawn } from 'greenhub';
        const ev = new Event();
        setTimeout(() => ev.set(), 30);
        console.log(await spawn(() => ev.wait()).get());
      `,
    });
    expect({ code, stdout: stdout.trim(), stderr }).toEqual({ code: 0, stdout: 'true', stderr: '' });
  });

  it('a held waker means no LoopExit, even when Node sees nothing left to do', async () => {
    const { code, stdout } = await runNode({
      source: `
        import { Event, getHub, spawn } from 'greenhub';
        const ev = new Event();
        const release = getHub().holdWaker('simulated pool task');
        // An unref'd timer does not keep Node alive: only the waker does.
        setTimeout(() => { ev.set(); release(); }, 30).unref();
        console.log(await spawn(() => ev.wait()).get());
      `,
    });
    expect({ code, stdout: stdout.trim() }).toEqual({ code: 0, stdout: 'true' });
  });

  it('waits on a live greenlet are rejected in a later round: the greenlet gets LoopExit first, its joiner goes on', async () => {
    const { code, stdout, stderr } = await runNode({
      source: `
        import { Queue, spawn } from 'greenhub';
        const jobs = new Queue(10);
        const worker = spawn(() => jobs.get());
        worker.name = 'worker';
        console.log('join returned', await worker.join());
      `,
    });
    expect(stdout.trim()).toBe('join returned true');
    // join() does not hand over the worker's error, so its uncaught LoopExit is reported and the
    // exit status says so; the run info shows the whole picture at the moment the loop emptied.
    expect(code).toBe(1);
    expect(stderr).toContain('greenhub: "worker" (Greenlet-1) failed and nobody received the error:');
    expect(stderr).toMatch(/"worker" \(Greenlet-1\) waits in get\(\) on Queue\(0\/10, 1 getters waiting\)/);
    expect(stderr).toContain('- top-level code: waiting in join() on "worker" (Greenlet-1)');
  });

  it("get() hands the greenlet's LoopExit to the caller", async () => {
    const { code, stderr } = await runNode({
      source: `
        import { Event, LoopExit, spawn } from 'greenhub';
        const g = spawn(() => new Event().wait());
        try { await g.get(); } catch (e) { console.error('caller got', e.name, e === g.exception); }
      `,
    });
    expect(stderr.trim()).toBe('caller got LoopExit true');
    expect(code).toBe(0);
  });
});

describe('deadlock detection', () => {
  let keepAlive: ReturnType<typeof setInterval> | undefined;
  afterEach(() => {
    clearInterval(keepAlive);
    captureErrors.restore();
  });

  it('A joins B joins A: the wait that closes the cycle rejects at once, naming it, while the loop stays alive', async () => {
    keepAlive = setInterval(() => undefined, 1000); // like a server: the loop never empties
    const ready = new Event();
    const holder: { a?: ReturnType<typeof spawn> } = {};
    const b = spawn(async () => {
      await ready.wait();
      return holder.a!.join();
    });
    b.name = 'b';
    const a = spawn(async () => {
      ready.set();
      await sleep(1); // let b start joining a
      return b.join();
    });
    a.name = 'a';
    holder.a = a;
    const error = await a.get().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeadlockError);
    expect((error as DeadlockError).cycle).toEqual(['"a" (Greenlet-' + a.id + ')', String(b)]);
    expect((error as Error).message).toMatch(/"a" .* joins "b" .*; "b" .* joins "a"/);
    expect(getHub().stats().deadlocks).toBeGreaterThan(0);
    // b is still joining a, which has now finished (with the DeadlockError): b's join returns.
    expect(await b.get()).toBe(true);
  });

  it('A joins B while B waits on a lock A holds', async () => {
    for (const LockClass of [Lock, RLock]) {
      const lock = new LockClass();
      const a = spawn(async () => {
        await lock.acquire();
        const b = spawn(() => lock.acquire());
        b.name = 'b';
        await sleep(0); // b parks on the lock
        try {
          return await b.join();
        } finally {
          lock.release();
        }
      });
      a.name = 'a';
      const error = await a.get().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DeadlockError);
      expect((error as Error).message).toContain(
        `waits in acquire() on ${LockClass === Lock ? 'Lock' : 'RLock'}(held by "a"`,
      );
    }
  });

  it('a DeadlockError that ends a greenlet is reported even when the greenlet was only joined', async () => {
    const reported = captureErrors.install();
    const lock = new Lock();
    const a = spawn(async () => {
      await lock.acquire();
      const b = spawn(() => lock.acquire()); // b's wait closes the cycle: b gets the error
      b.name = 'b';
      return b.join(); // join() returns true and does not hand over b's error
    });
    expect(await a.get()).toBe(true);
    await sleep(0);
    await sleep(0);
    expect(reported.map((r) => [String(r.greenlet), (r.error as Error).name])).toEqual([
      ['"b" (Greenlet-' + reported[0]?.greenlet?.id + ')', 'DeadlockError'],
    ]);
    lock.release();
  });

  it('a greenlet joining itself is a deadlock', async () => {
    const g: Greenlet<boolean> = spawn(async function self(): Promise<boolean> {
      return g.join();
    });
    await expect(g.get()).rejects.toBeInstanceOf(DeadlockError);
  });

  it('a join with a timeout is not a deadlock: it just times out', async () => {
    const lock = new Lock();
    const a = spawn(async () => {
      await lock.acquire();
      const b = spawn(() => lock.acquire());
      await sleep(0);
      const joined = await b.join(5);
      lock.release();
      await b.join();
      lock.release();
      return joined;
    });
    expect(await a.get()).toBe(false);
  });
});

describe('run info and stats', () => {
  it('formatRunInfo() shows the spawn tree with states and waits', async () => {
    const stop = new Event();
    const parent = spawn(async () => {
      const child = spawn(() => stop.wait());
      child.name = 'child';
      await child.join();
    });
    parent.name = 'parent';
    await sleep(0);
    await sleep(0);
    const text = getHub().formatRunInfo();
    expect(text).toMatch(/- "parent" \(Greenlet-\d+\) running \(anonymous\): waiting in join\(\) on "child"/);
    expect(text).toMatch(
      /\n {4}- "child" \(Greenlet-\d+\) running \(anonymous\): waiting in wait\(\) on Event\(unset\) for [\d.]+ m?s/,
    );
    const info = getHub().runInfo();
    const root = info.greenlets.find((e) => e.name === 'parent')!;
    expect(root.children.map((c) => c.name)).toEqual(['child']);
    expect(root.children[0]!.waits[0]!.op).toBe('wait');
    stop.set();
    await parent.join();
  });

  it('stats() counts greenlets by state and returns to its baseline when all is done', async () => {
    const hub = getHub();
    const before = hub.stats();
    const stop = new Event();
    const waiting = spawn(() => stop.wait());
    const scheduled = spawn(() => undefined);
    let s = hub.stats();
    expect(s.greenlets.scheduled - before.greenlets.scheduled).toBe(2);
    await sleep(0);
    s = hub.stats();
    expect(s.greenlets.waiting - before.greenlets.waiting).toBe(1);
    expect(s.waiters - before.waiters).toBe(1);
    stop.set();
    await waiting.join();
    await scheduled.join();
    s = hub.stats();
    expect(s.greenlets).toEqual(before.greenlets);
    expect(s.waiters).toBe(before.waiters);
    expect(s.spawned - before.spawned).toBe(2);
    expect(s.finished.ok - before.finished.ok).toBe(2);
  });

  it('tracks spawn sites when asked', async () => {
    const hub = getHub();
    hub.trackSpawnSites = true;
    try {
      const g = spawn(function tracked() {});
      expect(g.spawnSite).toContain('hub.test.ts');
      await g.join();
    } finally {
      hub.trackSpawnSites = false;
    }
    expect(spawn(() => undefined).spawnSite).toBeUndefined();
  });

  it('onError must be a function', () => {
    expect(() => {
      getHub().onError = 'log' as never;
    }).toThrow(/`onError` to be a function/);
  });

  it('LoopExit carries its stable code', () => {
    expect(new LoopExit('x').code).toBe('ERR_GREENHUB_LOOP_EXIT');
  });
});

describe('switch interval', () => {
  const burn = (ms: number): void => {
    const t = performance.now();
    while (performance.now() - t < ms) {
      // a CPU-bound slice
    }
  };

  /**
   * 50 greenlets of 2 ms slices between `sleep(0)`s, a 5 ms switch interval: how many slices ran
   * before `wait()` (started once every greenlet is queued) returned.
   */
  async function slicesBefore(wait: () => Promise<unknown>): Promise<number> {
    const hub = getHub();
    const before = hub.switchIntervalMs;
    hub.switchIntervalMs = 5;
    let slices = 0;
    let stop = false;
    try {
      const gs = Array.from({ length: 50 }, () =>
        spawn(async () => {
          while (!stop) {
            burn(2);
            slices++;
            await sleep(0);
          }
        }),
      );
      await sleep(0); // every greenlet has started and queued its first sleep(0)
      const start = slices;
      await wait();
      const ran = slices - start;
      stop = true;
      await Promise.all(gs.map((g) => g.join()));
      return ran;
    } finally {
      hub.switchIntervalMs = before;
    }
  }

  // Without a switch interval, a due timer waits for a whole turn of the run queue: all 50 slices
  // (100 ms). With 5 ms, it runs after the few slices that fit in the interval.
  it('a busy run queue yields to due timers and I/O after switchIntervalMs, not after every greenlet ran', async () => {
    const ran = await slicesBefore(() => new Promise<void>((resolve) => setTimeout(resolve, 0)));
    expect(ran).toBeGreaterThanOrEqual(0);
    expect(ran).toBeLessThan(25);
  });

  it('a busy run queue yields to a due hub timer (sleep, Timeout) after switchIntervalMs too: queued work does not hold it back', async () => {
    const ran = await slicesBefore(() => sleep(1));
    expect(ran).toBeGreaterThanOrEqual(0);
    expect(ran).toBeLessThan(25);
  });

  it('a greenlet spawned before a sleep has started when the sleep returns, even when the loop reaches its timers late (gevent: callbacks before timers)', async () => {
    // An ES module given with -e runs before the loop's first iteration, whose timers phase comes
    // before the check phase where the hub starts greenlets: with the sleep already due by then, it
    // used to return first and the kill below met a greenlet that had never run.
    const { code, stdout, stderr } = await runNode({
      source: `
        import { getHub, sleep, spawn } from 'greenhub';
        const order = [];
        const g = spawn(async () => {
          order.push('started');
          await sleep(60_000);
        });
        const slept = sleep(5);
        const t = performance.now();
        while (performance.now() - t < 15); // the loop reaches its timers after the sleep is due
        await slept;
        order.push('slept');
        await g.kill();
        console.log(JSON.stringify({ order, killedWhileWaiting: getHub().stats().greenlets.live === 0 }));
      `,
    });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ order: ['started', 'slept'], killedWhileWaiting: true });
  });

  it('greenlet starts are never deferred past the poll phase by the interval, and run in FIFO order', async () => {
    const hub = getHub();
    const before = hub.switchIntervalMs;
    hub.switchIntervalMs = 1;
    const order: number[] = [];
    try {
      const gs = Array.from({ length: 20 }, (_, i) =>
        spawn(() => {
          burn(0.5);
          order.push(i);
        }),
      );
      await Promise.all(gs.map((g) => g.join()));
    } finally {
      hub.switchIntervalMs = before;
    }
    expect(order).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('switchIntervalMs must be a positive, finite number of milliseconds', () => {
    const hub = getHub();
    expect(() => {
      hub.switchIntervalMs = 0;
    }).toThrow(/Hub.switchIntervalMs: expected `switchIntervalMs` to be a positive, finite number/);
    expect(() => {
      hub.switchIntervalMs = '5' as never;
    }).toThrow(TypeError);
    expect(hub.switchIntervalMs).toBe(5);
  });
});

describe('async context of greenlets started in one turn', () => {
  it('each sees itself, after one threw synchronously, and the context of the turn that started them; the turn gets its own context back', async () => {
    const other = new AsyncLocalStorage<string>();
    const seen: [string, string | undefined, string | undefined][] = [];
    const record = (label: string): void => {
      seen.push([label, getCurrent()?.name, other.getStore()]);
    };
    captureErrors.install();
    try {
      const greenlets = other.run('spawner', () => [
        spawn(() => {
          record('a');
          throw new Error('a throws in its first slice');
        }),
        spawn(async () => {
          record('b');
          await null;
          record('b after await');
        }),
        spawn(() => record('c')),
      ]);
      greenlets.forEach((g, i) => {
        g.name = `g${i}`;
      });
      await joinAll(greenlets);
      record('joiner');
    } finally {
      captureErrors.restore();
    }
    // Order of 'c' and 'b after await' depends on how the turn is chunked: not asserted.
    expect(seen.sort((x, y) => x[0].localeCompare(y[0]))).toEqual([
      ['a', 'g0', 'spawner'],
      ['b', 'g1', 'spawner'],
      ['b after await', 'g1', 'spawner'],
      ['c', 'g2', 'spawner'],
      ['joiner', undefined, undefined],
    ]);
  });
});
