/**
 * Fault injection in the thread pool: whatever a task does wrong, its caller gets an error that
 * says what happened, and the pool is left as it was. After every fault the same four checks run
 * (`expectRecovered`):
 *
 * 1. the pool serves a new task;
 * 2. its thread count is within [minThreads, maxThreads], nothing is in flight or queued;
 * 3. after `close()` the pool reports no thread, and
 * 4. the process has no OS thread more than before the pool started (a worker left behind is a
 *    thread that never exits; Linux lists threads in /proc/self/task, elsewhere this check is off).
 *
 * The faults one by one (throw, a throw of `null` or `undefined`, process.exit, resourceLimits, a task
 * that never ends, an uncloneable result, arguments that fail to clone on their way out) are also covered in test/threadpool/failures.test.ts and cancellation.test.ts
 * for their error details; here each one ends with the same recovery checks, and an abort storm
 * kills 1,000 tasks while they queue and run.
 */
import { existsSync, readdirSync } from 'node:fs';
import { type Greenlet, GreenletExit, getHub, joinAll, sleep, Timeout, withTimeout } from 'greenhub';
import { ThreadPool, type ThreadPoolOptions, UncloneableError, WorkerCrashError } from 'greenhub/threadpool';
import { describe, expect, it } from 'vitest';
import { runNode } from '../helpers.js';
import { flags, ref } from '../threadpool/helpers.js';

const TASKS_DIR = '/proc/self/task';
const canCountThreads = existsSync(TASKS_DIR);
const osThreads = (): number => (canCountThreads ? readdirSync(TASKS_DIR).length : 0);

/** Poll `condition` every 10 ms until it holds or `limitMs` passed; returns its last value. */
async function eventually(condition: () => boolean, limitMs = 5_000): Promise<boolean> {
  const end = performance.now() + limitMs;
  while (!condition() && performance.now() < end) await sleep(10);
  return condition();
}

/** A pool under test, with the OS thread count taken before it started. */
function newPool(opts: ThreadPoolOptions): { pool: ThreadPool; threadsBefore: number } {
  const threadsBefore = osThreads();
  return { pool: new ThreadPool({ minThreads: 1, maxThreads: 2, cancelGrace: 100, ...opts }), threadsBefore };
}

async function expectRecovered(pool: ThreadPool, threadsBefore: number): Promise<void> {
  expect(await pool.apply(ref('add'), 20, 22), 'the pool serves a new task').toBe(42);
  // A cancelled task that ignores its cancellation stays in flight until its thread is terminated,
  // cancelGrace after the cancel.
  expect(await eventually(() => pool.stats().inFlight === 0), 'every task left the pool').toBe(true);
  const stats = pool.stats();
  expect(stats.threads).toBeGreaterThanOrEqual(stats.minThreads);
  expect(stats.threads).toBeLessThanOrEqual(stats.maxThreads);
  expect({ inFlight: stats.inFlight, queued: stats.queued }).toEqual({ inFlight: 0, queued: 0 });
  await pool.close();
  expect(pool.stats().threads).toBe(0);
  // A joined worker's OS thread may take a moment to disappear from the list: poll, bounded.
  if (canCountThreads) {
    expect(await eventually(() => osThreads() <= threadsBefore), 'no worker thread left behind').toBe(true);
  }
  expect(getHub().stats().greenlets.live).toBe(0);
}

async function rejection(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error('expected a rejection');
}

