import { describe, expect, it } from 'vitest';
import { GreenletExit, getCurrent, sleep, spawn } from '../../src/index.js';

describe('Greenlet', () => {
  it('starts when the spawner yields, in FIFO spawn order', async () => {
    const order: string[] = [];
    const a = spawn(() => order.push('a'));
    const b = spawn(() => order.push('b'));
    order.push('spawner');
    await sleep(0);
    expect(order).toEqual(['spawner', 'a', 'b']);
    expect(a.dead && b.dead).toBe(true);
  });

  it('a default kill counts as success with GreenletExit as value', async () => {
    const g = spawn(() => sleep(60_000));
    await sleep(0);
    await g.kill();
    expect(g.successful()).toBe(true);
    expect(g.value).toBeInstanceOf(GreenletExit);
    expect(g.exception).toBeUndefined();
  });

  it('getCurrent() follows await', async () => {
    const g = spawn(async () => {
      await sleep(1);
      return getCurrent();
    });
    expect(await g.get()).toBe(g);
    expect(getCurrent()).toBeNull();
  });
});
