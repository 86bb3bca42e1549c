import { describe, expect, it } from 'vitest';
import {
  Channel,
  InvalidArgumentValueError,
  InvalidStateError,
  JoinableQueue,
  LifoQueue,
  PriorityQueue,
  Queue,
  QueueEmpty,
  QueueFull,
  QueueShutDown,
  sleep,
  spawn,
} from '../../src/index.js';

describe('Queue', () => {
  it('is FIFO', async () => {
    const q = new Queue<number>();
    for (const n of [1, 2, 3]) await q.put(n);
    expect([await q.get(), await q.get(), await q.get()]).toEqual([1, 2, 3]);
  });

  it('get() waits for an item; put() hands it directly to the first waiting getter', async () => {
    const q = new Queue<string>();
    const first = spawn(() => q.get());
    const second = spawn(() => q.get());
    await sleep(0);
    q.putNowait('a');
    q.putNowait('b');
    expect(q.qsize()).toBe(0);
    expect([await first.get(), await second.get()]).toEqual(['a', 'b']);
  });

  it('put() waits while full (backpressure) and resumes when a slot frees', async () => {
    const q = new Queue<number>(1);
    await q.put(1);
    expect(q.full()).toBe(true);
    const putter = spawn(() => q.put(2));
    await sleep(0);
    expect(putter.dead).toBe(false);
    expect(await q.get()).toBe(1);
    await putter.join();
    expect(await q.get()).toBe(2);
  });

  it('a getter that times out takes nothing: the next item goes to the next getter', async () => {
    const q = new Queue<number>();
    await expect(q.get({ timeout: 5 })).rejects.toBeInstanceOf(QueueEmpty);
    const getter = spawn(() => q.get());
    await sleep(0);
    q.putNowait(7);
    expect(await getter.get()).toBe(7);
  });

  it('a getter killed while waiting loses no item', async () => {
    const q = new Queue<number>();
    const doomed = spawn(() => q.get());
    const survivor = spawn(() => q.get());
    await sleep(0);
    await doomed.kill();
    q.putNowait(1);
    expect(await survivor.get()).toBe(1);
  });

  it('an item handed to a getter stays delivered even when a kill lands in the same turn', async () => {
    const q = new Queue<number>();
    const received: number[] = [];
    const getter = spawn(async () => {
      received.push(await q.get());
      await sleep(0); // the kill arrives here
    });
    await sleep(0);
    q.putNowait(5);
    await getter.kill();
    expect(received).toEqual([5]);
    expect(q.qsize()).toBe(0);
  });

  it('a putter that times out or is killed did not add its item', async () => {
    const q = new Queue<string>(1);
    q.putNowait('kept');
    await expect(q.put('timed out', { timeout: 5 })).rejects.toBeInstanceOf(QueueFull);
    const killed = spawn(() => q.put('killed'));
    const waiting = spawn(() => q.put('waiting'));
    await sleep(0);
    await killed.kill();
    expect(await q.get()).toBe('kept');
    await waiting.join();
    expect(await q.get()).toBe('waiting');
    expect(q.qsize()).toBe(0);
  });

  it('putNowait/getNowait/peekNowait throw instead of waiting and are not checkpoints', () => {
    const q = new Queue<number>(1);
    expect(() => q.getNowait()).toThrow(QueueEmpty);
    expect(() => q.peekNowait()).toThrow(QueueEmpty);
    q.putNowait(1);
    expect(() => q.putNowait(2)).toThrow(QueueFull);
    expect(q.peekNowait()).toBe(1);
    expect(q.getNowait()).toBe(1);
  });

  it('peek() waits for an item without taking it', async () => {
    const q = new Queue<string>();
    const peeker = spawn(() => q.peek());
    await sleep(0);
    q.putNowait('x');
    expect(await peeker.get()).toBe('x');
    expect(q.qsize()).toBe(1);
  });

  it('shutdown(): put fails, get drains what is left then fails, waiting getters fail', async () => {
    const q = new Queue<number>();
    const waiting = spawn(() => q.get());
    await sleep(0);
    expect(q.shutdown()).toEqual([]);
    await expect(waiting.get()).rejects.toBeInstanceOf(QueueShutDown);
    const drained = new Queue<number>();
    drained.putNowait(1);
    drained.shutdown();
    await expect(drained.put(2)).rejects.toBeInstanceOf(QueueShutDown);
    expect(await drained.get()).toBe(1);
    await expect(drained.get()).rejects.toBeInstanceOf(QueueShutDown);
    expect(drained.isShutDown).toBe(true);
  });

  it('shutdown({ immediate: true }) returns the discarded items and fails blocked putters', async () => {
    const q = new Queue<number>(2);
    q.putNowait(1);
    q.putNowait(2);
    const blocked = spawn(() => q.put(3));
    await sleep(0);
    expect(q.shutdown({ immediate: true })).toEqual([1, 2]);
    await expect(blocked.get()).rejects.toBeInstanceOf(QueueShutDown);
    expect(q.qsize()).toBe(0);
  });

  it('`for await` yields items until the queue is shut down and drained', async () => {
    const q = new Queue<number>();
    const consumer = spawn(async () => {
      const seen: number[] = [];
      for await (const n of q) seen.push(n);
      return seen;
    });
    for (const n of [1, 2, 3]) await q.put(n);
    q.shutdown();
    expect(await consumer.get()).toEqual([1, 2, 3]);
  });

  it('counts unfinished tasks: join() waits until taskDone() was called for each item', async () => {
    const q = new JoinableQueue<number>();
    q.putNowait(1);
    q.putNowait(2);
    expect(q.unfinishedTasks).toBe(2);
    const joiner = spawn(() => q.join());
    await sleep(0);
    await q.get();
    q.taskDone();
    expect(joiner.dead).toBe(false);
    await q.get();
    q.taskDone();
    expect(await joiner.get()).toBe(true);
    expect(() => q.taskDone()).toThrow(InvalidStateError);
  });

  it('rejects a bad maxsize and unknown options', async () => {
    expect(() => new Queue(-1)).toThrow(InvalidArgumentValueError);
    expect(() => new Queue(2.5)).toThrow(/`maxsize`/);
    const q = new Queue();
    expect(() => q.get({ wait: true } as never)).toThrow(/unknown option `opts.wait`/);
    expect(() => q.put(1, { timeout: -1 })).toThrow(InvalidArgumentValueError);
    expect(new Queue(0).maxsize).toBeNull(); // 0 means unbounded, as in Python
  });
});

