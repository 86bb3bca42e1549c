import { describe, expect, it } from 'vitest';
import {
  BoundedSemaphore,
  DeadlockError,
  Event,
  InvalidArgumentValueError,
  Lock,
  NotOwnerError,
  OverReleaseError,
  RLock,
  Semaphore,
  sleep,
  spawn,
} from '../../src/index.js';

describe('Semaphore', () => {
  it('counts permits: acquire takes one, release gives one back', async () => {
    const sem = new Semaphore(2);
    expect(await sem.acquire()).toBe(true);
    expect(await sem.acquire()).toBe(true);
    expect(sem.counter).toBe(0);
    expect(sem.locked()).toBe(true);
    sem.release();
    expect(sem.counter).toBe(1);
  });

  it('acquire({ blocking: false }) and acquire({ timeout }) resolve false when no permit comes', async () => {
    const sem = new Semaphore(0);
    expect(await sem.acquire({ blocking: false })).toBe(false);
    expect(await sem.acquire({ timeout: 5 })).toBe(false);
    expect(await sem.acquire({ timeout: 0 })).toBe(false);
  });

  it('wakes waiters in FIFO order', async () => {
    const sem = new Semaphore(0);
    const order: number[] = [];
    const gs = [1, 2, 3, 4].map((n) =>
      spawn(async () => {
        await sem.acquire();
        order.push(n);
      }),
    );
    await sleep(0);
    for (let i = 0; i < 4; i++) sem.release();
    for (const g of gs) await g.join();
    expect(order).toEqual([1, 2, 3, 4]);
  });

  it('hands a released permit to the first waiter: a newcomer cannot barge in', async () => {
    const sem = new Semaphore(0);
    const waiter = spawn(() => sem.acquire());
    await sleep(0);
    sem.release(); // handed to `waiter`, which has not run yet
    expect(sem.counter).toBe(0);
    expect(await sem.acquire({ blocking: false })).toBe(false);
    expect(await waiter.get()).toBe(true);
  });

  it('a killed or timed-out waiter leaves the queue and the permit goes to the next one', async () => {
    const sem = new Semaphore(0);
    const killed = spawn(() => sem.acquire());
    const timedOut = spawn(() => sem.acquire({ timeout: 5 }));
    const patient = spawn(() => sem.acquire());
    await sleep(0);
    await killed.kill();
    expect(await timedOut.get()).toBe(false);
    sem.release();
    expect(await patient.get()).toBe(true);
    expect(sem.counter).toBe(0);
    expect(sem._acquirers.size).toBe(0);
  });

  it('wait() waits for a free permit without taking it', async () => {
    const sem = new Semaphore(0);
    const watcher = spawn(() => sem.wait());
    await sleep(0);
    sem.release();
    expect(await watcher.get()).toBe(true);
    expect(sem.counter).toBe(1);
    expect(await new Semaphore(0).wait(5)).toBe(false);
  });

  it('rejects a bad initial value', () => {
    expect(() => new Semaphore(-1)).toThrow(InvalidArgumentValueError);
    expect(() => new Semaphore(1.5)).toThrow(/`value` to be a non-negative integer, got `1.5`/);
    expect(() => new Semaphore('2' as never)).toThrow(TypeError);
  });
});

describe('BoundedSemaphore', () => {
  it('refuses to be released more often than acquired', async () => {
    const sem = new BoundedSemaphore(1);
    expect(() => sem.release()).toThrow(OverReleaseError);
    await sem.acquire();
    sem.release();
    expect(() => sem.release()).toThrow(/more times than acquire/);
  });
});

describe('Lock', () => {
  it('records its holder and may be released by anyone', async () => {
    const lock = new Lock();
    const holder = spawn(() => lock.acquire());
    await holder.join();
    expect(lock.owner).toBe(holder);
    expect(String(lock)).toContain(String(holder));
    lock.release(); // from top-level code, as threading.Lock allows
    expect(lock.locked()).toBe(false);
    expect(lock.owner).toBeNull();
    expect(() => lock.release()).toThrow(OverReleaseError);
  });

  it('a greenlet acquiring a Lock it holds gets DeadlockError instead of hanging', async () => {
    const lock = new Lock();
    const g = spawn(async () => {
      await lock.acquire();
      await lock.acquire();
    });
    const error = await g.get().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeadlockError);
    expect((error as DeadlockError).code).toBe('ERR_GREENHUB_DEADLOCK');
  });

  it('with a timeout, acquiring a held Lock waits and times out (no deadlock claimed)', async () => {
    const lock = new Lock();
    const g = spawn(async () => {
      await lock.acquire();
      return lock.acquire({ timeout: 5 });
    });
    expect(await g.get()).toBe(false);
  });
});

describe('RLock', () => {
  it('is re-entrant for its owner and needs as many releases as acquires', async () => {
    const rlock = new RLock();
    const g = spawn(async () => {
      await rlock.acquire();
      await rlock.acquire();
      rlock.release();
      const stillHeld = rlock.locked();
      rlock.release();
      return [stillHeld, rlock.locked()];
    });
    expect(await g.get()).toEqual([true, false]);
  });

  it('makes other greenlets wait, and refuses a release by a non-owner', async () => {
    const rlock = new RLock();
    const release = new Event();
    const owner = spawn(async () => {
      await rlock.acquire();
      await release.wait();
      rlock.release();
    });
    await sleep(0);
    expect(rlock.owner).toBe(owner);
    const other = spawn(() => rlock.release());
    await expect(other.get()).rejects.toBeInstanceOf(NotOwnerError);
    const waiter = spawn(() => rlock.acquire({ timeout: 5 }));
    expect(await waiter.get()).toBe(false);
    release.set();
    await owner.join();
    expect(rlock.locked()).toBe(false);
  });
});
