import { readFileSync } from 'node:fs';
import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { clusterMetricNames } from '../../src/cli/cluster/primary.js';
import {
  BLOCKED_SECONDS_PER_MINUTE,
  LOOP_SATURATED_DELAY_P99_MS,
  LOOP_SATURATED_UTILIZATION,
  POOL_BUSY_UTILIZATION,
  POOL_WAIT_P99_MS,
  ROUTE_BUSY_UTILIZATION,
  ROUTE_LOOP_SHARE,
} from '../../src/metrics/advice/rules.js';
import { metricNames } from '../../src/metrics/index.js';
import { root } from '../helpers.js';

interface Datasource {
  type: string;
  uid: string;
}
type Thresholds = { steps: { value: number | null }[] };
interface Panel {
  type: string;
  title: string;
  description?: string;
  datasource?: Datasource;
  targets?: { expr: string; refId: string; datasource?: Datasource }[];
  fieldConfig?: {
    defaults: { thresholds?: Thresholds };
    overrides: { matcher: { options: string }; properties: { id: string; value: unknown }[] }[];
  };
}
const dashboard = JSON.parse(readFileSync(`${root}grafana/dashboards/greenhub.json`, 'utf8')) as {
  __inputs: { name: string; type: string; pluginId: string }[];
  panels: Panel[];
  templating: { list: { name: string; type: string; query: string; datasource?: Datasource }[] };
};
/** How panels name the datasource: Grafana's `${DS_PROMETHEUS}`, filled in on import. */
const DS_REF = '$' + '{DS_PROMETHEUS}';
const provisionedDatasource = readFileSync(`${root}grafana/provisioning/datasources/prometheus.yml`, 'utf8');

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
    ...dashboard.templating.list
      .filter((t) => t.type === 'query')
      .map((t) => ({ panel: 'variable', expr: t.query })),
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

  it('has the panels the README promises', () => {
    const all = exprs.map((e) => e.expr).join('\n');
    for (const name of [
      'greenhub_greenlets',
      'greenhub_greenlets_spawned_total',
      'greenhub_hub_blocked_seconds_total',
      'greenhub_loop_delay_seconds_bucket',
      'greenhub_loop_busy_seconds_total',
      'greenhub_greenlet_loop_seconds_total',
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
    expect(variables.map((v) => v.name)).toEqual(['DS_PROMETHEUS', 'job', 'instance', 'worker']);
    // "All" must match a series without the label too: one process has no worker label.
    expect(variables.find((v) => v.name === 'worker')?.allValue).toBe('.*');
    for (const { panel, expr } of exprs.filter((e) => e.panel !== 'variable'))
      expect(expr, panel).toContain('instance=~"$instance"');
    expect(exprs.filter((e) => e.expr.includes('worker=~"$worker"')).length).toBeGreaterThan(0);
  });

  it('imports into an existing Grafana: a DS_PROMETHEUS input, and every panel, query and variable reads it', () => {
    expect(dashboard.__inputs).toEqual([
      expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' }),
    ]);
    const refs = [
      ...dashboard.panels
        .filter((p) => p.type !== 'row')
        .flatMap((p) => [
          [p.title, p.datasource],
          ...(p.targets ?? []).map((t) => [`${p.title} ${t.refId}`, t.datasource]),
        ]),
      ...dashboard.templating.list.filter((v) => v.type === 'query').map((v) => [v.name, v.datasource]),
    ];
    expect(refs.length).toBeGreaterThan(40);
    for (const [where, ds] of refs) expect(ds, String(where)).toEqual({ type: 'prometheus', uid: DS_REF });
  });

  it('stays provisionable: a datasource variable named DS_PROMETHEUS resolves the reference, defaulting to the provisioned uid', () => {
    // File provisioning does not apply __inputs (grafana/grafana#10786): the variable does it at run time.
    const variable = dashboard.templating.list.find((v) => v.name === 'DS_PROMETHEUS');
    expect(variable).toMatchObject({
      type: 'datasource',
      query: 'prometheus',
      current: { value: 'greenhub-prometheus' },
    });
    expect(provisionedDatasource).toContain('uid: greenhub-prometheus');
  });

  it('every panel says what it shows', () => {
    const missing = dashboard.panels
      .filter((p) => p.type !== 'row' && !(p.description ?? '').trim())
      .map((p) => p.title);
    expect(missing).toEqual([]);
  });

  it("draws greenhub advise's thresholds on the panels of its rules' inputs", () => {
    const steps = (title: string, refId?: string): (number | null)[] => {
      const panel = dashboard.panels.find((p) => p.title === title);
      expect(panel, title).toBeDefined();
      const t =
        refId === undefined
          ? panel!.fieldConfig!.defaults.thresholds
          : (panel!
              .fieldConfig!.overrides.find((o) => o.matcher.options === refId)
              ?.properties.find((p) => p.id === 'thresholds')?.value as Thresholds | undefined);
      return (t?.steps ?? []).map((s) => s.value);
    };
    expect(steps('Event loop utilization')).toEqual([
      null,
      ROUTE_BUSY_UTILIZATION,
      LOOP_SATURATED_UTILIZATION,
    ]);
    expect(steps('Event loop delay')).toEqual([null, LOOP_SATURATED_DELAY_P99_MS / 1000]);
    expect(steps('Hub blocked time by API and route (share of wall time)')[1]).toBeCloseTo(
      BLOCKED_SECONDS_PER_MINUTE / 60,
      6,
    );
    expect(steps('Task wait and run p99', 'A')).toEqual([null, POOL_WAIT_P99_MS / 1000]);
    expect(steps('Utilization')).toEqual([null, POOL_BUSY_UTILIZATION]);
    expect(steps('Loop time by greenlet name (share of busy time)')).toEqual([null, ROUTE_LOOP_SHARE]);
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
