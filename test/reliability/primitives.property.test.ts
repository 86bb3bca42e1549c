/**
 * Property-based tests: random interleavings of spawn, put/get, acquire/release, set/wait, kill and
 * Timeout across many greenlets, checked against invariants that must hold whatever the schedule:
 *
 * - no queue item is lost or duplicated, and an item whose put failed appears nowhere;
 * - a Semaphore never has more holders than permits, grants in request order, and ends full;
 * - every waiter ends (value, Timeout, kill or shutdown) — none hangs;
 * - `hub.stats()` returns to its baseline: no live greenlet, no parked waiter.
 *
 * Scheduling is driven by `sleep(0)` turns (the hub runs greenlets in a fixed FIFO order), so a
 * failing seed replays the same interleaving; the few real timers (Timeouts) add timing variety.
 * A failing case prints its seed and path: add it to REGRESSIONS below so it runs forever after.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Event,
  type Greenlet,
  getHub,
  type HubStats,
  joinAll,
  Queue,
  QueueEmpty,
  QueueFull,
  QueueShutDown,
  Semaphore,
  sleep,
  spawn,
  Timeout,
} from '../../src/index.js';
import { captureErrors } from '../helpers.js';

afterEach(() => captureErrors.restore());

/**
 * Seeds (and paths) that once failed; each is replayed before the random runs of every property.
 * When a property fails, fast-check's message carries `{ seed: …, path: "…" }`: add them here.
 */
const REGRESSIONS: Regression[] = [];

interface Regression {
  seed: number;
  path?: string;
}

const RUNS = Number(process.env.GREENHUB_PROPERTY_RUNS ?? 200);

/** Run a property: replay recorded regressions first, then random runs. */
async function check<T>(
  arb: fc.Arbitrary<T>,
  body: (value: T) => Promise<void>,
  regressions: readonly Regression[] = REGRESSIONS,
): Promise<void> {
  const property = fc.asyncProperty(arb, body);
  for (const regression of regressions) await fc.assert(property, { ...regression, numRuns: 1 });
  await fc.assert(property, { numRuns: RUNS });
}

async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await sleep(0);
}

/** What a greenlet does between steps: yield some turns, or not. */
const pause = fc.integer({ min: 0, max: 3 });

/** A way for a wait to end early: none, a poll, a short timeout, or a Timeout around it. */
const leave = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  fc.constant({ kind: 'poll' as const }),
  fc.record({ kind: fc.constant('timeout' as const), ms: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant('Timeout' as const), ms: fc.integer({ min: 1, max: 3 }) }),
);
type Leave = typeof leave extends fc.Arbitrary<infer L> ? L : never;

function waitOptions(how: Leave): { timeout?: number } | undefined {
  if (how.kind === 'poll') return { timeout: 0 };
  if (how.kind === 'timeout') return { timeout: how.ms };
  return undefined;
}

/** Run `op` under a Timeout when asked; returns the op's value, or throws what ended it. */
async function withLeave<T>(how: Leave, op: () => Promise<T>): Promise<T> {
  // Both paths `return await`, so that every caller resumes after the same number of microtasks
  // and the order in which results are recorded is the order in which they were granted.
  if (how.kind !== 'Timeout') return await op();
  using _t = Timeout.start(how.ms);
  return await op();
}

/** Kill plans: which greenlet (by index) is killed after how many turns. */
const kills = fc.array(fc.record({ target: fc.nat(), afterTurns: fc.integer({ min: 0, max: 6 }) }), {
  maxLength: 4,
});

async function killAfter(
  greenlets: Greenlet[],
  plan: { target: number; afterTurns: number }[],
): Promise<void> {
  await Promise.all(
    plan.map(async ({ target, afterTurns }) => {
      await turns(afterTurns);
      await greenlets[target % greenlets.length]?.kill({ block: false });
    }),
  );
}

