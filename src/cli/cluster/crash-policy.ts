/**
 * When a worker dies on its own: how long to wait before replacing it (exponential backoff), and
 * when to stop replacing — a crash loop, an application that dies at startup every time, must end
 * `greenhub run` with an error rather than spin forever forking it (gunicorn's "Worker failed to
 * boot", systemd's `StartLimitBurst` within `StartLimitIntervalSec`).
 */

/** Options of {@link CrashPolicy}. */
export interface CrashPolicyOptions {
  /** This many deaths within {@link windowMs} is a crash loop (default 5). */
  maxDeaths?: number;
  /** The window deaths are counted in, in ms (default 30 000). */
  windowMs?: number;
  /** The first delay before a replacement, in ms (default 100); doubled for each recent death. */
  baseDelayMs?: number;
  /** The longest delay, in ms (default 5 000). */
  maxDelayMs?: number;
}

/** What to do about one death: replace the worker after `delayMs`, or stop (`crashLoop`). */
export type CrashDecision =
  | { crashLoop: false; delayMs: number; recent: number }
  | { crashLoop: true; recent: number };

/**
 * Counts worker deaths in a sliding window.
 *
 * @example
 * ```ts
 * const policy = new CrashPolicy({ maxDeaths: 5, windowMs: 30_000 });
 * const decision = policy.death(performance.now());
 * if (decision.crashLoop) stop(); else setTimeout(replace, decision.delayMs);
 * ```
 */
export class CrashPolicy {
  readonly maxDeaths: number;
  readonly windowMs: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly deaths: number[] = [];

  constructor(opts: CrashPolicyOptions = {}) {
    this.maxDeaths = opts.maxDeaths ?? 5;
    this.windowMs = opts.windowMs ?? 30_000;
    this.baseDelayMs = opts.baseDelayMs ?? 100;
    this.maxDelayMs = opts.maxDelayMs ?? 5_000;
  }

  /** Record a death at `nowMs` and decide. */
  death(nowMs: number): CrashDecision {
    this.deaths.push(nowMs);
    while (this.deaths.length > 0 && this.deaths[0]! <= nowMs - this.windowMs) this.deaths.shift();
    const recent = this.deaths.length;
    if (recent >= this.maxDeaths) return { crashLoop: true, recent };
    return {
      crashLoop: false,
      recent,
      delayMs: Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (recent - 1)),
    };
  }
}
