/**
 * `greenhub advise --prometheus`: the same two scrapes, read from a Prometheus server through its
 * HTTP API instead of from the service. Every greenhub series of one scrape target is read with an
 * instant query (`/api/v1/query`) at the end of the range and at its start, so that the rules see
 * what they would see scraping the service twice; the window is the time between the two samples
 * Prometheus actually holds (`timestamp()`), not the requested range. A counter reset inside the
 * range (a restart) counts from zero, not as `rate()` would piece it together.
 */

import type { Sample, Scrape } from '../../metrics/advice/parse.js';
import { metricNames } from '../../metrics/names.js';
import { UsageError } from '../usage-error.js';
import { Unreadable } from './unreadable.js';

interface VectorResult {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(base: URL, expr: string, timeSeconds: number): Promise<VectorResult[]> {
  const url = new URL('api/v1/query', base.href.endsWith('/') ? base : `${base.href}/`);
  url.searchParams.set('query', expr);
  url.searchParams.set('time', String(timeSeconds));
  let body: { status?: string; error?: string; data?: { resultType?: string; result?: VectorResult[] } };
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    body = (await res.json()) as typeof body;
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    throw new Unreadable(
      `cannot query the Prometheus at ${base}: ${cause?.code ?? (error as Error).message ?? String(error)}`,
    );
  }
  if (body.status !== 'success' || body.data?.resultType !== 'vector')
    throw new Unreadable(
      `the Prometheus at ${base} refused ${expr}: ${body.error ?? JSON.stringify(body).slice(0, 200)}`,
    );
  return body.data.result ?? [];
}

function toScrape(results: VectorResult[]): Scrape {
  const out = new Map<string, Sample[]>();
  for (const { metric, value } of results) {
    const { __name__: name, ...labels } = metric;
    if (name === undefined) continue;
    let list = out.get(name);
    if (list === undefined) out.set(name, (list = []));
    list.push({ name, labels, value: Number(value[1]) });
  }
  return out;
}

/**
 * Two scrapes of one greenhub service, `rangeSeconds` apart, from the Prometheus at `base`.
 * `instance` picks the scrape target when Prometheus has several.
 *
 * @example
 * ```ts
 * const { before, after, seconds, instance } = await readPrometheus(new URL('http://127.0.0.1:9090'), 600);
 * ```
 */
export async function readPrometheus(
  base: URL,
  rangeSeconds: number,
  instance: string | undefined,
): Promise<{ before: Scrape; after: Scrape; seconds: number; instance: string }> {
  const end = Date.now() / 1000;
  const start = end - rangeSeconds;
  const busy = metricNames.loopBusySeconds;
  const match = instance === undefined ? '' : `instance=${JSON.stringify(instance)}`;
  const targets = await query(base, `timestamp(${busy}{${match}})`, end);
  if (targets.length === 0)
    throw new Unreadable(
      `the Prometheus at ${base} has no ${busy}${instance === undefined ? '' : ` for instance ${JSON.stringify(instance)}`} (does it scrape a greenhub service?)`,
    );
  if (targets.length > 1) {
    const names = targets.map((t) => `${t.metric.instance} (job ${t.metric.job})`).join(', ');
    throw new UsageError(
      `greenhub advise: expected --instance to pick one of the greenhub services the Prometheus scrapes, got ${instance === undefined ? 'nothing' : JSON.stringify(instance)}; it has ${names}`,
      '--instance',
    );
  }
  const target = targets[0]!.metric;
  const selector = `{__name__=~"greenhub_.+",instance=${JSON.stringify(target.instance ?? '')},job=${JSON.stringify(target.job ?? '')}}`;
  const only = `{instance=${JSON.stringify(target.instance ?? '')},job=${JSON.stringify(target.job ?? '')}}`;
  const [after, before, endAt, startAt] = await Promise.all([
    query(base, selector, end),
    query(base, selector, start),
    query(base, `timestamp(${busy}${only})`, end),
    query(base, `timestamp(${busy}${only})`, start),
  ]);
  const seconds = Number(endAt[0]?.value[1] ?? 0) - Number(startAt[0]?.value[1] ?? Number.NaN);
  if (!(seconds > 0))
    throw new Unreadable(
      `the Prometheus at ${base} does not hold two scrapes of ${target.instance} --range (${rangeSeconds} s) apart: choose a range within the data it holds`,
    );
  return { before: toScrape(before), after: toScrape(after), seconds, instance: target.instance ?? '' };
}
