import { describe, expect, it } from 'vitest';
import { AsyncResult, Event, InvalidStateError, sleep, spawn, Timeout } from '../../src/index.js';

describe('Event', () => {
  it('wait() resolves true once set, false after its timeout', async () => {
    const ev = new Event();
    expect(await ev.wait(5)).toBe(false);
    setTimeout(() => ev.set(), 1);
    expect(await ev.wait()).toBe(true);
    expect(ev.isSet()).toBe(true);
    expect(await ev.wait()).toBe(true); // already set: returns at once
    ev.clear();
    expect(await ev.wait(0)).toBe(false); // timeout 0 polls
  });

  it('set() wakes every waiter in the order they started waiting, never synchronously', async () => {
    const ev = new Event();
    const order: number[] = [];
    const waiters = [1, 2, 3].map((n) =>
      spawn(async () => {
        await ev.wait();
        order.push(n);
      }),
    );
    await sleep(0);
    ev.set();
    expect(order).toEqual([]);
    for (const w of waiters) await w.join();
    expect(order).toEqual([1, 2, 3]);
  });

  it('set() then clear() still wakes those who were waiting at set() time', async () => {
    const ev = new Event();
    const waiter = spawn(() => ev.wait());
    await sleep(0);
    ev.set();
    ev.clear();
    expect(await waiter.get()).toBe(true);
    expect(ev.isSet()).toBe(false);
  });

  it('rawlink() callbacks fire after set(), in a later turn', async () => {
    const ev = new Event();
    const fired: string[] = [];
    ev.rawlink(() => fired.push('cb'));
    ev.set();
    expect(fired).toEqual([]);
    await sleep(0);
    expect(fired).toEqual(['cb']);
  });
});

describe('AsyncResult', () => {
  it('get() returns the value set later', async () => {
    const result = new AsyncResult<number>();
    spawn(async () => {
      await sleep(1);
      result.set(42);
    });
    expect(await result.get()).toBe(42);
    expect([result.ready(), result.successful(), result.value, result.exception]).toEqual([
      true,
      true,
      42,
      undefined,
    ]);
  });

  it('get() throws an exception set with setException(); wait() does not', async () => {
    const result = new AsyncResult();
    const error = new Error('failed upstream');
    result.setException(error);
    await expect(result.get()).rejects.toBe(error);
    expect(await result.wait()).toBe(true);
    expect(result.successful()).toBe(false);
    expect(result.exception).toBe(error);
  });

  it('get({ timeout }) throws Timeout; get({ block: false }) throws at once', async () => {
    const result = new AsyncResult();
    await expect(result.get({ timeout: 5 })).rejects.toBeInstanceOf(Timeout);
    await expect(result.get({ block: false })).rejects.toBeInstanceOf(Timeout);
    expect(await result.wait(5)).toBe(false);
  });

  it('is set once: a second set throws InvalidStateError and the first value is kept', () => {
    const result = new AsyncResult<string>();
    result.set('first');
    expect(() => result.set('second')).toThrow(InvalidStateError);
    expect(() => result.setException(new Error('x'))).toThrow(InvalidStateError);
    expect(result.value).toBe('first');
  });
});
