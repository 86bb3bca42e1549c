import { describe, expect, it } from 'vitest';
import { Local, sleep, spawn } from '../../src/index.js';

describe('Local', () => {
  it('each greenlet sees its own value across awaits', async () => {
    const local = new Local<string>();
    const run = (name: string, ms: number) =>
      spawn(async () => {
        local.set(name);
        await sleep(ms);
        return local.get();
      });
    const a = run('a', 5);
    const b = run('b', 1);
    expect([await a.get(), await b.get()]).toEqual(['a', 'b']);
    expect(local.get()).toBeUndefined(); // top-level code has its own
  });

  it('children do not inherit the value; init() computes a fresh one per greenlet', async () => {
    let made = 0;
    const local = new Local(() => ({ n: ++made }));
    const parent = spawn(async () => {
      local.get()!.n = 100;
      const child = spawn(() => local.get());
      return [local.get(), await child.get()];
    });
    const [mine, childs] = (await parent.get()) as [{ n: number }, { n: number }];
    expect(mine.n).toBe(100);
    expect(childs).not.toBe(mine);
    expect(made).toBe(2);
    expect(() => new Local(5 as never)).toThrow(/`init` to be a function/);
  });
});
