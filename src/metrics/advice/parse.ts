/**
 * The Prometheus text exposition format, as far as the advice rules read it: one sample per line
 * (`name{label="value",…} value [timestamp]`, an OpenMetrics exemplar after it ignored), `#` lines
 * skipped. Then the two questions the rules
 * ask of two scrapes of the same service: how much a counter grew between them, and the quantile of
 * a histogram's observations made between them (from its `_bucket` deltas, as PromQL's
 * `histogram_quantile` over `rate()` does).
 *
 * A counter that went down between the scrapes (the service restarted) counts from zero, as
 * `rate()` does.
 */

/** One sample of a scrape. */
export interface Sample {
  name: string;
  labels: Readonly<Record<string, string>>;
  value: number;
}

/** A parsed scrape: its samples by metric name. */
export type Scrape = ReadonlyMap<string, readonly Sample[]>;

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/y;

function unescapeLabel(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

function parseValue(text: string): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(text);
}

/**
 * Parse Prometheus text. Lines that are not samples (`# HELP`, `# TYPE`, blank) are skipped; a
 * malformed sample line throws, naming its line number and text.
 *
 * @example
 * ```ts
 * const scrape = parsePrometheusText('greenhub_loop_busy_seconds_total 12.5\n');
 * scrape.get('greenhub_loop_busy_seconds_total'); // [{ name: '…', labels: {}, value: 12.5 }]
 * ```
 */
export function parsePrometheusText(text: string): Scrape {
  const out = new Map<string, Sample[]>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    // An OpenMetrics exemplar follows the value: `… 3 # {trace_id="a"} 0.5`.
    const exemplar = line.indexOf(' # {');
    if (exemplar !== -1) line = line.slice(0, exemplar).trim();
    const m = LINE.exec(line);
    const bad = (): never => {
      throw new SyntaxError(
        `expected line ${i + 1} of the metrics to be a Prometheus sample (name{labels} value), got ${JSON.stringify(line.slice(0, 120))}`,
      );
    };
    if (m === null) return bad();
    const labels: Record<string, string> = {};
    const body = m[3] ?? '';
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < body.length) {
      const start = LABEL.lastIndex;
      const l = LABEL.exec(body);
      if (l === null) {
        if (body.slice(start).trim() === '') break;
        return bad();
      }
      labels[l[1]!] = unescapeLabel(l[2]!);
    }
    const value = parseValue(m[4]!);
    if (Number.isNaN(value) && m[4] !== 'NaN') return bad();
    const name = m[1]!;
    let list = out.get(name);
    if (list === undefined) out.set(name, (list = []));
    list.push({ name, labels, value });
  }
  return out;
}

/** A sample's identity within its metric: its labels, sorted. */
function key(labels: Readonly<Record<string, string>>, without?: string): string {
  return Object.keys(labels)
    .filter((k) => k !== without)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',');
}

/** True when the scrape has a sample of `name`. */
export function has(scrape: Scrape, name: string): boolean {
  return (scrape.get(name)?.length ?? 0) > 0;
}

/**
 * How much each series of counter `name` grew from `before` to `after`, grouped by the label `by`
 * (several labels: their values joined by NUL; `undefined`: everything summed under `''`). A
 * series that went down counts from zero.
 *
 * @example
 * ```ts
 * counterDelta(before, after, 'greenhub_hub_blocked_seconds_total', 'api'); // Map { 'fs.readFileSync' => 3.1 }
 * ```
 */
export function counterDelta(
  before: Scrape,
  after: Scrape,
  name: string,
  by?: string | readonly string[],
): Map<string, number> {
  const earlier = new Map((before.get(name) ?? []).map((s) => [key(s.labels), s.value]));
  const out = new Map<string, number>();
  for (const s of after.get(name) ?? []) {
    const was = earlier.get(key(s.labels)) ?? 0;
    const grew = s.value >= was ? s.value - was : s.value;
    out.set(groupOf(s.labels, by), (out.get(groupOf(s.labels, by)) ?? 0) + grew);
  }
  return out;
}

/** The group of a sample: its value of the label `by`, or of each label of `by` joined by NUL. */
function groupOf(
  labels: Readonly<Record<string, string>>,
  by: string | readonly string[] | undefined,
): string {
  if (by === undefined) return '';
  if (typeof by === 'string') return labels[by] ?? '';
  return by.map((label) => labels[label] ?? '').join('\0');
}

