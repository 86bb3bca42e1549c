import { once } from 'node:events';
import { type AddressInfo, connect, createServer } from 'node:net';
import { Event, InvalidArgumentTypeError, Lock, spawn } from 'greenhub';
import {
  ClosureError,
  SharedEvent,
  ThreadPool,
  UncloneableError,
  WorkerCrashError,
} from 'greenhub/threadpool';
import { afterAll, describe, expect, it } from 'vitest';
// The wire format is unit-tested from the sources (the same module the workers run, built).
import { PoolFull as SourcePoolFull } from '../../src/errors.js';
import { fromWire, toWire } from '../../src/threadpool/wire-errors.js';
import { runNode } from '../helpers.js';
import { flags, ref, until } from './helpers.js';

const pool = new ThreadPool({ maxThreads: 2, name: 'failures' });
afterAll(() => pool.close());

async function rejection(promise: Promise<unknown>): Promise<Record<string, unknown> & Error> {
  try {
    await promise;
  } catch (error) {
    return error as Record<string, unknown> & Error;
  }
  throw new Error('expected a rejection');
}

describe("a task's error", () => {
  it('arrives with its class, name, message, stack, code, cause and own properties', async () => {
    const error = await rejection(pool.apply(ref('fail'), 'range'));
    expect(error).toBeInstanceOf(RangeError);
    expect(error.name).toBe('RangeError');
    expect(error.message).toBe('out of range');
    expect(error.code).toBe('E_RANGE');
    expect(error.detail).toEqual({ limit: 10 });
    expect(error.stack).toMatch(/^RangeError: out of range\n\s+at fail \(.*tasks\.mjs/);
    expect(error.cause).toBeInstanceOf(Error);
    expect((error.cause as Error).message).toBe('root cause');
  });

  it('of a user class keeps its name and code (an Error: the class itself cannot cross)', async () => {
    const error = await rejection(pool.apply(ref('fail'), 'custom'));
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('ValidationError');
    expect(error.code).toBe('E_INVALID');
    expect(String(error)).toBe('ValidationError: bad input');
  });

  it('an AggregateError keeps its errors; a thrown string stays a string', async () => {
    const aggregate = await rejection(pool.apply(ref('fail'), 'aggregate'));
    expect(aggregate).toBeInstanceOf(AggregateError);
    expect((aggregate as unknown as AggregateError).errors.map(String)).toEqual([
      'TypeError: one',
      'Error: two',
    ]);
    await expect(pool.apply(ref('fail'), 'string')).rejects.toBe('just a string');
  });

  it('a thrown null or undefined arrives as itself, through apply(), run() and map()', async () => {
    await expect(pool.apply(ref('throwNothing'), 'null')).rejects.toBe(null);
    await expect(pool.apply(ref('throwNothing'), 'undefined')).rejects.toBe(undefined);
    await expect(pool.apply(ref('throwNothing'), 'reject')).rejects.toBe(undefined);
    await expect(
      pool.run(() => {
        throw null;
      }),
    ).rejects.toBe(null);
    await expect(pool.run(() => Promise.reject())).rejects.toBe(undefined);
    await expect(pool.map(ref('throwNothing'), ['null'])).rejects.toBe(null);
    await expect(pool.map(ref('throwNothing'), ['reject'])).rejects.toBe(undefined);
    expect(await pool.apply(ref('add'), 1, 1)).toBe(2);
  });

  it('a greenhub error thrown in a worker comes back as the same class', () => {
    const rebuilt = fromWire(toWire(new SourcePoolFull('nested pool is full')));
    expect(rebuilt).toBeInstanceOf(SourcePoolFull);
    expect((rebuilt as SourcePoolFull).code).toBe('ERR_GREENHUB_POOL_FULL');
  });

  it('taking an error apart survives cycles, throwing getters and uncloneable properties', () => {
    const error = new Error('odd') as Error & Record<string, unknown>;
    error.cause = error; // a cycle
    error.socket = { write: () => {} };
    Object.defineProperty(error, 'broken', {
      enumerable: true,
      get() {
        throw new Error('getter');
      },
    });
    const wire = toWire(error);
    expect(() => structuredClone(wire)).not.toThrow();
    const rebuilt = fromWire(structuredClone(wire)) as Error & Record<string, unknown>;
    expect(rebuilt.message).toBe('odd');
    expect(rebuilt.socket).toMatch(/cannot cross threads/);
  });
});

describe('a crashing worker', () => {
  it('process.exit() fails only its own task, says so, and leaves no zombie thread', async () => {
    const local = new ThreadPool({ maxThreads: 2 });
    const mark = flags();
    const bystander = local.spawn(ref('markStarted'), mark.buffer, 100);
    await until(mark.view, 1);
    const error = await rejection(local.apply(ref('exit'), 3));
    expect(error).toBeInstanceOf(WorkerCrashError);
    expect(error).toMatchObject({ reason: 'exit', exitCode: 3, code: 'ERR_GREENHUB_WORKER_CRASHED' });
    expect(error.message).toMatch(
      /exited with code 3 while running it .*process\.exit\(\).*Only this task failed/,
    );
    expect(await bystander.get()).toBe('done');
    expect(await local.apply(ref('add'), 1, 1)).toBe(2);
    expect(local.stats().threads).toBeLessThanOrEqual(2);
    expect(local.stats().tasks.crashed).toBe(1);
    await local.close();
    expect(local.stats().threads).toBe(0);
  });

  it('an exception thrown outside the task (in a timer) fails that task as "uncaught"', async () => {
    const error = await rejection(pool.apply(ref('throwLater'), 'from a timer'));
    expect(error).toBeInstanceOf(WorkerCrashError);
    expect(error.reason).toBe('uncaught');
    expect(error.message).toMatch(/uncaught exception .*TypeError: from a timer/);
    expect((error.cause as Error).message).toBe('from a timer');
  });

  it('running out of memory under resourceLimits fails the task as "out-of-memory"', async () => {
    const local = new ThreadPool({ maxThreads: 1, resourceLimits: { maxOldGenerationSizeMb: 16 } });
    const error = await rejection(local.apply(ref('exhaustMemory')));
    expect(error).toBeInstanceOf(WorkerCrashError);
    expect(error.reason).toBe('out-of-memory');
    expect(error.message).toMatch(/ran out of memory \(resourceLimits: \{"maxOldGenerationSizeMb":16\}\)/);
    expect(await local.apply(ref('add'), 1, 1)).toBe(2); // replaced
    await local.close();
  }, 15_000);

  it('tasks queued behind a crash still run, even with minThreads 0 (piscina would stall them)', async () => {
    const local = new ThreadPool({ maxThreads: 1, minThreads: 0 });
    const crash = local.apply(ref('exit'), 1);
    const queued = local.apply(ref('add'), 2, 3);
    await expect(crash).rejects.toBeInstanceOf(WorkerCrashError);
    expect(await queued).toBe(5);
    await local.close();
  });

  it('code a finished task left behind runs at the next task; if it throws, that task fails, nothing else', async () => {
    // piscina parks an idle thread in Atomics.wait (its fastest mode), so timers a task left running
    // only fire once the thread has work again.
    const local = new ThreadPool({ maxThreads: 1 });
    expect(await local.apply(ref('throwAfterReturning'), 'left behind')).toBe('returned');
    const error = await rejection(local.apply(ref('delayed'), 50));
    expect(error).toBeInstanceOf(WorkerCrashError);
    expect(error.message).toMatch(/uncaught exception thrown outside the task's own call stack.*left behind/);
    expect(await local.apply(ref('add'), 1, 1)).toBe(2);
    await local.close();
  });
});

describe('arguments and results that cannot cross threads', () => {
  it('a function argument fails at once, naming the argument and its type', () => {
    const call = () => pool.spawn(ref('echo'), function onDone() {});
    expect(call).toThrow(UncloneableError);
    expect(call).toThrow(
      /argument 0 of task echo \(tasks\.mjs\) cannot be sent to a worker thread: it is a function `onDone`/,
    );
  });

  it('a nested uncloneable value is located by its path', async () => {
    const error = await rejection(pool.apply(ref('echo'), { user: { name: 'x', id: Symbol('id') } }));
    expect(error).toBeInstanceOf(UncloneableError);
    expect(error).toMatchObject({ path: 'args[0].user.id', valueType: 'symbol' });
    expect(error.message).toMatch(/`args\[0\]\.user\.id` is a symbol/);
  });

  it('an argument whose getter throws is named by the getter’s path, with what it threw', async () => {
    const plain = {
      id: 1,
      get secret(): string {
        throw new Error('no access');
      },
    };
    const error = await rejection(pool.apply(ref('echo'), { user: plain }));
    expect(error).toBeInstanceOf(UncloneableError);
    expect(error).toMatchObject({ path: 'args[0].user.secret', valueType: 'getter' });
    expect(error.message).toMatch(
      /ThreadPool\.apply\(\): argument 0 of task echo \(tasks\.mjs\) cannot be sent .*`args\[0\]\.user\.secret` has a getter that throws Error: no access/,
    );
    const thrownNull = {
      get x(): never {
        throw null;
      },
    };
    expect(await rejection(pool.run((_a: number, b: unknown) => b, 1, thrownNull))).toMatchObject({
      path: 'args[1].x',
      message: expect.stringMatching(/`args\[1\]\.x` has a getter that throws null/),
    });
  });

  it('a Proxy argument fails only its call, named, even when its traps throw', async () => {
    const hostile = new Proxy(
      { a: 1 },
      {
        ownKeys() {
          throw new Error('no keys');
        },
        get() {
          throw new Error('no reads');
        },
      },
    );
    const error = await rejection(pool.run((x: unknown) => x, { inner: [hostile] }));
    expect(error).toBeInstanceOf(UncloneableError);
    expect(error).toMatchObject({ path: 'args[0].inner[0]', valueType: 'Proxy' });
    expect(error.message).toMatch(/`args\[0\]\.inner\[0\]` is a Proxy/);
    expect(await pool.apply(ref('add'), 2, 2)).toBe(4);
  });

  it('an argument nested too deep for structured clone names the argument and its depth', async () => {
    let deep: unknown[] = [];
    for (let i = 0; i < 200_000; i++) deep = [deep];
    const error = await rejection(pool.run((_a: string, b: unknown) => b, 'fine', deep));
    expect(error).toBeInstanceOf(UncloneableError);
    expect(error).toMatchObject({ path: 'args[1]' });
    expect(error.message).toMatch(
      /`args\[1\]` is nested 200001 levels deep, too deep for structured clone \(RangeError/,
    );
  });

  it('a socket inside an argument is named by its class, with the part that refused', async () => {
    const server = createServer((socket) => socket.end()).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    await once(socket, 'connect');
    try {
      const error = await rejection(pool.apply(ref('echo'), { conn: socket }));
      expect(error).toMatchObject({ path: 'args[0].conn', valueType: 'Socket' });
      expect(error.message).toMatch(/`args\[0\]\.conn` is a Socket \(its `.+` is a .+\)/);
    } finally {
      socket.destroy();
      server.close();
    }
  });

  it('a hub primitive is refused (it would arrive as a lifeless copy), with the Shared one to use', async () => {
    expect(() => pool.spawn(ref('echo'), new Event())).toThrow(
      /argument 0 is a greenhub Event.*Share a SharedEvent/,
    );
    expect(() => pool.spawn(ref('echo'), new Lock())).toThrow(/greenhub Lock.*SharedLock/);
    expect(() =>
      pool.spawn(
        ref('echo'),
        spawn(() => 1),
      ),
    ).toThrow(/greenhub Greenlet.*Pass plain data instead/);
    expect(await pool.apply(ref('add'), 1, 1)).toBe(2);
  });

  it('a Shared primitive crosses as itself', async () => {
    const event = new SharedEvent();
    const copy = (await pool.apply(ref('echo'), event)) as unknown as Record<string, unknown>;
    expect(copy.buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  it("a return value that cannot be sent back fails with the value's path", async () => {
    const error = await rejection(pool.apply(ref('returnFunction')));
    expect(error).toBeInstanceOf(UncloneableError);
    expect(error.message).toMatch(/return value cannot be sent back .*`result\.callback` is a function/);
    expect(await pool.apply(ref('add'), 1, 1)).toBe(2);
  });

  it('move() transfers buffers both ways instead of copying them', async () => {
    const { move } = await import('greenhub/threadpool');
    const made = (await pool.apply(ref('makeBuffer'), 1024)) as unknown as Uint8Array;
    expect(made.byteLength).toBe(1024);
    expect(made[0]).toBe(7);
    const buffer = new Uint8Array(64);
    expect(await pool.apply(ref('byteLength'), move(buffer))).toBe(64);
    expect(buffer.byteLength).toBe(0); // moved away
  });
});

describe('ThreadPool.run()', () => {
  it('names a variable the function closed over, and says why it is missing', async () => {
    const factor = 3;
    const error = await rejection(pool.run((x: number) => x * factor, 2));
    expect(error).toBeInstanceOf(ClosureError);
    expect(error.variable).toBe('factor');
    expect(error.message).toMatch(/uses `factor`, a variable from its surroundings.*Pass it as an argument/);
    expect(await pool.run((x: number, f: number) => x * f, 2, factor)).toBe(6);
  });

  it('refuses what has no usable source: native and bound functions, classes', async () => {
    await expect(pool.run(Math.max, 1, 2)).rejects.toBeInstanceOf(InvalidArgumentTypeError);
    await expect(pool.run(((x: number) => x).bind(null), 1)).rejects.toThrow(/a native or bound function/);
    await expect(pool.run(class Point {} as never)).rejects.toThrow(/a class/);
  });
});

describe('who hears about a failed call', () => {
  it('a dropped call that fails is an unhandled rejection, an awaited one is not; none is reported twice', async () => {
    // Process-wide events: observed in a process of its own.
    const { code, stdout, stderr } = await runNode({
      file: 'test/threadpool/scenarios/rejections.mjs',
      timeoutMs: 20_000,
    });
    expect(stdout.trim().split('\n')).toEqual([
      'caught Error',
      'unhandledRejection RangeError: out of range',
      'unhandledRejection Error: aborted before the call',
      'done',
    ]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});