describe('LifoQueue and PriorityQueue', () => {
  it('LifoQueue returns the newest item first', () => {
    const q = new LifoQueue<number>();
    for (const n of [1, 2, 3]) q.putNowait(n);
    expect([q.getNowait(), q.getNowait(), q.getNowait()]).toEqual([3, 2, 1]);
  });

  it('PriorityQueue returns the smallest first, compares arrays like tuples, keeps FIFO among equals', () => {
    const q = new PriorityQueue<[number, string]>();
    q.putNowait([2, 'b']);
    q.putNowait([1, 'z']);
    q.putNowait([1, 'a']);
    expect([q.getNowait(), q.getNowait(), q.getNowait()]).toEqual([
      [1, 'a'],
      [1, 'z'],
      [2, 'b'],
    ]);
    const byPriority = new PriorityQueue<{ p: number; id: string }>(null, (x, y) => x.p - y.p);
    for (const id of ['first', 'second', 'third']) byPriority.putNowait({ p: 1, id });
    expect([byPriority.getNowait().id, byPriority.getNowait().id, byPriority.getNowait().id]).toEqual([
      'first',
      'second',
      'third',
    ]);
    expect(() => new PriorityQueue(null, 'desc' as never)).toThrow(/`compare` to be a function/);
  });
});

describe('Channel', () => {
  it('is a rendezvous: put() completes only when a getter takes the item', async () => {
    const ch = new Channel<string>();
    const events: string[] = [];
    const producer = spawn(async () => {
      events.push('put start');
      await ch.put('ping');
      events.push('put done');
    });
    await sleep(0);
    expect(events).toEqual(['put start']);
    expect(ch.qsize()).toBe(1);
    expect(ch.full()).toBe(true);
    await sleep(5);
    expect(events).toEqual(['put start']); // still waiting for a taker
    events.push('get called');
    expect(await ch.get()).toBe('ping');
    await producer.join();
    expect(events).toEqual(['put start', 'get called', 'put done']);
  });

  it('a waiting getter takes the next put at once; putNowait without a getter fails', async () => {
    const ch = new Channel<number>();
    expect(() => ch.putNowait(1)).toThrow(QueueFull);
    const getter = spawn(() => ch.get());
    await sleep(0);
    expect(ch.full()).toBe(false);
    ch.putNowait(9);
    expect(await getter.get()).toBe(9);
    expect(ch.maxsize).toBe(0);
  });

  it('a putter killed while waiting withdraws its item', async () => {
    const ch = new Channel<string>();
    const killed = spawn(() => ch.put('withdrawn'));
    const kept = spawn(() => ch.put('kept'));
    await sleep(0);
    await killed.kill();
    expect(await ch.get()).toBe('kept');
    await kept.join();
    await expect(ch.get({ timeout: 1 })).rejects.toBeInstanceOf(QueueEmpty);
  });
});