/** The sum of `name`'s samples in one scrape (a gauge), grouped by the label `by`. */
export function gaugeSum(scrape: Scrape, name: string, by?: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of scrape.get(name) ?? []) {
    const group = by === undefined ? '' : (s.labels[by] ?? '');
    out.set(group, (out.get(group) ?? 0) + s.value);
  }
  return out;
}

/** A histogram's observations between two scrapes: cumulative counts by upper bound, ascending. */
export interface HistogramWindow {
  /** `[le, cumulative count]`, the last one `+Inf`. */
  buckets: [number, number][];
  count: number;
  sumSeconds: number;
}

/**
 * The observations histogram `name` (the family, without `_bucket`) gained between the scrapes,
 * grouped by the label `by`. Series of a group (say every `task` of one `pool`) are added up.
 *
 * @example
 * ```ts
 * const wait = histogramDelta(before, after, 'greenhub_threadpool_wait_seconds', 'pool').get('default');
 * quantileSeconds(wait!, 0.99); // 0.231
 * ```
 */
export function histogramDelta(
  before: Scrape,
  after: Scrape,
  name: string,
  by?: string,
): Map<string, HistogramWindow> {
  const earlier = new Map((before.get(`${name}_bucket`) ?? []).map((s) => [key(s.labels), s.value]));
  const groups = new Map<string, Map<number, number>>();
  for (const s of after.get(`${name}_bucket`) ?? []) {
    const was = earlier.get(key(s.labels)) ?? 0;
    const grew = s.value >= was ? s.value - was : s.value;
    const group = by === undefined ? '' : (s.labels[by] ?? '');
    const le = parseValue(s.labels.le ?? '+Inf');
    let g = groups.get(group);
    if (g === undefined) groups.set(group, (g = new Map()));
    g.set(le, (g.get(le) ?? 0) + grew);
  }
  const sums = counterDelta(before, after, `${name}_sum`, by);
  const out = new Map<string, HistogramWindow>();
  for (const [group, byLe] of groups) {
    const sorted = [...byLe].sort((a, b) => a[0] - b[0]);
    // A restart between the scrapes can leave a bucket below its predecessor: keep them monotone.
    for (let i = 1; i < sorted.length; i++) sorted[i]![1] = Math.max(sorted[i]![1], sorted[i - 1]![1]);
    out.set(group, {
      buckets: sorted,
      count: sorted.at(-1)?.[1] ?? 0,
      sumSeconds: sums.get(group) ?? 0,
    });
  }
  return out;
}

/** Add the windows of several groups (every pool's wait, say) into one. */
export function addWindows(windows: Iterable<HistogramWindow>): HistogramWindow {
  const byLe = new Map<number, number>();
  let sumSeconds = 0;
  for (const w of windows) {
    for (const [le, n] of w.buckets) byLe.set(le, (byLe.get(le) ?? 0) + n);
    sumSeconds += w.sumSeconds;
  }
  const buckets = [...byLe].sort((a, b) => a[0] - b[0]);
  return { buckets, count: buckets.at(-1)?.[1] ?? 0, sumSeconds };
}

/**
 * The `q` quantile of a window, in seconds, interpolated linearly within its bucket as PromQL's
 * `histogram_quantile` does (above the last finite bound: that bound). `null` without observations.
 *
 * @example
 * ```ts
 * quantileSeconds({ buckets: [[0.01, 90], [0.1, 100], [Infinity, 100]], count: 100, sumSeconds: 1 }, 0.99); // 0.091
 * ```
 */
export function quantileSeconds(window: HistogramWindow, q: number): number | null {
  const { buckets, count } = window;
  if (count <= 0) return null;
  const rank = q * count;
  let lower = 0;
  let below = 0;
  for (const [le, cumulative] of buckets) {
    if (cumulative >= rank && cumulative > below) {
      if (le === Number.POSITIVE_INFINITY) return lower;
      return lower + ((le - lower) * (rank - below)) / (cumulative - below);
    }
    lower = le === Number.POSITIVE_INFINITY ? lower : le;
    below = cumulative;
  }
  return lower;
}