describe('a pool recovers from every fault of a task', () => {
  it('a task that throws: the caller gets its error, rebuilt; the pool goes on', async () => {
    const { pool, threadsBefore } = newPool({});
    const error = await rejection(pool.apply(ref('fail'), 'range'));
    expect(error).toBeInstanceOf(RangeError);
    expect(error).toMatchObject({ message: 'out of range', code: 'E_RANGE' });
    expect(pool.stats().tasks.error).toBe(1);
    await expectRecovered(pool, threadsBefore);
  });

  it('a task that throws null, undefined, or rejects with nothing: the caller gets exactly that value', async () => {
    const { pool, threadsBefore } = newPool({});
    await expect(pool.apply(ref('throwNothing'), 'null')).rejects.toBe(null);
    await expect(pool.apply(ref('throwNothing'), 'undefined')).rejects.toBe(undefined);
    await expect(pool.apply(ref('throwNothing'), 'reject')).rejects.toBe(undefined);
    expect(pool.stats().tasks).toMatchObject({ error: 3, crashed: 0 });
    await expectRecovered(pool, threadsBefore);
  });

  it('a spawned task that fails before its greenlet started (warm pool): no unhandled rejection, no warning', async () => {
    // Process-wide events: observed in a process of its own (test/threadpool/scenarios/).
    const { code, stdout, stderr } = await runNode({
      file: 'test/threadpool/scenarios/spawn-failure.mjs',
      timeoutMs: 20_000,
    });
    expect(stdout.trim().split('\n')).toEqual([
      'warm 3',
      ...[0, 1, 2, 3, 4].map((round) => `joined Error: x${round}`),
      'tasks {"ok":1,"error":5,"cancelled":0,"crashed":0}',
    ]);
    expect(stderr).not.toMatch(/Unhandled|PromiseRejectionHandledWarning/);
    expect(code).toBe(0);
  });

  it('an argument that fails to clone on its way out (throwing getter, Proxy, 200k deep): UncloneableError, no thread harmed', async () => {
    const { pool, threadsBefore } = newPool({ maxThreads: 1 });
    const thread = await pool.apply(ref('threadId'));
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 200_000; i++) deep = { a: deep };
    const bad: [unknown, RegExp][] = [
      [
        {
          x: {
            get y(): number {
              throw new Error('boom');
            },
          },
        },
        /`args\[0\]\.x\.y` has a getter that throws Error: boom/,
      ],
      [
        new Proxy(
          {},
          {
            ownKeys() {
              throw new Error('no keys');
            },
          },
        ),
        /`args\[0\]` is a Proxy/,
      ],
      [deep, /`args\[0\]` is nested 200001 levels deep, too deep for structured clone/],
    ];
    for (const [arg, message] of bad) {
      const error = await rejection(pool.apply(ref('echo'), arg));
      expect(error).toBeInstanceOf(UncloneableError);
      expect(error.message).toMatch(message);
    }
    expect(pool.stats().tasks).toMatchObject({ error: 3, crashed: 0 });
    expect(await pool.apply(ref('threadId')), 'the same thread serves: none was replaced').toBe(thread);
    expect(pool.stats().terminatedThreads).toBe(0);
    await expectRecovered(pool, threadsBefore);
  });

  it('a task that calls process.exit(): WorkerCrashError with the exit code; the thread is replaced', async () => {
    const { pool, threadsBefore } = newPool({});
    const error = await rejection(pool.apply(ref('exit'), 9));
    expect(error).toBeInstanceOf(WorkerCrashError);
    expect(error).toMatchObject({ code: 'ERR_GREENHUB_WORKER_CRASHED', reason: 'exit', exitCode: 9 });
    expect(error.message).toMatch(/exited with code 9/);
    await expectRecovered(pool, threadsBefore);
  });

  it('a task that exhausts resourceLimits: WorkerCrashError "out-of-memory" naming the limits', async () => {
    const { pool, threadsBefore } = newPool({ resourceLimits: { maxOldGenerationSizeMb: 16 } });
    const error = await rejection(pool.apply(ref('exhaustMemory')));
    expect(error).toBeInstanceOf(WorkerCrashError);
    expect(error).toMatchObject({ code: 'ERR_GREENHUB_WORKER_CRASHED', reason: 'out-of-memory' });
    expect(error.message).toMatch(/ran out of memory \(resourceLimits: \{"maxOldGenerationSizeMb":16\}\)/);
    await expectRecovered(pool, threadsBefore);
  }, 15_000);

  it('a task that never ends: the caller’s Timeout fires at once, the thread is terminated after cancelGrace', async () => {
    const { pool, threadsBefore } = newPool({});
    const mark = flags();
    const start = performance.now();
    const error = await rejection(
      withTimeout(200, () => pool.apply(ref('holdIgnoringCancel'), mark.buffer, 600_000)),
    );
    expect(error).toBeInstanceOf(Timeout);
    expect(Atomics.load(mark.view, 1), 'the task did start').toBe(1);
    expect(performance.now() - start).toBeLessThan(5_000);
    expect(pool.stats().tasks.cancelled).toBe(1);
    await expectRecovered(pool, threadsBefore);
    expect(pool.stats().terminatedThreads).toBe(1);
  });

  it('a task whose result cannot be cloned: UncloneableError with the path of the culprit', async () => {
    const { pool, threadsBefore } = newPool({});
    const error = await rejection(pool.apply(ref('returnFunction')));
    expect(error).toBeInstanceOf(UncloneableError);
    expect(error).toMatchObject({ code: 'ERR_GREENHUB_UNCLONEABLE' });
    expect(error.message).toMatch(/`result\.callback` is a function/);
    await expectRecovered(pool, threadsBefore);
  });
});

