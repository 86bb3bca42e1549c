import { describe, expect, it } from 'vitest';
import { defaultPoolThreads } from '../../src/threadpool/default-pool.js';

describe('the default pool size', () => {
  it('GREENHUB_THREADS sets it when it is an integer from 1 to 1024', () => {
    expect(defaultPoolThreads('1')).toBe(1);
    expect(defaultPoolThreads('4')).toBe(4);
    expect(defaultPoolThreads('1024')).toBe(1024);
  });

  it.each([undefined, '', '0', '-2', '2.5', 'four', '1025'])(
    'GREENHUB_THREADS=%j leaves the pool’s default (one thread per core)',
    (text) => {
      expect(defaultPoolThreads(text)).toBeUndefined();
    },
  );
});
