import { describe, expect, it } from 'vitest';
import {
  counterDelta,
  gaugeSum,
  histogramDelta,
  parsePrometheusText,
  quantileSeconds,
} from '../../../src/metrics/advice/parse.js';

describe('parsePrometheusText()', () => {
  it('reads samples with labels (escapes included), skips comments, keeps +Inf', () => {
    const s = parsePrometheusText(
      [
        '# HELP x_total a counter',
        '# TYPE x_total counter',
        'x_total{route="/a \\"b\\"",method="GET"} 3',
        'x_total 4 1700000000000',
        'h_bucket{le="+Inf"} 7',
        '',
      ].join('\n'),
    );
    expect(s.get('x_total')).toEqual([
      { name: 'x_total', labels: { route: '/a "b"', method: 'GET' }, value: 3 },
      { name: 'x_total', labels: {}, value: 4 },
    ]);
    expect(s.get('h_bucket')![0]!.labels.le).toBe('+Inf');
  });

  it('ignores an OpenMetrics exemplar after the value', () => {
    const s = parsePrometheusText('h_bucket{le="0.1"} 5 # {trace_id="abc"} 0.05 1700000000\n');
    expect(s.get('h_bucket')).toEqual([{ name: 'h_bucket', labels: { le: '0.1' }, value: 5 }]);
  });

  it('a malformed line throws, naming its line number and text', () => {
    expect(() => parsePrometheusText('ok 1\nnot a sample at all\n')).toThrow(
      /expected line 2 of the metrics to be a Prometheus sample \(name\{labels\} value\), got "not a sample at all"/,
    );
  });
});

describe('deltas between two scrapes', () => {
  const before = parsePrometheusText(
    [
      'c{api="a"} 1',
      'c{api="b"} 5',
      'g{pool="p",state="busy"} 1',
      'h_bucket{le="0.1"} 10',
      'h_bucket{le="1"} 10',
      'h_bucket{le="+Inf"} 10',
      'h_sum 0.5',
    ].join('\n'),
  );
  const after = parsePrometheusText(
    [
      'c{api="a"} 3',
      'c{api="b"} 2',
      'g{pool="p",state="busy"} 2',
      'g{pool="p",state="idle"} 1',
      'h_bucket{le="0.1"} 100',
      'h_bucket{le="1"} 110',
      'h_bucket{le="+Inf"} 110',
      'h_sum 10',
    ].join('\n'),
  );

  it('counterDelta groups by a label; a counter that went down (a restart) counts from zero', () => {
    expect(counterDelta(before, after, 'c', 'api')).toEqual(
      new Map([
        ['a', 2],
        ['b', 2],
      ]),
    );
    expect(counterDelta(before, after, 'c').get('')).toBe(4);
  });

  it('gaugeSum adds the samples of a group', () => {
    expect(gaugeSum(after, 'g', 'pool')).toEqual(new Map([['p', 3]]));
  });

  it('histogramDelta gives the window of observations; quantileSeconds interpolates like histogram_quantile', () => {
    const w = histogramDelta(before, after, 'h').get('')!;
    expect(w).toEqual({
      buckets: [
        [0.1, 90],
        [1, 100],
        [Number.POSITIVE_INFINITY, 100],
      ],
      count: 100,
      sumSeconds: 9.5,
    });
    expect(quantileSeconds(w, 0.5)).toBeCloseTo(0.1 * (50 / 90));
    expect(quantileSeconds(w, 0.99)).toBeCloseTo(0.1 + 0.9 * (9 / 10));
    expect(quantileSeconds({ buckets: [], count: 0, sumSeconds: 0 }, 0.99)).toBeNull();
  });
});
