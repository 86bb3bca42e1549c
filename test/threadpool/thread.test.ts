import { Event, getHub, InvalidStateError, Lock, sleep } from 'greenhub';
import { patchThread, unpatchAll } from 'greenhub/patch';
import { ClosureError, SharedEvent, Thread, ThreadModeError } from 'greenhub/threadpool';
import { afterEach, describe, expect, it } from 'vitest';
import { flags, ref, until } from './helpers.js';

// patchThread() sets only the mode a Thread reads at start(); unpatchAll() sets it back.
afterEach(() => unpatchAll());

/** Capture what the hub reports through onError while `body` runs. */
async function reported(body: () => Promise<void>): Promise<unknown[]> {
  const hub = getHub();
  const previous = hub.onError;
  const errors: unknown[] = [];
  hub.onError = (error) => errors.push(error);
  try {
    await body();
  } finally {
    hub.onError = previous;
  }
  return errors;
}

describe('Thread, thread not patched: a real worker thread', () => {
  it('runs its target on another thread; isAlive() and join() follow it', async () => {
    const t = new Thread({ target: ref('delayed'), args: [100], name: 'sleeper' });
    expect(t.isAlive()).toBe(false);
    expect(t.mode).toBeNull();
    t.start();
    expect(t.mode).toBe('thread');
    expect(t.ident).toBeGreaterThan(0); // a worker threadId
    expect(t.isAlive()).toBe(true);
    expect(await t.join(1)).toBe(false);
    expect(await t.join()).toBe(true);
    expect(t.isAlive()).toBe(false);
    expect(String(t)).toBe('Thread "sleeper" (thread)');
  });

  it('a self-contained function can be the target', async () => {
    const mark = flags();
    const t = new Thread({
      target: (buffer: SharedArrayBuffer) => {
        Atomics.store(new Int32Array(buffer), 0, 7);
      },
      args: [mark.buffer],
    });
    t.start();
    await t.join();
    expect(Atomics.load(mark.view, 0)).toBe(7);
  });

  it("the target's failure is reported through the hub's onError, never lost; join() does not throw", async () => {
    const t = new Thread({ target: ref('fail'), args: ['in a thread'] });
    const errors = await reported(async () => {
      t.start();
      expect(await t.join()).toBe(true);
    });
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toBe('Error: in a thread');
    expect(t.exception).toBe(errors[0]);
  });

  it('a target that uses a variable of its surroundings fails with a ClosureError naming it', async () => {
    const base = 40;
    const t = new Thread({ target: (x: number) => x + base, args: [2] });
    await reported(async () => {
      t.start();
      await t.join();
    });
    expect(t.exception).toBeInstanceOf(ClosureError);
    expect((t.exception as ClosureError).variable).toBe('base');
  });

  it('a hub primitive passed to it fails with a ThreadModeError that explains the patch order', () => {
    const t = new Thread({ target: ref('echo'), args: [new Lock()] });
    expect(() => t.start()).toThrow(ThreadModeError);
    expect(() => t.start()).toThrow(
      /greenhub Lock.*Share a SharedLock.*`thread` was not patched.*patchAll\(\)/s,
    );
    expect(t.isAlive()).toBe(false); // it never started
  });

  it('a SharedEvent set by the thread wakes a greenlet waiting cooperatively', async () => {
    const event = new SharedEvent();
    const t = new Thread({ target: ref('setLater'), args: [event, 30] });
    t.start();
    expect(await event.wait(10_000)).toBe(true);
    await t.join();
  });

  it('start() twice and join() before start() are refused', async () => {
    const t = new Thread({ target: ref('delayed'), args: [1] });
    await expect(t.join()).rejects.toBeInstanceOf(InvalidStateError);
    t.start();
    expect(() => t.start()).toThrow(/threads can only be started once/);
    await t.join();
  });

  it('refuses bad options, naming them', () => {
    expect(() => new Thread({} as never)).toThrow(/expected `opts.target` to be a TaskRef/);
    expect(() => new Thread({ target: ref('add'), args: 1 as never })).toThrow(/opts.args/);
    expect(() => new Thread({ target: ref('add'), daemon: 'yes' as never })).toThrow(/opts.daemon/);
    const t = new Thread({ target: ref('delayed'), args: [1] });
    t.start();
    expect(() => {
      t.daemon = true;
    }).toThrow(/cannot be changed once started/);
  });
});

