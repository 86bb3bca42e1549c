import { readFileSync } from 'node:fs';
import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { clusterMetricNames } from '../../src/cli/cluster/primary.js';
import { metricNames } from '../../src/metrics/index.js';
import { root } from '../helpers.js';

const dashboard = JSON.parse(readFileSync(`${root}grafana/dashboards/greenhub.json`, 'utf8')) as {
  panels: { type: string; title: string; targets?: { expr: string }[] }[];
  templating: { list: { query: string }[] };
};

const FUNCTIONS = new Set([
  'sum',
  'avg',
  'min',
  'max',
  'count',
  'rate',
  'irate',
  'increase',
  'histogram_quantile',
  'label_values',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'offset',
  'bool',
  'clamp_min',
  'clamp_max',
  'abs',
  'topk',
  'bottomk',
  'avg_over_time',
  'max_over_time',
  'vector',
  'scalar',
]);

/** The metric names a PromQL expression reads: identifiers left once label matchers, groupings, ranges and strings are gone. */
function metricsIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\$\w+/g, '')
    .replace(/\blabel_values\(([^,)]+),[^)]*\)/g, '$1') // Grafana's variable query: (metric, label)
    .replace(/(^|[^a-zA-Z0-9_:])\d+(\.\d+)?(e[+-]?\d+)?/gi, '$1');
  const names = stripped.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [];
  return [...new Set(names.filter((n) => !FUNCTIONS.has(n)))];
}

function exported(): Set<string> {
  const defaults = new client.Registry();
  client.collectDefaultMetrics({ register: defaults });
  const families = new Map<string, string>();
  for (const m of defaults.getMetricsAsArray()) families.set(m.name, m.type as unknown as string);
  const histogramFamilies = new Set([
    'greenhub_loop_delay_seconds',
    'greenhub_greenlet_duration_seconds',
    'greenhub_threadpool_wait_seconds',
    'greenhub_threadpool_run_seconds',
    'greenhub_threadpool_lane_wait_seconds',
    'greenhub_hybrid_estimate_seconds',
    'greenhub_http_request_duration_seconds',
  ]);
  for (const name of Object.values(clusterMetricNames)) families.set(name, 'other');
  for (const name of Object.values(metricNames))
    families.set(name, histogramFamilies.has(name) ? 'histogram' : 'other');
  const names = new Set<string>();
  for (const [name, type] of families) {
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
  }
  return names;
}

describe('grafana/dashboards/greenhub.json', () => {
  const exprs = [
    ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr }))),
    ...dashboard.templating.list.map((t) => ({ panel: 'variable', expr: t.query })),
  ];

  it('every PromQL expression reads only metrics the service exports (greenhub, HTTP and prom-client defaults)', () => {
    const known = exported();
    expect(exprs.length).toBeGreaterThan(20);
    const unknown = exprs.flatMap(({ panel, expr }) =>
      metricsIn(expr)
        .filter((n) => !known.has(n))
        .map((n) => `${panel}: ${n}`),
    );
    expect(unknown).toEqual([]);
  });

  it('has the panels of SPEC §7', () => {
    const all = exprs.map((e) => e.expr).join('\n');
    for (const name of [
      'greenhub_greenlets',
      'greenhub_greenlets_spawned_total',
      'greenhub_hub_blocked_seconds_total',
      'greenhub_loop_delay_seconds_bucket',
      'greenhub_loop_busy_seconds_total',
      'greenhub_loop_exits_total',
      'greenhub_deadlocks_total',
      'greenhub_threadpool_threads',
      'greenhub_threadpool_queue_size',
      'greenhub_threadpool_wait_seconds_bucket',
      'greenhub_threadpool_run_seconds_bucket',
      'greenhub_threadpool_busy_seconds_total',
      'greenhub_threadpool_max_threads',
      'greenhub_threadpool_lane_wait_seconds_bucket',
      'greenhub_hybrid_estimate_seconds_bucket',
      'greenhub_patched_operations',
      'greenhub_http_requests_total',
      'greenhub_http_request_duration_seconds_bucket',
    ])
      expect(all, name).toContain(name);
  });

  it('has instance and worker variables, every panel filters on the instance', () => {
    const variables = dashboard.templating.list as { name: string; query: string; allValue?: string }[];
    expect(variables.map((v) => v.name)).toEqual(['job', 'instance', 'worker']);
    // "All" must match a series without the label too: one process has no worker label.
    expect(variables.find((v) => v.name === 'worker')?.allValue).toBe('.*');
    for (const { panel, expr } of exprs.filter((e) => e.panel !== 'variable'))
      expect(expr, panel).toContain('instance=~"$instance"');
    expect(exprs.filter((e) => e.expr.includes('worker=~"$worker"')).length).toBeGreaterThan(0);
  });

  it('the checker itself finds metric names and ignores labels, functions and ranges', () => {
    expect(
      metricsIn(
        'histogram_quantile(0.99, sum by (le, pool) (rate(x_bucket{job=~"$job", a="b"}[$__rate_interval])))',
      ),
    ).toEqual(['x_bucket']);
    expect(metricsIn('sum(nodejs_heap_size_used_bytes) / 1e9 + typo_metric')).toEqual([
      'nodejs_heap_size_used_bytes',
      'typo_metric',
    ]);
  });
});
