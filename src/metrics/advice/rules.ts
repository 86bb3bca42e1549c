/**
 * What to change in a greenhub service, from two scrapes of its `/metrics` — the one rule engine
 * behind `greenhub advise` (cli/advise: fetching, Prometheus range queries, printing) and the status
 * page (server/status-advice.ts: the service's own registry). Each rule is a pure
 * function of the two scrapes (and the window between them, and the core count), returning zero or
 * more lines of advice, each with the numbers it rests on. `advise()` runs them all; a service no
 * rule fires on gets one "nothing to change" line with the numbers that say why.
 *
 * Thresholds are named constants (documented in the README's `greenhub advise`). They are chosen to
 * name a problem worth a change, not to find one in every service: a loop busy less than
 * {@link ROUTE_BUSY_UTILIZATION} of the time has room, whichever route uses it.
 */
import { metricNames as n } from '../names.js';
import {
  addWindows,
  counterDelta,
  gaugeSum,
  type HistogramWindow,
  has,
  histogramDelta,
  quantileSeconds,
  type Scrape,
} from './parse.js';

/** Loop utilization (busy share of wall time) at and above which the hub counts as saturated… */
export const LOOP_SATURATED_UTILIZATION = 0.9;
/** …when the loop delay p99 (how late a 10 ms timer ran) is also at least this many ms. */
export const LOOP_SATURATED_DELAY_P99_MS = 20;
/** Loop utilization below which no route is worth moving off the hub: the loop has room. */
export const ROUTE_BUSY_UTILIZATION = 0.3;
/** A greenlet name holding at least this share of the loop's busy time is named. */
export const ROUTE_LOOP_SHARE = 0.5;
/** Loop time per call below which a thread costs more than it saves (shipping a task: ~0.1–1 ms). */
export const OFFLOAD_MIN_MS_PER_CALL = 1;
/** Pool queue wait p99 at and above which tasks wait too long for a thread… */
export const POOL_WAIT_P99_MS = 50;
/**
 * …and at least this many tasks of the window waited longer than that (counted from the buckets at
 * or above the threshold): a p99 over a few dozen tasks is their maximum, and one task that waited
 * for a thread to start is not a queue.
 */
export const POOL_MIN_SLOW_TASKS = 5;
/**
 * Pool utilization (busy thread time over `maxThreads`) below which a long wait is not a shortage
 * of threads: threads were idle, and a task still waited to start on one (a machine whose CPUs
 * other processes hold, or pool threads at a lower priority, `niceIncrement`).
 */
export const POOL_BUSY_UTILIZATION = 0.7;
/** Blocked time beyond `maxBlockingTime`, in seconds per minute, at and above which an API is named. */
export const BLOCKED_SECONDS_PER_MINUTE = 0.5;

/** What a rule reads: two scrapes `seconds` apart, and the service machine's cores if known. */
export interface AdviceInput {
  before: Scrape;
  after: Scrape;
  /** Seconds between the two scrapes. */
  seconds: number;
  /** Cores of the service's machine; `null` when unknown (a remote URL without `--cores`). */
  cores: number | null;
}

/** One line of advice. */
export interface Advice {
  /** The rule that fired: `route-holds-loop`, `loop-saturated`, `pool-wait`, `blocked`, `nothing`… */
  rule: string;
  /** The line: what was seen, with its numbers, `→` what to change. */
  text: string;
}

/** A rule: two scrapes in, advice out. */
export type Rule = (input: AdviceInput) => Advice[];