/**
 * The scenario ran to the end: every greenlet finished without an unexpected error (an assertion
 * failing inside a greenlet surfaces here) and the hub is back to its baseline.
 */
async function expectAllEnded(greenlets: Greenlet[], baseline: HubStats): Promise<void> {
  const done = await joinAll(greenlets, { timeout: 2000 });
  expect(done.length, 'every greenlet ends — none hangs').toBe(greenlets.length);
  for (const g of greenlets) if (g.exception !== undefined) throw g.exception;
  const stats = getHub().stats();
  expect(stats.greenlets).toEqual(baseline.greenlets);
  expect(stats.waiters).toBe(baseline.waiters);
}

function isExpectedEnd(error: unknown): boolean {
  return (
    error instanceof Timeout ||
    error instanceof QueueEmpty ||
    error instanceof QueueFull ||
    error instanceof QueueShutDown
  );
}

describe('Queue under random interleavings', () => {
  it('loses no item and duplicates none, whatever leaves on timeout, Timeout or kill', async () => {
    const scenario = fc.record({
      maxsize: fc.oneof(fc.constant(null), fc.integer({ min: 1, max: 4 })),
      producers: fc.array(fc.array(fc.record({ pause, leave }), { minLength: 1, maxLength: 6 }), {
        minLength: 1,
        maxLength: 4,
      }),
      consumers: fc.array(fc.array(fc.record({ pause, leave }), { minLength: 1, maxLength: 8 }), {
        minLength: 1,
        maxLength: 4,
      }),
      kills,
    });
    await check(scenario, async ({ maxsize, producers, consumers, kills: plan }) => {
      captureErrors.install();
      const baseline = getHub().stats();
      const q = new Queue<string>(maxsize);
      const accepted: string[] = [];
      const refused: string[] = [];
      const received: string[] = [];
      const greenlets: Greenlet[] = [];
      producers.forEach((steps, p) => {
        greenlets.push(
          spawn(async () => {
            for (const [i, step] of steps.entries()) {
              await turns(step.pause);
              const item = `p${p}-${i}`;
              try {
                await withLeave(step.leave, () => q.put(item, waitOptions(step.leave)));
                accepted.push(item);
              } catch (error) {
                refused.push(item);
                if (!isExpectedEnd(error)) throw error;
              }
            }
          }),
        );
      });
      for (const steps of consumers) {
        greenlets.push(
          spawn(async () => {
            for (const step of steps) {
              await turns(step.pause);
              try {
                received.push(await withLeave(step.leave, () => q.get(waitOptions(step.leave))));
              } catch (error) {
                if (!isExpectedEnd(error)) throw error;
              }
            }
          }),
        );
      }
      await killAfter(greenlets, plan);
      // End the scenario: greenlets still blocked in put/get are released by the shutdown.
      await turns(8);
      const left = q.shutdown({ immediate: true });
      await expectAllEnded(greenlets, baseline);

      // Every attempted put was either accepted (and then got exactly once, or left in the queue)
      // or refused (and then appears nowhere).
      const everywhere = [...received, ...left];
      expect(new Set(everywhere).size, 'no item duplicated').toBe(everywhere.length);
      expect([...everywhere].sort(), 'no item lost, none invented').toEqual([...accepted].sort());
      for (const item of refused) expect(everywhere).not.toContain(item);
    });
  });
});