describe('Thread, thread patched: a greenlet', () => {
  it('runs its target as a greenlet on the hub: closures and hub primitives work', async () => {
    patchThread();
    const ready = new Event();
    let seen = 0;
    const t = new Thread({
      target: async (n: number) => {
        await ready.wait();
        seen = n;
      },
      args: [5],
    });
    t.start();
    expect(t.mode).toBe('greenlet');
    expect(t.isAlive()).toBe(true);
    await sleep(0);
    ready.set();
    expect(await t.join()).toBe(true);
    expect(seen).toBe(5);
    expect(t.isAlive()).toBe(false);
  });

  it('a failure is reported once, like a real thread', async () => {
    patchThread();
    const t = new Thread({ target: ref('fail'), args: ['as a greenlet'] });
    const errors = await reported(async () => {
      t.start();
      await t.join();
      await sleep(0);
    });
    expect(errors.map(String)).toEqual(['Error: as a greenlet']);
  });
});

describe('the mode is fixed at start()', () => {
  it('a Thread created unpatched and started after patching is a greenlet, and is not alive forever', async () => {
    const t = new Thread({ target: ref('add'), args: [1, 2] });
    patchThread();
    t.start();
    expect(t.mode).toBe('greenlet');
    expect(await t.join(5_000)).toBe(true);
    expect(t.isAlive()).toBe(false);
  });

  it('a Thread created patched and started after unpatching is a real thread', async () => {
    patchThread();
    const mark = flags();
    const t = new Thread({ target: ref('markStarted'), args: [mark.buffer, 100] });
    unpatchAll();
    t.start();
    expect(t.mode).toBe('thread');
    await until(mark.view, 1); // running on its own thread while the hub goes on
    expect(t.isAlive()).toBe(true);
    expect(await t.join()).toBe(true);
    expect(t.isAlive()).toBe(false);
  });
});

describe('Thread modes through the public patch API (each in its own process)', () => {
  it('a Thread created before patchAll() and started after it runs as a greenlet; isAlive() follows it; no LoopExit', async () => {
    const { scenario } = await import('../patch/scenario.js');
    const { code, result, stderr } = await scenario(`
      import { Thread } from 'greenhub/threadpool';
      import { patchAll } from 'greenhub/patch';
      import { getCurrent, sleep } from 'greenhub';
      let ranIn = 'nothing';
      const early = new Thread({ target: async () => { ranIn = getCurrent()?.name ?? 'no greenlet'; await sleep(20); }, name: 'early' });
      patchAll({ signal: false });                     // thread patched: a Thread is a greenlet
      early.start();
      const aliveWhileRunning = early.isAlive();
      const joined = await early.join();
      report({ mode: early.mode, ranIn, aliveWhileRunning, joined, aliveAfter: early.isAlive() });
    `);
    expect(stderr).not.toContain('LoopExit');
    expect(code).toBe(0);
    expect(result).toEqual({
      mode: 'greenlet',
      ranIn: 'early',
      aliveWhileRunning: true,
      joined: true,
      aliveAfter: false,
    });
  });

  it('patchAll({ thread: false }) keeps Threads real worker threads', async () => {
    const { scenario } = await import('../patch/scenario.js');
    const { code, result } = await scenario(`
      import { Thread } from 'greenhub/threadpool';
      import { patchAll } from 'greenhub/patch';
      patchAll({ signal: false, thread: false });
      const t = new Thread({ target: () => { const end = Date.now() + 20; while (Date.now() < end); } });
      t.start();
      const alive = t.isAlive();
      await t.join();
      report({ mode: t.mode, alive, aliveAfter: t.isAlive() });
    `);
    expect(code).toBe(0);
    expect(result).toEqual({ mode: 'thread', alive: true, aliveAfter: false });
  });
});
