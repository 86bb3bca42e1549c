/**
 * Deadlines kept at the caller: kills and Timeouts that must hold whatever the greenlet awaits,
 * including promises greenhub does not see (no patching in this file: every `setTimeout` and raw
 * promise here is invisible to the hub).
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  Channel,
  DeadlockError,
  Event,
  GreenletExit,
  getCurrent,
  getHub,
  Lock,
  Queue,
  Semaphore,
  sleep,
  spawn,
  Timeout,
  wait,
  withTimeout,
} from '../../src/index.js';
import { captureErrors } from '../helpers.js';

/** A promise the test settles by hand: something greenhub cannot see. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

afterEach(() => captureErrors.restore());

describe('withTimeout keeps its deadline at the caller', () => {
  it('returns the fallback on time while the body awaits a promise greenhub does not see', async () => {
    const never = deferred<string>();
    const g = spawn(() => withTimeout(30, () => never.promise, { fallback: 'fallback' }));
    // Synchronised on the outcome, not on a clock: if the deadline were not kept the greenlet
    // would never finish (the promise never settles) and this join would time out.
    expect(await g.join(5_000)).toBe(true);
    expect(g.value).toBe('fallback');
  });

  it('throws its own Timeout without a fallback', async () => {
    const never = deferred<void>();
    const g = spawn(() => withTimeout(5, () => never.promise));
    await g.join();
    expect(g.exception).toBeInstanceOf(Timeout);
  });

  it('fences the abandoned body: its result is discarded and its next checkpoint throws the Timeout', async () => {
    const late = deferred<string>();
    const seen: unknown[] = [];
    const resumed = new Event();
    const before = getHub().stats().abandoned;
    const g = spawn(() =>
      withTimeout(
        5,
        async () => {
          const v = await late.promise;
          seen.push(`resumed with ${v}`);
          try {
            await sleep(0);
            seen.push('checkpoint passed');
          } catch (error) {
            seen.push(error);
          } finally {
            resumed.set();
          }
          return v;
        },
        { fallback: 'fallback' },
      ),
    );
    expect(await g.get()).toBe('fallback');
    const during = getHub().stats().abandoned;
    expect(during.total).toBe(before.total + 1);
    expect(during.running).toBe(before.running + 1);
    expect(getHub().formatRunInfo()).toMatch(/abandoned continuation: withTimeout\(5 ms\) body/);
    late.resolve('late');
    await resumed.wait();
    expect(seen[0]).toBe('resumed with late');
    expect(seen[1]).toBeInstanceOf(Timeout);
    await sleep(0);
    expect(getHub().stats().abandoned.running).toBe(before.running);
    expect(g.value).toBe('fallback');
  });

  it('after the deadline the greenlet goes on unaffected: its own waits are not the abandoned body’s', async () => {
    const never = deferred<void>();
    const g = spawn(async () => {
      await withTimeout(5, () => never.promise, { fallback: undefined });
      await sleep(1); // would throw if the fence leaked into the greenlet's own flow
      return 'went on';
    });
    expect(await g.get()).toBe('went on');
  });

  it('lets a body that waits in a hub wait unwind (its finally runs) before returning', async () => {
    const order: string[] = [];
    const g = spawn(async () => {
      const r = await withTimeout<string | void>(
        5,
        async () => {
          try {
            await new Event().wait();
          } finally {
            order.push('body finally');
          }
        },
        { fallback: 'fallback' },
      );
      order.push(`returned ${r}`);
    });
    await g.join();
    expect(order).toEqual(['body finally', 'returned fallback']);
  });

  it('an outer withTimeout keeps its deadline around an inner one that is longer', async () => {
    const never = deferred<string>();
    const g = spawn(() =>
      withTimeout(5, () => withTimeout(10_000, () => never.promise, { fallback: 'inner' }), {
        fallback: 'outer',
      }),
    );
    expect(await g.get()).toBe('outer');
  });

  it('gives up when opts.signal aborts, with its reason; an already aborted signal rejects at once', async () => {
    const controller = new AbortController();
    const never = deferred<void>();
    const reason = new Error('caller gave up');
    const g = spawn(() => withTimeout(null, () => never.promise, { signal: controller.signal }));
    await sleep(0);
    controller.abort(reason);
    await g.join();
    expect(g.exception).toBe(reason);
    const h = spawn(() => withTimeout(100, () => 'ran', { signal: AbortSignal.abort(reason) }));
    await h.join();
    expect(h.exception).toBe(reason);
  });

  it('refuses a signal that is not an AbortSignal, naming the argument', async () => {
    await expect(withTimeout(10, () => 1, { signal: {} as AbortSignal })).rejects.toThrow(
      /withTimeout\(\): expected `opts.signal` to be an AbortSignal/,
    );
  });
});

describe('kill keeps its promise at the caller', () => {
  it('kill({ block: true }) returns with the greenlet dead while it awaits a promise that never settles', async () => {
    const never = deferred<void>();
    const g = spawn(() => never.promise);
    await sleep(0);
    await g.kill({ block: true, timeout: 5_000 });
    expect(g.dead).toBe(true);
    expect(g.successful()).toBe(true);
    expect(g.value).toBeInstanceOf(GreenletExit);
  });

  it('the killed body’s continuation is fenced: result discarded, its next checkpoint throws the kill', async () => {
    const late = deferred<string>();
    const seen: unknown[] = [];
    const done = new Event();
    const g = spawn(async () => {
      await late.promise;
      try {
        await sleep(0);
        seen.push('checkpoint passed');
      } catch (error) {
        seen.push(error);
      }
      done.set();
      return 'late value';
    });
    await sleep(0);
    const exception = new GreenletExit('stop');
    await g.kill({ exception });
    expect(g.value).toBe(exception);
    late.resolve('x');
    await done.wait();
    expect(seen).toEqual([exception]);
    await sleep(0);
    expect(g.value).toBe(exception);
  });

  it('a kill whose wait resumes in the same turn still lands at the checkpoint (the greenlet unwinds)', async () => {
    const ev = new Event();
    const order: string[] = [];
    const abandonedBefore = getHub().stats().abandoned.total;
    const g = spawn(async () => {
      await ev.wait();
      try {
        await sleep(0);
      } finally {
        order.push('finally ran inside the greenlet');
      }
    });
    await sleep(0);
    ev.set(); // wakes g: it resumes in a microtask of this turn
    await g.kill({ exception: new GreenletExit('now') });
    expect(order).toEqual(['finally ran inside the greenlet']);
    expect(getHub().stats().abandoned.total).toBe(abandonedBefore);
  });

  it('a kill that fired before the body returned is never lost to the late value', async () => {
    const late = deferred<string>();
    const g = spawn(() => late.promise);
    await sleep(0);
    await g.kill({ block: false });
    late.resolve('late value');
    await g.join();
    expect(g.value).toBeInstanceOf(GreenletExit);
  });

  it('a non-blocking self-kill lands at the next checkpoint', async () => {
    const after: string[] = [];
    const g = spawn(async () => {
      void getCurrent()!.kill({ block: false });
      after.push('still running until the next checkpoint');
      await sleep(0);
      after.push('never');
    });
    await g.join();
    expect(after).toEqual(['still running until the next checkpoint']);
    expect(g.value).toBeInstanceOf(GreenletExit);
  });

  it('started is false once the greenlet is dead (gevent)', async () => {
    const g = spawn(() => 1);
    expect(g.started).toBe(true);
    await g.join();
    expect(g.started).toBe(false);
  });
});

describe('bare Timeout around an await greenhub does not see', () => {
  it('is raised when the body returns: the greenlet ends with the Timeout, not the late value', async () => {
    const late = deferred<string>();
    let t!: Timeout;
    const g = spawn(async () => {
      t = Timeout.start(5);
      return late.promise;
    });
    await new Promise((r) => setTimeout(r, 20)); // the Timeout has fired by now (5 ms)
    late.resolve('late');
    await g.join();
    expect(g.exception).toBe(t);
  });

  it('is raised on dispose at the latest (`using`)', async () => {
    const late = deferred<string>();
    const g = spawn(async () => {
      const t = Timeout.start(5);
      let caught: unknown;
      try {
        await late.promise;
      } finally {
        try {
          t[Symbol.dispose]();
        } catch (error) {
          caught = error;
        }
      }
      return caught === t ? 'raised on dispose' : 'lost';
    });
    await new Promise((r) => setTimeout(r, 20));
    late.resolve('late');
    expect(await g.get()).toBe('raised on dispose');
  });

  it('an explicit cancel() withdraws a fired, undelivered Timeout', async () => {
    const late = deferred<string>();
    const g = spawn(async () => {
      const t = Timeout.start(5);
      const v = await late.promise;
      t.cancel();
      await sleep(0);
      return v;
    });
    await new Promise((r) => setTimeout(r, 20));
    late.resolve('late');
    expect(await g.get()).toBe('late');
  });
});

describe('AbortSignal both ways', () => {
  it('getCurrent().signal aborts with the kill as its reason; a fresh one afterwards', async () => {
    let first!: AbortSignal;
    let second!: AbortSignal;
    const caught = new Event();
    const exception = new GreenletExit('bye');
    const g = spawn(async () => {
      first = getCurrent()!.signal;
      try {
        await sleep(10_000);
      } catch {
        second = getCurrent()!.signal;
        caught.set();
      }
    });
    await sleep(0);
    expect(first.aborted).toBe(false);
    void g.kill({ exception, block: false });
    await caught.wait();
    expect(first.aborted).toBe(true);
    expect(first.reason).toBe(exception);
    expect(second.aborted).toBe(false);
  });

  it('aborts with a withTimeout deadline that fires, so signal-aware work stops', async () => {
    let signal!: AbortSignal;
    const g = spawn(() =>
      withTimeout(
        5,
        () => {
          signal = getCurrent()!.signal;
          return new Promise((_resolve, reject) =>
            signal.addEventListener('abort', () => reject(signal.reason)),
          );
        },
        { fallback: 'fallback' },
      ),
    );
    expect(await g.get()).toBe('fallback');
    expect(signal.reason).toBeInstanceOf(Timeout);
  });

  it('sleep, Event-free waits, Queue.get, Semaphore.acquire and wait() take { signal }', async () => {
    const reason = new Error('aborted by caller');
    const controller = new AbortController();
    const sem = new Semaphore(0);
    const q = new Queue<number>();
    const waits = [
      sleep(10_000, { signal: controller.signal }),
      q.get({ signal: controller.signal }),
      sem.acquire({ signal: controller.signal }),
      wait([new Event()], { signal: controller.signal }),
    ];
    await sleep(0);
    expect(getHub().stats().waiters).toBeGreaterThanOrEqual(4);
    controller.abort(reason);
    const outcomes = await Promise.allSettled(waits);
    expect(outcomes.map((o) => (o.status === 'rejected' ? o.reason : o.status))).toEqual([
      reason,
      reason,
      reason,
      reason,
    ]);
    // The aborted waits left nothing behind: an item put now is not given to a departed getter.
    await q.put(1);
    expect(q.qsize()).toBe(1);
  });

  it('an already aborted signal rejects at once, even where the wait would not block', async () => {
    const reason = new Error('already');
    const q = new Queue<number>();
    q.putNowait(1);
    await expect(q.get({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(q.qsize()).toBe(1);
    await expect(sleep(0, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    await expect(new Semaphore(1).acquire({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });

  it('a signal that is not an AbortSignal is a TypeError naming the argument', () => {
    expect(() => sleep(1, { signal: 'soon' as unknown as AbortSignal })).toThrow(TypeError);
    expect(() => sleep(1, { signal: 'soon' as unknown as AbortSignal })).toThrow(/`opts.signal`/);
    expect(() => new Queue().get({ signal: 1 as unknown as AbortSignal })).toThrow(
      /Queue.get\(\): expected `opts.signal`/,
    );
  });
});

describe('gevent scheduling', () => {
  it('Channel.put switches to the waiting receiver (gevent test_send)', async () => {
    const channel = new Channel<string>();
    const events: string[] = [];
    const receiver = spawn(async () => {
      events.push(await channel.get());
      events.push(await channel.get());
    });
    events.push('sending');
    await channel.put('hello');
    events.push('sent hello');
    await channel.put('world');
    events.push('sent world');
    await receiver.join();
    expect(events).toEqual(['sending', 'hello', 'sent hello', 'world', 'sent world']);
  });

  it('a put into a Queue with room does not yield to the getter it wakes', async () => {
    const q = new Queue<number>();
    const events: string[] = [];
    const getter = spawn(async () => {
      events.push(`got ${await q.get()}`);
    });
    await sleep(0);
    await q.put(1);
    events.push('put returned');
    await getter.join();
    expect(events).toEqual(['put returned', 'got 1']);
  });

  it('a getter that takes from a full queue goes on before the putter it admits', async () => {
    const q = new Queue<number>(1);
    q.putNowait(1);
    const events: string[] = [];
    const putter = spawn(async () => {
      await q.put(2);
      events.push('put 2 returned');
    });
    await sleep(0);
    events.push(`got ${await q.get()}`);
    await putter.join();
    expect(events).toEqual(['got 1', 'put 2 returned']);
  });
});

describe('deadlock detection', () => {
  /** `a` holds a lock and joins `b`; `b` waits for the same lock, through `acquire`. */
  async function holdAndJoin(acquire: (lock: Lock) => Promise<unknown>) {
    const lock = new Lock();
    let b!: ReturnType<typeof spawn<[], string>>;
    const a = spawn(async () => {
      await lock.acquire();
      try {
        b = spawn(async () => {
          await acquire(lock);
          lock.release();
          return 'acquired';
        });
        await sleep(0); // b starts and parks on the lock
        return await b.join();
      } finally {
        lock.release();
      }
    });
    await a.join();
    return { a, b };
  }

  it('a wait bounded by a Timeout of its greenlet closes no cycle (no false DeadlockError)', async () => {
    captureErrors.install();
    const { a, b } = await holdAndJoin(async (lock) => {
      const t = Timeout.start(20);
      try {
        await lock.acquire();
      } finally {
        t.cancel();
      }
    });
    expect(a.exception).toBeUndefined();
    expect(a.value).toBe(true);
    await b.join();
    expect(b.exception).toBeInstanceOf(Timeout);
  });

  it('withTimeout around the wait is a bound too', async () => {
    captureErrors.install();
    const { a, b } = await holdAndJoin((lock) => withTimeout(20, () => lock.acquire()));
    expect(a.value).toBe(true);
    await b.join();
    expect(b.exception).toBeInstanceOf(Timeout);
  });

  it('the same cycle without a Timeout is still refused', async () => {
    captureErrors.install();
    const { a, b } = await holdAndJoin((lock) => lock.acquire());
    await expect(a.get()).rejects.toBeInstanceOf(DeadlockError);
    await b.join();
    expect(b.value).toBe('acquired');
  });
});
