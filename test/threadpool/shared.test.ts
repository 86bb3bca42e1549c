import { GreenletExit, getHub, InvalidStateError, OverReleaseError, sleep, spawn } from 'greenhub';
import { SharedEvent, SharedLock, SharedSemaphore, ThreadPool } from 'greenhub/threadpool';
import { afterAll, describe, expect, it } from 'vitest';
import { flags, ref, until } from './helpers.js';

const pool = new ThreadPool({ maxThreads: 2, name: 'shared-tests' });
afterAll(() => pool.close());

describe('SharedEvent', () => {
  it('a worker blocked in waitSync() wakes when a greenlet sets it', async () => {
    const event = new SharedEvent();
    const mark = flags();
    const waiting = pool.apply(ref('waitThenMark'), event, mark.buffer);
    expect(Atomics.load(mark.view, 0)).toBe(0);
    event.set();
    await waiting;
    expect(Atomics.load(mark.view, 0)).toBe(1); // 1: woken, not timed out
  });

  it('a greenlet waits cooperatively until a worker sets it, while the hub keeps running', async () => {
    const event = new SharedEvent();
    let ticks = 0;
    const ticker = spawn(async () => {
      for (;;) {
        ticks++;
        await sleep(1);
      }
    });
    const setter = pool.apply(ref('setLater'), event, 50);
    expect(await event.wait(10_000)).toBe(true);
    expect(ticks).toBeGreaterThan(1);
    await setter;
    await ticker.kill();
  });

  it('wait() resolves false on timeout, true at once when set; a wait is a checkpoint', async () => {
    const event = new SharedEvent();
    expect(await event.wait(10)).toBe(false);
    expect(await event.wait(0)).toBe(false);
    event.set();
    expect(event.isSet()).toBe(true);
    expect(await event.wait()).toBe(true);
    event.clear();
    expect(event.isSet()).toBe(false);
    expect(String(event)).toBe('SharedEvent(unset)');
  });

  it('a killed waiter leaves; later waiters are still woken', async () => {
    const event = new SharedEvent();
    const killed = spawn(() => event.wait());
    const kept = spawn(() => event.wait());
    await new Promise((resolve) => setImmediate(resolve));
    expect(getHub().formatRunInfo()).toMatch(/waiting in wait\(\) on SharedEvent\(unset\)/);
    await killed.kill();
    expect(killed.value).toBeInstanceOf(GreenletExit);
    event.set();
    expect(await kept.get()).toBe(true);
  });

  it('waitSync() on the main thread is refused: it would block the hub', () => {
    const event = new SharedEvent();
    expect(() => event.waitSync()).toThrow(InvalidStateError);
    expect(() => event.waitSync()).toThrow(/would block the main thread/);
    expect(event.waitSync(0)).toBe(false); // polling does not block
  });

  it('crosses threads as itself; from() revives a copy nested in data', () => {
    const event = new SharedEvent();
    const copy = structuredClone({ nested: event }).nested;
    expect(copy).not.toBeInstanceOf(SharedEvent);
    const revived = SharedEvent.from(copy);
    revived.set();
    expect(event.isSet()).toBe(true);
    expect(() => SharedEvent.from({})).toThrow(/expected `value` to be a SharedEvent/);
    expect(() => SharedLock.from(copy)).toThrow(/SharedLock/);
  });
});

describe('SharedLock and SharedSemaphore', () => {
  it('a SharedLock excludes across worker threads and greenlets at once', async () => {
    const lock = new SharedLock();
    const shared = new SharedArrayBuffer(8);
    const view = new Int32Array(shared);
    const workers = [
      pool.apply(ref('hammer'), lock, shared, 300),
      pool.apply(ref('hammer'), lock, shared, 300),
    ];
    let overlaps = 0;
    for (let i = 0; i < 100; i++) {
      await lock.acquire();
      if (Atomics.add(view, 0, 1) !== 0) overlaps++;
      await new Promise((resolve) => setImmediate(resolve)); // hold it across a turn of the loop
      Atomics.sub(view, 0, 1);
      Atomics.add(view, 1, 1);
      lock.release();
    }
    const workerOverlaps = await Promise.all(workers);
    expect([overlaps, ...workerOverlaps]).toEqual([0, 0, 0]);
    expect(Atomics.load(view, 1)).toBe(700);
    expect(lock.locked()).toBe(false);
  });

  it('over-releasing a SharedLock throws OverReleaseError', () => {
    const lock = new SharedLock();
    expect(() => lock.release()).toThrow(OverReleaseError);
    expect(lock.acquireSync({ blocking: false })).toBe(true);
    expect(lock.acquireSync({ blocking: false })).toBe(false);
    expect(String(lock)).toBe('SharedLock(locked)');
    lock.release();
  });

  it('a SharedSemaphore counts permits; blocking: false and timeout give up', async () => {
    const semaphore = new SharedSemaphore(2);
    expect(await semaphore.acquire()).toBe(true);
    expect(await semaphore.acquire()).toBe(true);
    expect(semaphore.counter).toBe(0);
    expect(await semaphore.acquire({ blocking: false })).toBe(false);
    expect(await semaphore.acquire({ timeout: 10 })).toBe(false);
    const waiter = spawn(() => semaphore.acquire());
    await new Promise((resolve) => setImmediate(resolve));
    semaphore.release();
    expect(await waiter.get()).toBe(true);
    expect(semaphore.counter).toBe(0);
    semaphore.release();
    semaphore.release();
    expect(semaphore.counter).toBe(2);
  });

  it('acquire() is a checkpoint: a pending kill is delivered before a permit is taken', async () => {
    const semaphore = new SharedSemaphore(1);
    const g = spawn(async () => {
      await new Promise((resolve) => setTimeout(resolve, 30)); // not a hub wait: the kill stays pending
      return semaphore.acquire();
    });
    await sleep(5);
    await g.kill({ block: false });
    await g.join();
    expect(g.value).toBeInstanceOf(GreenletExit);
    expect(semaphore.counter).toBe(1); // no permit leaked
  });

  it('refuses bad arguments, naming them', () => {
    expect(() => new SharedSemaphore(-1)).toThrow(/expected `value` to be a non-negative integer/);
    expect(() => new SharedEvent(new ArrayBuffer(4) as never)).toThrow(
      /expected `buffer` to be a SharedArrayBuffer/,
    );
    expect(() => new SharedSemaphore(1).acquireSync({ blocking: 'no' as never })).toThrow(/opts.blocking/);
  });

  it('a worker waiting in acquireSync() gets the permit a greenlet releases', async () => {
    const lock = new SharedLock();
    await lock.acquire();
    const mark = flags();
    const worker = pool.apply(ref('hammer'), lock, mark.buffer, 1);
    expect(await Promise.race([worker, new Promise((resolve) => setTimeout(resolve, 50, 'blocked'))])).toBe(
      'blocked',
    );
    lock.release();
    expect(await worker).toBe(0);
    await until(mark.view, 1);
  });
});