describe('Semaphore under random interleavings', () => {
  it('never exceeds its permits, grants in request order, and ends with every permit back', async () => {
    const scenario = fc.record({
      permits: fc.integer({ min: 1, max: 3 }),
      users: fc.array(fc.record({ pause, leave, hold: fc.integer({ min: 0, max: 3 }) }), {
        minLength: 1,
        maxLength: 10,
      }),
      kills,
    });
    await check(scenario, async ({ permits, users, kills: plan }) => {
      captureErrors.install();
      const baseline = getHub().stats();
      const sem = new Semaphore(permits);
      let holders = 0;
      let maxHolders = 0;
      let requests = 0;
      const grants: number[] = [];
      const greenlets = users.map((user) =>
        spawn(async () => {
          await turns(user.pause);
          const ticket = requests++;
          let acquired = false;
          try {
            acquired = await withLeave(user.leave, () => sem.acquire(waitOptions(user.leave)));
          } catch (error) {
            if (!(error instanceof Timeout)) throw error;
          }
          if (!acquired) return;
          grants.push(ticket);
          maxHolders = Math.max(maxHolders, ++holders);
          try {
            await turns(user.hold);
          } finally {
            holders--;
            sem.release();
          }
        }),
      );
      await killAfter(greenlets, plan);
      await expectAllEnded(greenlets, baseline);
      expect(maxHolders).toBeLessThanOrEqual(permits);
      expect(grants, 'FIFO: grants follow request order').toEqual([...grants].sort((a, b) => a - b));
      expect(sem.counter, 'counter conservation').toBe(permits);
      expect(sem._acquirers.size).toBe(0);
    });
  });
});

describe('Event under random interleavings', () => {
  it('every waiter ends: true once set, false after its own timeout, or its Timeout/kill', async () => {
    const scenario = fc.record({
      waiters: fc.array(fc.record({ pause, leave }), { minLength: 1, maxLength: 10 }),
      setAfter: fc.integer({ min: 0, max: 6 }),
      clearAfterSet: fc.boolean(),
      kills,
    });
    await check(scenario, async ({ waiters, setAfter, clearAfterSet, kills: plan }) => {
      captureErrors.install();
      const baseline = getHub().stats();
      const ev = new Event();
      const outcomes: unknown[] = [];
      const greenlets = waiters.map((w) =>
        spawn(async () => {
          await turns(w.pause);
          try {
            const result = await withLeave(w.leave, () => ev.wait(waitOptions(w.leave)?.timeout));
            outcomes.push(result);
            // Waiting with no way out ends with true: the Event is (re)set in every run.
            if (w.leave.kind === 'none') expect(result).toBe(true);
          } catch (error) {
            if (!(error instanceof Timeout)) throw error;
            outcomes.push('Timeout');
          }
        }),
      );
      const setter = spawn(async () => {
        await turns(setAfter);
        ev.set();
        if (clearAfterSet) ev.clear();
      });
      await killAfter(greenlets, plan);
      await setter.join();
      ev.set(); // waiters that started after a clear() are released too
      await expectAllEnded([...greenlets, setter], baseline);
      expect(outcomes.length).toBeLessThanOrEqual(waiters.length);
    });
  });
});

describe('failing seeds', () => {
  /** A property that fails for some inputs only: integers of 500 and more. */
  const failsAbove = async (n: number) => {
    expect(n).toBeLessThan(500);
  };
  const reported = (error: unknown) => {
    const match = /seed: (-?\d+), path: "([\d:]*)"/.exec((error as Error).message);
    expect(match, 'the failure message carries the seed and path').not.toBeNull();
    return { seed: Number(match![1]), path: match![2]! };
  };
  const counterexample = (error: unknown) => /Counterexample: (.*)/.exec((error as Error).message)?.[1];

  it('a failure is reported with its seed and path; recorded as a regression, it fails first, on its own', async () => {
    const arb = fc.integer({ min: 0, max: 1_000 });
    const failure = await check(arb, failsAbove, []).catch((e: unknown) => e);
    const regression = reported(failure);
    // The recorded case is replayed before any random run: the check fails after exactly one run,
    // on the same (shrunk) counterexample.
    const replay = await check(arb, failsAbove, [regression]).catch((e: unknown) => e);
    expect((replay as Error).message).toMatch(/failed after 1 tests?/);
    expect(counterexample(replay)).toBe(counterexample(failure));
    expect(counterexample(failure)).toBe('[500]');
  });
});
