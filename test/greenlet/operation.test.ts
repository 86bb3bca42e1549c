import { describe, expect, it } from 'vitest';
import { beginOperation, GreenletExit, getHub, sleep, spawn, withTimeout } from '../../src/index.js';

/** A fake operation: a promise that settles when told to, and rejects with whatever aborts it. */
function operation(kind: string) {
  let settle!: (value: string) => void;
  let fail!: (reason: unknown) => void;
  const done = new Promise<string>((resolve, reject) => {
    settle = resolve;
    fail = reject;
  });
  let abortedWith: unknown;
  const op = beginOperation(kind, (reason) => {
    abortedWith = reason;
    fail(reason);
  });
  return {
    op,
    finish: (value: string) => {
      op.end();
      settle(value);
    },
    run: async () => {
      try {
        return await done;
      } finally {
        op.end();
      }
    },
    abortedWith: () => abortedWith,
  };
}

describe('operations (work awaited outside the hub)', () => {
  it('kill() aborts the operation at once instead of waiting for a checkpoint', async () => {
    let abortedWith: unknown;
    const g = spawn(async () => {
      const fake = operation('fetch');
      try {
        return await fake.run();
      } finally {
        abortedWith = fake.abortedWith();
      }
    });
    await sleep(0);
    expect(g.state).toBe('waiting');
    await g.kill();
    expect(abortedWith).toBeInstanceOf(GreenletExit);
    expect(g.value).toBe(abortedWith);
  });

  it('a Timeout aborts only the operation in flight; a caught Timeout does not poison the next one', async () => {
    const g = spawn(async () => {
      const first = await withTimeout(5, () => operation('fetch').run(), { fallback: 'timed out' });
      const second = operation('fetch');
      setTimeout(() => second.finish('second done'), 10);
      return [first, await second.run()];
    });
    expect(await g.get()).toEqual(['timed out', 'second done']);
  });

  it('counts operations by kind in hub stats and run info while in flight', async () => {
    const before = getHub().stats().operations.timer ?? 0;
    let fake!: ReturnType<typeof operation>;
    const g = spawn(async () => {
      fake = operation('timer');
      return fake.run();
    });
    g.name = 'sleeper';
    await sleep(0);
    expect(getHub().stats().operations.timer).toBe(before + 1);
    expect(getHub().formatRunInfo()).toMatch(/"sleeper" .*: awaiting timer ×1/);
    fake.finish('ok');
    expect(await g.get()).toBe('ok');
    expect(getHub().stats().operations.timer).toBe(before);
    expect(getHub().stats().greenlets.waiting).toBe(0);
  });

  it('outside a greenlet an operation is only counted, never aborted', async () => {
    const fake = operation('dns');
    expect(getHub().stats().operations.dns).toBeGreaterThanOrEqual(1);
    fake.finish('resolved');
    expect(await fake.run()).toBe('resolved');
    expect(fake.abortedWith()).toBeUndefined();
  });

  it('an operation left in flight by a finished greenlet is no longer its own', async () => {
    let fake!: ReturnType<typeof operation>;
    const g = spawn(() => {
      fake = operation('child');
      return 'returned without awaiting it';
    });
    await g.join();
    expect(g.state).toBe('dead');
    fake.finish('later'); // ending it after the greenlet's death is harmless
    expect(await fake.run()).toBe('later');
    expect(getHub().stats().greenlets.waiting).toBe(0);
  });

  it('validates its arguments', () => {
    expect(() => beginOperation(1 as never, () => undefined)).toThrow(/`kind` to be a string/);
    expect(() => beginOperation('x', 'abort' as never)).toThrow(/`abort` to be a function/);
  });
});
