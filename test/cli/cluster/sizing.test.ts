import { describe, expect, it } from 'vitest';
import { MAX_WORKERS, parseWorkers, threadsPerWorker } from '../../../src/cli/cluster/sizing.js';
import { UsageError } from '../../../src/cli/usage-error.js';

describe('cluster sizing', () => {
  it('parseWorkers() reads a count, and 0 or "auto" as one per core', () => {
    expect(parseWorkers('3', '--workers', 8)).toBe(3);
    expect(parseWorkers('0', '--workers', 8)).toBe(8);
    expect(parseWorkers('auto', '--workers', 6)).toBe(6);
    expect(parseWorkers(String(MAX_WORKERS), '--workers', 8)).toBe(MAX_WORKERS);
  });

  it.each(['-1', 'abc', '1.5', '', '10000', String(MAX_WORKERS + 1)])(
    'parseWorkers(%j) throws a UsageError naming the source, the bound and what came',
    (text) => {
      let error: unknown;
      try {
        parseWorkers(text, 'GREENHUB_WORKERS', 4);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(UsageError);
      expect((error as UsageError).code).toBe('ERR_GREENHUB_USAGE');
      expect((error as UsageError).argument).toBe('GREENHUB_WORKERS');
      expect((error as UsageError).message).toContain(
        `expected GREENHUB_WORKERS to be a number of workers from 1 to ${MAX_WORKERS}, or 0 or "auto" for one per core (4 here), got ${JSON.stringify(text)}`,
      );
    },
  );

  it('threadsPerWorker() shares the cores among the workers, at least one thread each', () => {
    expect(threadsPerWorker(1, 8)).toBe(8);
    expect(threadsPerWorker(2, 8)).toBe(4);
    expect(threadsPerWorker(3, 8)).toBe(2);
    expect(threadsPerWorker(16, 8)).toBe(1);
  });
});
