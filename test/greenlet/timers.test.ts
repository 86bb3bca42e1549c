import { describe, expect, it } from 'vitest';
import { type Deadline, schedule, scheduledCount, unschedule } from '../../src/greenlet/timers.js';
import { Event, getCurrent, spawn, Timeout } from '../../src/index.js';
import { now } from '../../src/internal/natives.js';
import { runNode } from '../helpers.js';

/** A deadline that records when it expired; `done` resolves once `expected` of them have. */
class Probe implements Deadline {
  _dueAt = 0;
  _seq = 0;
  _slot = -1;
  firedAt = -1;
  constructor(
    readonly name: number,
    private readonly log: Probe[],
    private readonly onFired: () => void,
  ) {}
  _expire(): void {
    this.firedAt = now();
    this.log.push(this);
    this.onFired();
  }
}

describe('the timer heap', () => {
  it('expires deadlines in due order, never early, and cancelled ones never', async () => {
    const fired: Probe[] = [];
    let survivors = 0;
    let release!: () => void;
    const allFired = new Promise<void>((r) => (release = r));
    const onFired = () => {
      if (fired.length === survivors) release();
    };
    const probes: Probe[] = [];
    // Delays in a scrambled order with repeats, so that later deadlines are scheduled before
    // earlier ones, equal ones tie, and cancels hit the top, the middle and the end of the heap.
    for (let i = 0; i < 120; i++) {
      const probe = new Probe(i, fired, onFired);
      probes.push(probe);
      schedule(probe, (i * 7) % 23);
    }
    const cancelled = probes.filter((p) => p.name % 3 === 0);
    for (const p of cancelled) unschedule(p);
    survivors = probes.length - cancelled.length;
    await allFired;

    expect(fired.length).toBe(survivors);
    expect(fired.some((p) => p.name % 3 === 0)).toBe(false);
    const expected = probes
      .filter((p) => p.name % 3 !== 0)
      .sort((a, b) => a._dueAt - b._dueAt || a._seq - b._seq)
      .map((p) => p.name);
    expect(fired.map((p) => p.name)).toEqual(expected);
    expect(fired.filter((p) => p.firedAt < p._dueAt)).toEqual([]);
    expect(scheduledCount()).toBe(0);
  });

  it('deadlines due at the same time expire in the order they were scheduled', async () => {
    const fired: Probe[] = [];
    const done = new Event();
    const probes = [0, 1, 2, 3, 4].map((i) => new Probe(i, fired, () => fired.length === 5 && done.set()));
    for (const p of probes) schedule(p, 0);
    // Same due time for all: make the ties exact.
    for (const p of probes) p._dueAt = probes[0]!._dueAt;
    await done.wait();
    expect(fired.map((p) => p.name)).toEqual([0, 1, 2, 3, 4]);
  });

  it('an earlier deadline scheduled after a cancelled later one still expires on time', async () => {
    const fired: Probe[] = [];
    const done = new Event();
    const late = new Probe(0, fired, () => undefined);
    schedule(late, 60_000);
    unschedule(late);
    const soon = new Probe(1, fired, () => done.set());
    schedule(soon, 5);
    // Bounded by the test's own timeout: on the late deadline's native timer it would take 60 s.
    await done.wait();
    expect(fired).toEqual([soon]);
  });
});

describe('Timeout on the timer heap', () => {
  it('fires in the context of the greenlet that started it', async () => {
    const g = spawn(async () => {
      let seenByListener: unknown = null;
      getCurrent()!.signal.addEventListener('abort', () => {
        seenByListener = getCurrent();
      });
      const t = Timeout.start(5);
      try {
        await new Event().wait();
      } catch (e) {
        if (e !== t) throw e;
      }
      return seenByListener;
    });
    expect(await g.get()).toBe(g);
  });

  it('a started Timeout keeps the process alive until it fires', async () => {
    const { code, stdout, stderr } = await runNode({
      source: `
        import { Event, spawn, Timeout } from 'greenhub';
        const g = spawn(async () => {
          const t = Timeout.start(50);
          try { await new Event().wait(); } catch (e) { return e === t ? 'timed out' : e.name; }
        });
        console.log(await g.get());
      `,
    });
    expect({ code, stdout: stdout.trim(), stderr }).toEqual({ code: 0, stdout: 'timed out', stderr: '' });
  });

  it('a cancelled Timeout does not keep the process alive: the wait gets LoopExit at once', async () => {
    const { code, stdout, stderr } = await runNode({
      source: `
        import { Event, spawn, Timeout } from 'greenhub';
        const g = spawn(async () => {
          for (let i = 0; i < 1000; i++) Timeout.start(600_000 + i).cancel();
          Timeout.start(300_000).cancel();
          try { await new Event().wait(); } catch (e) { return e.name; }
        });
        console.log(await g.get());
      `,
      timeoutMs: 20_000,
    });
    expect({ code, stdout: stdout.trim(), stderr }).toEqual({ code: 0, stdout: 'LoopExit', stderr: '' });
  });
});
