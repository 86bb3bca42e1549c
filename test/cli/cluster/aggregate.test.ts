import { describe, expect, it } from 'vitest';
import { aggregationRule, ClusterMetrics, keepCounters } from '../../../src/cli/cluster/aggregate.js';
import type { MetricJson, MetricsSnapshot } from '../../../src/cli/cluster/protocol.js';

function family(name: string, type: string, values: [Record<string, string>, number, string?][]): MetricJson {
  return {
    name,
    help: name,
    type,
    aggregator: 'sum',
    values: values.map(([labels, value, metricName]) =>
      metricName ? { labels, value, metricName } : { labels, value },
    ),
  };
}

/** What one worker's registry might say. */
function worker(requests: number, utilization: number, p99: number): MetricsSnapshot {
  return [
    family('greenhub_http_requests_total', 'counter', [[{ route: '/' }, requests]]),
    family('greenhub_http_request_duration_seconds', 'histogram', [
      [{ le: '0.1' }, requests, 'greenhub_http_request_duration_seconds_bucket'],
      [{ le: '+Inf' }, requests, 'greenhub_http_request_duration_seconds_bucket'],
      [{}, requests / 10, 'greenhub_http_request_duration_seconds_sum'],
      [{}, requests, 'greenhub_http_request_duration_seconds_count'],
    ]),
    family('greenhub_greenlets', 'gauge', [[{ state: 'running' }, 1]]),
    family('greenhub_loop_utilization_ratio', 'gauge', [[{}, utilization]]),
    family('greenhub_loop_delay_seconds', 'summary', [
      [{ quantile: '0.99' }, p99],
      [{}, 5, 'greenhub_loop_delay_seconds_count'],
    ]),
    family('nodejs_eventloop_lag_p99_seconds', 'gauge', [[{}, p99]]),
    family('process_start_time_seconds', 'gauge', [[{}, 1000 + requests]]),
  ];
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
}

describe('ClusterMetrics', () => {
  it('sums counters, histograms and count gauges; averages ratios; keeps quantiles per worker', async () => {
    const text = await new ClusterMetrics().render([
      ['1', worker(10, 0.8, 0.02)],
      ['2', worker(30, 0.785, 0.05)],
    ]);
    expect(lines(text)).toEqual(
      expect.arrayContaining([
        'greenhub_http_requests_total{route="/"} 40',
        'greenhub_http_request_duration_seconds_bucket{le="+Inf"} 40',
        'greenhub_http_request_duration_seconds_count 40',
        'greenhub_greenlets{state="running"} 2',
        'greenhub_loop_utilization_ratio 0.7925',
        'greenhub_loop_delay_seconds{quantile="0.99",worker="1"} 0.02',
        'greenhub_loop_delay_seconds{quantile="0.99",worker="2"} 0.05',
        'greenhub_loop_delay_seconds_count{worker="2"} 5',
        'nodejs_eventloop_lag_p99_seconds{worker="1"} 0.02',
        'process_start_time_seconds 1010',
      ]),
    );
    expect(text).not.toMatch(/^greenhub_loop_delay_seconds\{quantile="0\.99"\}/m);
  });

  it('keeps the counters of a worker that is gone and drops it from the gauges', async () => {
    const machine = new ClusterMetrics();
    machine.retire(worker(10, 0.9, 0.02));
    const text = await machine.render([['1', worker(5, 0.1, 0.01)]]);
    expect(lines(text)).toEqual(
      expect.arrayContaining([
        'greenhub_http_requests_total{route="/"} 15',
        'greenhub_http_request_duration_seconds_count 15',
        'greenhub_greenlets{state="running"} 1',
        'greenhub_loop_utilization_ratio 0.1',
      ]),
    );
    expect(text).not.toContain('worker="2"');
    // Another one gone: the kept counters add up.
    machine.retire(worker(5, 0.1, 0.01));
    expect(lines(await machine.render([]))).toContain('greenhub_http_requests_total{route="/"} 15');
  });

  it('keepCounters() keeps the counter series a newer snapshot lost (a closed server’s) and no gauge', () => {
    const before = [
      family('greenhub_http_requests_total', 'counter', [[{ server: 'http:1' }, 7]]),
      family('greenhub_server_connections', 'gauge', [[{ server: 'http:1' }, 3]]),
    ];
    const after = [family('greenhub_http_requests_total', 'counter', [[{ server: 'http:2' }, 1]])];
    expect(keepCounters(before, after)).toEqual([
      family('greenhub_http_requests_total', 'counter', [
        [{ server: 'http:2' }, 1],
        [{ server: 'http:1' }, 7],
      ]),
    ]);
  });

  it('aggregationRule() by name, then by type', () => {
    expect(aggregationRule('greenhub_threadpool_utilization_ratio', 'gauge')).toBe('average');
    expect(aggregationRule('nodejs_gc_duration_seconds', 'histogram')).toBe('sum');
    expect(aggregationRule('some_quantiles', 'summary')).toBe('per-worker');
    expect(aggregationRule('nodejs_version_info', 'gauge')).toBe('first');
    expect(aggregationRule('process_resident_memory_bytes', 'gauge')).toBe('sum');
  });
});
