import { describe, expect, it } from 'vitest';
import { CrashPolicy } from '../../../src/cli/cluster/crash-policy.js';

describe('CrashPolicy', () => {
  it('doubles the delay for each recent death, up to the maximum', () => {
    const policy = new CrashPolicy({ maxDeaths: 10, baseDelayMs: 100, maxDelayMs: 500 });
    expect([0, 1, 2, 3, 4].map((t) => policy.death(t))).toEqual([
      { crashLoop: false, recent: 1, delayMs: 100 },
      { crashLoop: false, recent: 2, delayMs: 200 },
      { crashLoop: false, recent: 3, delayMs: 400 },
      { crashLoop: false, recent: 4, delayMs: 500 },
      { crashLoop: false, recent: 5, delayMs: 500 },
    ]);
  });

  it('calls maxDeaths deaths within the window a crash loop', () => {
    const policy = new CrashPolicy({ maxDeaths: 3, windowMs: 1_000 });
    expect(policy.death(0).crashLoop).toBe(false);
    expect(policy.death(10).crashLoop).toBe(false);
    expect(policy.death(20)).toEqual({ crashLoop: true, recent: 3 });
  });

  it('forgets deaths older than the window: an occasional crash never adds up to a loop', () => {
    const policy = new CrashPolicy({ maxDeaths: 2, windowMs: 1_000 });
    for (let t = 0; t < 10_000; t += 1_500)
      expect(policy.death(t)).toEqual({ crashLoop: false, recent: 1, delayMs: 100 });
  });
});