describe('an abort storm', () => {
  it('1,000 kills while tasks queue and run: every caller sees its kill, the pool still serves', async () => {
    const { pool, threadsBefore } = newPool({ cancelGrace: 50 });
    const startedAt = performance.now();
    const greenlets: Greenlet[] = [];
    const started: (Int32Array | null)[] = [];
    for (let i = 0; i < 1_000; i++) {
      // Three kinds of task: cooperative (a checkpoint loop), ignoring cancellation (its thread is
      // terminated after the grace), both marking their start; and short ones that may finish
      // before their kill.
      const mark = flags();
      const kind = i % 3;
      started.push(kind === 2 ? null : mark.view);
      if (kind === 0) greenlets.push(pool.spawn(ref('spinUntilCancelled'), mark.buffer));
      else if (kind === 1) greenlets.push(pool.spawn(ref('holdIgnoringCancel'), mark.buffer, 600_000));
      else greenlets.push(pool.spawn(ref('add'), i, 1));
    }
    const killed = new Set<number>();
    const running = (): number[] =>
      started.flatMap((view, i) =>
        view !== null && !killed.has(i) && Atomics.load(view, 1) === 1 ? [i] : [],
      );
    const longLeft = (): boolean => started.some((view, i) => view !== null && !killed.has(i));
    let killedRunning = 0;
    // Waves: wait until tasks not yet killed run on the threads, then kill those running ones and
    // the next 50 (queued) in one go, so that every wave hits running and queued tasks alike.
    for (let next = 0; killed.size < 1_000; ) {
      expect(await eventually(() => running().length > 0 || !longLeft(), 10_000), 'a task runs').toBe(true);
      const wave = running();
      const runningNow = wave.length;
      killedRunning += runningNow;
      for (; next < 1_000 && wave.length < runningNow + 50; next++) if (!killed.has(next)) wave.push(next);
      for (const i of wave) {
        if (killed.has(i)) continue;
        killed.add(i);
        greenlets[i]!.kill({ block: false });
      }
    }
    const ended = await joinAll(greenlets, { timeout: 20_000 });
    const stormMs = performance.now() - startedAt;
    expect(ended.length, 'every greenlet ended').toBe(1_000);
    for (const [i, g] of greenlets.entries()) {
      // Either the kill won (GreenletExit), or the short task finished first with its value.
      if (g.value instanceof GreenletExit) continue;
      expect(i % 3, `greenlet ${i} ended with ${String(g.exception ?? g.value)}`).toBe(2);
      expect(g.value).toBe(i + 1);
    }
    const { tasks } = pool.stats();
    expect(tasks.ok + tasks.cancelled, 'every task accounted for').toBe(1_000);
    expect(tasks.error + tasks.crashed).toBe(0);
    expect(killedRunning, 'kills hit running tasks, not only queued ones').toBeGreaterThanOrEqual(10);
    console.log(
      `abort storm: ${Math.round(stormMs)} ms, ${JSON.stringify(pool.stats().tasks)}, terminated threads ${pool.stats().terminatedThreads}, running when killed ${killedRunning}`,
    );
    expect(stormMs).toBeLessThan(20_000);
    await expectRecovered(pool, threadsBefore);
  }, 30_000);
});
