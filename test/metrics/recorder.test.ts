import { describe, expect, it } from 'vitest';
import { BoundedLabel, DurationRecorder, histogramDelta, quantileMs } from '../../src/metrics/index.js';

describe('DurationRecorder', () => {
  it('counts each observation in the first bucket whose bound it does not exceed (bounds are inclusive, as le)', () => {
    const r = new DurationRecorder([0.001, 0.01]);
    r.observeMs(1); // exactly 1 ms: le="0.001"
    r.observeMs(1.0001);
    r.observeMs(10);
    r.observeMs(11);
    expect(r.snapshot()).toEqual({
      bucketsSeconds: [0.001, 0.01],
      counts: [1, 2, 1],
      sumSeconds: 0.0230001,
      count: 4,
    });
  });

  it('refuses bounds that are not ascending positive numbers', () => {
    expect(() => new DurationRecorder([])).toThrow(TypeError);
    expect(() => new DurationRecorder([0.1, 0.1])).toThrow(
      /`bucketsSeconds\[1\]` to be a finite positive bound above the previous one/,
    );
    expect(() => new DurationRecorder([0, 1])).toThrow(RangeError);
  });
});

describe('quantileMs() and histogramDelta()', () => {
  it('interpolates inside the bucket, like histogram_quantile', () => {
    const r = new DurationRecorder([0.01, 0.02]);
    for (let i = 0; i < 10; i++) r.observeMs(5);
    for (let i = 0; i < 10; i++) r.observeMs(15);
    const s = r.snapshot();
    expect(quantileMs(s, 0.5)).toBeCloseTo(10, 6);
    expect(quantileMs(s, 0.75)).toBeCloseTo(15, 6);
    expect(quantileMs(s, 1)).toBeCloseTo(20, 6);
    expect(quantileMs(new DurationRecorder().snapshot(), 0.5)).toBeNull();
    expect(() => quantileMs(s, 2)).toThrow(RangeError);
  });

  it('answers the last bound for observations above it', () => {
    const r = new DurationRecorder([0.01]);
    r.observeMs(500);
    expect(quantileMs(r.snapshot(), 0.99)).toBe(10);
  });

  it('histogramDelta() is what was observed between two snapshots', () => {
    const r = new DurationRecorder([0.01]);
    r.observeMs(1);
    const before = r.snapshot();
    r.observeMs(2);
    r.observeMs(20);
    expect(histogramDelta(r.snapshot(), before)).toEqual({
      bucketsSeconds: [0.01],
      counts: [1, 1],
      sumSeconds: 0.022,
      count: 2,
    });
  });
});

describe('BoundedLabel', () => {
  it('admits the first N distinct values and maps later ones to other', () => {
    const l = new BoundedLabel(2);
    expect(['a', 'b', 'c', 'a', 'd', 'b'].map((v) => l.value(v))).toEqual([
      'a',
      'b',
      'other',
      'a',
      'other',
      'b',
    ]);
  });
});