const pct = (ratio: number): string => `${Math.round(ratio * 100)} %`;
const ms = (seconds: number): string => {
  const v = seconds * 1000;
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`;
};

/** The loop's utilization over the window (0–1), from `greenhub_loop_busy_seconds_total`. */
export function loopUtilization({ before, after, seconds }: AdviceInput): number {
  const busy = counterDelta(before, after, n.loopBusySeconds).get('') ?? 0;
  return seconds > 0 ? Math.min(1, busy / seconds) : 0;
}

/** The loop delay p99 over the window, in seconds (`null`: no samples). */
export function loopDelayP99({ before, after }: AdviceInput): number | null {
  const w = histogramDelta(before, after, n.loopDelay).get('');
  return w === undefined ? null : quantileSeconds(w, 0.99);
}

function who(name: string): string {
  return /^[A-Z]+ \//.test(name) ? `route ${name}` : `greenlets named ${JSON.stringify(name)}`;
}

/**
 * The greenlet name (an HTTP route) that holds most of the loop's busy time, from
 * `greenhub_greenlet_loop_seconds_total{name}`: offload it when each call costs enough to be worth a
 * thread. Without that metric (it is opt-in), says so and falls back to greenlet durations, which
 * count waiting too.
 *
 * @example
 * ```ts
 * routeHoldsLoop({ before, after, seconds: 5, cores: 2 });
 * // [{ rule: 'route-holds-loop', text: 'route GET /cpu holds the loop 78 % of busy time … → offload it …' }]
 * ```
 */
export const routeHoldsLoop: Rule = (input) => {
  const { before, after, seconds } = input;
  const utilization = loopUtilization(input);
  if (utilization < ROUTE_BUSY_UTILIZATION) return [];
  const busy = utilization * seconds;
  const calls = counterDelta(before, after, `${n.greenletDuration}_count`, 'name');
  if (!has(after, n.greenletLoopSeconds)) {
    const durations = [...counterDelta(before, after, `${n.greenletDuration}_sum`, 'name')].sort(
      (a, b) => b[1] - a[1],
    );
    const total = durations.reduce((a, [, v]) => a + v, 0);
    const top = durations[0];
    const lead = `loop utilization ${pct(utilization)} and ${n.greenletLoopSeconds} is absent → turn it on (collectMetrics({ loopTime: true })) to see which route holds the loop`;
    if (top === undefined || total <= 0) return [{ rule: 'loop-time-absent', text: lead }];
    return [
      {
        rule: 'loop-time-absent',
        text: `${lead}; meanwhile, by greenlet duration (which counts waiting too), ${who(top[0])} takes ${pct(top[1] / total)} of greenlet time`,
      },
    ];
  }
  const out: Advice[] = [];
  const loop = [...counterDelta(before, after, n.greenletLoopSeconds, 'name')].sort((a, b) => b[1] - a[1]);
  for (const [name, loopSeconds] of loop) {
    const share = busy > 0 ? loopSeconds / busy : 0;
    if (share < ROUTE_LOOP_SHARE) break;
    const count = calls.get(name) ?? 0;
    const perCall = count > 0 ? loopSeconds / count : null;
    const numbers = `(${loopSeconds.toFixed(2)} of ${busy.toFixed(2)} busy s over ${seconds.toFixed(1)} s${perCall === null ? '' : `, ${ms(perCall)} per call`})`;
    if (perCall !== null && perCall * 1000 < OFFLOAD_MIN_MS_PER_CALL)
      out.push({
        rule: 'route-holds-loop',
        text: `${who(name)} holds the loop ${pct(share)} of busy time ${numbers}, but each call is too short for a thread → add processes`,
      });
    else
      out.push({
        rule: 'route-holds-loop',
        text: `${who(name)} holds the loop ${pct(share)} of busy time ${numbers} → offload it (pool.run / hybrid)`,
      });
  }
  return out;
};

/**
 * The hub saturated: loop utilization and loop delay p99 both past their thresholds.
 *
 * @example
 * ```ts
 * loopSaturated(input); // [{ rule: 'loop-saturated', text: 'loop utilization 97 %, loop delay p99 40 ms → …' }]
 * ```
 */
export const loopSaturated: Rule = (input) => {
  const utilization = loopUtilization(input);
  const p99 = loopDelayP99(input);
  if (utilization < LOOP_SATURATED_UTILIZATION || p99 === null || p99 * 1000 < LOOP_SATURATED_DELAY_P99_MS)
    return [];
  return [
    {
      rule: 'loop-saturated',
      text: `loop utilization ${pct(utilization)}, loop delay p99 ${ms(p99)} → the hub is saturated: move CPU work to the pool, or add processes`,
    },
  ];
};

/** Observations of the window above the smallest bucket bound at or above `seconds` (a lower bound of those above `seconds`). */
function tasksAbove(w: HistogramWindow, seconds: number): number {
  const bucket = w.buckets.find(([le]) => le >= seconds);
  return bucket === undefined ? 0 : w.count - bucket[1];
}

/**
 * Tasks waiting for a thread, by pool: wait p99 past {@link POOL_WAIT_P99_MS}, with at least
 * {@link POOL_MIN_SLOW_TASKS} tasks past it. More threads help only up to the core count.
 *
 * @example
 * ```ts
 * poolWait(input); // [{ rule: 'pool-wait', text: 'pool default: queue wait p99 231 ms … → add processes or machines, not threads' }]
 * ```
 */
export const poolWait: Rule = (input) => {
  const { before, after, cores, seconds } = input;
  const busy = counterDelta(before, after, n.threadpoolBusySeconds, 'pool');
  const maxThreads = gaugeSum(after, n.threadpoolMaxThreads, 'pool');
  const threads = gaugeSum(after, n.threadpoolThreads, 'pool');
  const out: Advice[] = [];
  for (const [pool, w] of histogramDelta(before, after, n.threadpoolWait, 'pool')) {
    const p99 = quantileSeconds(w, 0.99);
    if (p99 === null || p99 * 1000 < POOL_WAIT_P99_MS) continue;
    const slow = tasksAbove(w, POOL_WAIT_P99_MS / 1000);
    if (slow < POOL_MIN_SLOW_TASKS) continue;
    const size = maxThreads.get(pool) ?? threads.get(pool);
    const seen = `pool ${pool}: queue wait p99 ${ms(p99)} over ${Math.round(w.count)} tasks (${Math.round(slow)} waited over ${POOL_WAIT_P99_MS} ms)`;
    const utilization = size === undefined || seconds <= 0 ? null : (busy.get(pool) ?? 0) / (seconds * size);
    let text: string;
    if (utilization !== null && utilization < POOL_BUSY_UTILIZATION)
      text = `${seen} while its ${size} threads were busy ${pct(utilization)} of the time → not a shortage of threads: tasks wait for a CPU (other processes on the machine, or the pool's niceIncrement)`;
    else if (size === undefined)
      text = `${seen} → add threads up to the core count, beyond it processes or machines`;
    else if (cores === null)
      text = `${seen} with ${size} threads (cores unknown: pass --cores) → add threads up to the core count, beyond it processes or machines`;
    else if (size >= cores)
      text = `${seen} with threads ${size} ${size === cores ? '=' : '>'} cores ${cores} → add processes or machines, not threads`;
    else text = `${seen} with ${size} threads on ${cores} cores → raise maxThreads toward ${cores}`;
    out.push({ rule: 'pool-wait', text });
  }
  return out;
};

/**
 * Blocking APIs: seconds per minute the hub was blocked beyond `maxBlockingTime`, by API, and the
 * greenlet (route) that held the loop most in each.
 *
 * @example
 * ```ts
 * blockedBy(input); // [{ rule: 'blocked', text: 'loop blocked 3.1 s/min by fs.readFileSync in GET /report → …' }]
 * ```
 */
export const blockedBy: Rule = ({ before, after, seconds }) => {
  if (seconds <= 0) return [];
  const out: Advice[] = [];
  const byApi = [...counterDelta(before, after, n.hubBlockedSeconds, 'api')].sort((a, b) => b[1] - a[1]);
  const byApiAndName = counterDelta(before, after, n.hubBlockedSeconds, ['api', 'name']);
  for (const [api, blocked] of byApi) {
    const perMinute = (blocked / seconds) * 60;
    if (perMinute < BLOCKED_SECONDS_PER_MINUTE) continue;
    // The greenlet (route) that held the loop longest in this API; its share when not all of it.
    let where = '';
    let most = 0;
    for (const [key, ms] of byApiAndName) {
      const [keyApi, name = ''] = key.split('\0');
      if (keyApi !== api || ms <= most || name === 'none' || name === '') continue;
      most = ms;
      where = name;
    }
    const share = most / blocked;
    const held = where === '' ? '' : ` in ${where}${share < 0.995 ? ` (${Math.round(share * 100)} %)` : ''}`;
    out.push({
      rule: 'blocked',
      text:
        api === 'none'
          ? `loop blocked ${perMinute.toFixed(1)} s/min by code outside any patched API${held} → find it with startBlockingMonitor() and move it to the pool`
          : `loop blocked ${perMinute.toFixed(1)} s/min by ${api}${held} → use its asynchronous form, or run it in the pool`,
    });
  }
  return out;
};

/** Every rule, in the order their advice is printed. */
export const RULES: readonly Rule[] = [loopSaturated, routeHoldsLoop, blockedBy, poolWait];

/**
 * Run every rule; without advice, one `nothing` line with the numbers behind it.
 *
 * @example
 * ```ts
 * const advice = advise({ before: parsePrometheusText(a), after: parsePrometheusText(b), seconds: 5, cores: 2 });
 * for (const a of advice) console.log(a.text);
 * ```
 */
export function advise(input: AdviceInput): Advice[] {
  const out = RULES.flatMap((rule) => rule(input));
  if (out.length > 0) return out;
  const p99 = loopDelayP99(input);
  const wait = addWindows(histogramDelta(input.before, input.after, n.threadpoolWait, 'pool').values());
  const waitP99 = quantileSeconds(wait, 0.99);
  const parts = [
    `loop utilization ${pct(loopUtilization(input))}`,
    `loop delay p99 ${p99 === null ? '–' : ms(p99)}`,
    ...(wait.count > 0 && waitP99 !== null
      ? [`pool wait p99 ${ms(waitP99)} over ${Math.round(wait.count)} tasks`]
      : []),
  ];
  return [{ rule: 'nothing', text: `nothing to change: ${parts.join(', ')}` }];
}
