/**
 * The primary of `greenhub run --workers N` — gunicorn's arbiter on `node:cluster`: Node's own
 * engine forks the workers and shares the listening port among them (the primary accepts and hands
 * connections round-robin); this class decides how many run, replaces the ones that die, and turns
 * signals into gunicorn's operations:
 *
 * - SIGTERM / SIGINT: every worker gets the signal and stops gracefully (its grace period applies
 *   per worker, in parallel); a second one is passed on too and makes them exit at once.
 * - SIGHUP: a rolling restart. For each old worker in turn, a new one is forked into its slot and
 *   awaited until it listens; only then is the old one told to stop (it closes its listener, so the
 *   primary hands it no new connection, and drains what it has). A SIGHUP during a rolling restart
 *   is queued: one more restart follows, however many came.
 * - SIGTTIN / SIGTTOU: one worker more / one fewer (never fewer than one).
 *
 * A worker that dies on its own is replaced after a backoff, with a message that says how it died;
 * a crash loop (crash-policy.ts) stops every worker and ends with exit status 1.
 *
 * Metrics: the primary asks every worker for its registry at scrape time, over cluster IPC, and
 * combines them (aggregate.ts); a worker's last snapshot is kept when it exits, so counters never
 * go backwards.
 */
import cluster, { type Worker } from 'node:cluster';
import { nativeClearTimeout, nativeSetTimeout, now } from '../../internal/natives.js';
import { ClusterMetrics, keepCounters } from './aggregate.js';
import { CrashPolicy, type CrashPolicyOptions } from './crash-policy.js';
import {
  FINAL_SEQ,
  type FinalAck,
  isMetricsReply,
  type MetricJson,
  type MetricsRequest,
  type MetricsSnapshot,
  WORKER_ENV,
} from './protocol.js';
import { MAX_WORKERS } from './sizing.js';

/** What `greenhub run` passes to the primary. */
export interface ClusterConfig {
  entry: string;
  args: string[];
  /** Node options of each worker: the preloads (`--import …`). */
  execArgv: string[];
  workers: number;
  /** Each worker's default thread pool size. */
  threads: number;
  /** `GREENHUB_PATCH` of each worker. */
  patch: string;
  /** Each worker's grace period, in ms. */
  graceMs: number;
  /** How long past the grace period a stopping worker is killed with SIGKILL, in ms. */
  killMarginMs: number;
  /** How long a new worker of a rolling restart gets to listen, in ms (default 30 000). */
  bootTimeoutMs?: number;
  /** How long a worker gets to answer a metrics request, in ms (default 2 000). */
  scrapeTimeoutMs?: number;
  crash?: CrashPolicyOptions;
}

interface Member {
  readonly worker: Worker;
  readonly slot: number;
  state: 'starting' | 'up' | 'stopping';
  /** The last metrics snapshot it sent. */
  last: MetricsSnapshot;
  /** Resolves `true` once it listens, `false` if it exits first. */
  readonly listening: Promise<boolean>;
  readonly exited: Promise<void>;
  killTimer?: ReturnType<typeof setTimeout>;
}

/**
 * The metrics the primary adds to the workers' under `greenhub run --workers`.
 *
 * @example
 * ```ts
 * clusterMetricNames.workers; // 'greenhub_cluster_workers'
 * ```
 */
export const clusterMetricNames = Object.freeze({
  workers: 'greenhub_cluster_workers',
  deaths: 'greenhub_cluster_worker_deaths_total',
  restarts: 'greenhub_cluster_rolling_restarts_total',
} as const);

function log(line: string): void {
  process.stderr.write(`greenhub: ${line}\n`);
}

function describeExit(code: number | null, signal: string | null): string {
  return signal !== null ? `was killed by ${signal}` : `exited with code ${code ?? '?'}`;
}

/**
 * Forks and supervises the workers (see the module comment).
 *
 * @example
 * ```ts
 * const primary = new ClusterPrimary(config);
 * const code = await primary.run(); // until SIGTERM/SIGINT, or a crash loop
 * ```
 */
export class ClusterPrimary {
  private readonly members = new Set<Member>();
  private readonly policy: CrashPolicy;
  private readonly metrics = new ClusterMetrics();
  private readonly replaceTimers = new Set<ReturnType<typeof setTimeout>>();
  private readonly pending = new Map<
    number,
    { member: Member; resolve: (s: MetricsSnapshot | null) => void }
  >();
  private target: number;
  private seq = 0;
  private deaths = 0;
  private restarts = 0;
  private stopping = false;
  private exitCode = 0;
  private reloading = false;
  private reloadQueued = false;
  private finish: (code: number) => void = () => {};

  constructor(private readonly config: ClusterConfig) {
    this.target = config.workers;
    this.policy = new CrashPolicy(config.crash);
  }

  /** Fork the workers and supervise them; resolves with the exit status once every worker is gone. */
  run(): Promise<number> {
    cluster.setupPrimary({ exec: this.config.entry, args: this.config.args, execArgv: this.config.execArgv });
    const done = new Promise<number>((resolve) => {
      this.finish = resolve;
    });
    const handlers: [NodeJS.Signals, () => void][] = [
      ['SIGTERM', () => this.stop('SIGTERM')],
      ['SIGINT', () => this.stop('SIGINT')],
      ['SIGHUP', () => void this.reload()],
      ['SIGTTIN', () => this.grow()],
      ['SIGTTOU', () => this.shrink()],
    ];
    for (const [signal, handler] of handlers) process.on(signal, handler);
    log(
      `primary pid=${process.pid}: ${this.target} worker${this.target === 1 ? '' : 's'}, ` +
        `${this.config.threads} thread${this.config.threads === 1 ? '' : 's'} each in the default pool`,
    );
    for (let slot = 1; slot <= this.target; slot++) this.fork(slot);
    return done.finally(() => {
      for (const [signal, handler] of handlers) process.off(signal, handler);
    });
  }

  /** The workers that are not stopping. */
  get size(): number {
    let n = 0;
    for (const m of this.members) if (m.state !== 'stopping') n++;
    return n;
  }

  /** The workers that listen and are not stopping: `/healthz` is 503 at 0. */
  get listening(): number {
    let n = 0;
    for (const m of this.members) if (m.state === 'up') n++;
    return n;
  }

  private fork(slot: number): Member {
    const worker = cluster.fork({
      [WORKER_ENV.slot]: String(slot),
      [WORKER_ENV.threads]: String(this.config.threads),
      GREENHUB_PATCH: this.config.patch,
      GREENHUB_SUPERVISED: '1',
    });
    let listened: (up: boolean) => void = () => {};
    const member: Member = {
      worker,
      slot,
      state: 'starting',
      last: [],
      listening: new Promise<boolean>((resolve) => {
        listened = resolve;
      }),
      exited: new Promise<void>((resolve) => {
        worker.once('exit', (code: number | null, signal: string | null) => {
          listened(false);
          this.onExit(member, code, signal);
          resolve();
        });
      }),
    };
    worker.on('listening', (address: { address?: string | null; port?: number }) => {
      if (member.state === 'starting') {
        member.state = 'up';
        log(
          `worker ${slot} (pid ${worker.process.pid}) listening on ${address.address ?? '*'}:${address.port}`,
        );
      }
      listened(true);
    });
    worker.on('message', (message: unknown) => {
      if (!isMetricsReply(message)) return;
      member.last = keepCounters(member.last, message.metrics);
      if (message.seq === FINAL_SEQ) {
        const ack: FinalAck = { greenhub: 'final-ack' };
        if (worker.isConnected()) worker.send(ack);
        return;
      }
      const waiting = this.pending.get(message.seq);
      if (waiting === undefined) return;
      this.pending.delete(message.seq);
      waiting.resolve(message.metrics);
    });
    // An IPC error (the worker exiting mid-send) is the exit's business.
    worker.on('error', () => {});
    this.members.add(member);
    return member;
  }

  private onExit(member: Member, code: number | null, signal: string | null): void {
    this.members.delete(member);
    nativeClearTimeout(member.killTimer);
    for (const [seq, waiting] of this.pending) {
      if (waiting.member !== member) continue;
      this.pending.delete(seq);
      waiting.resolve(null);
    }
    this.metrics.retire(member.last);
    const pid = member.worker.process.pid;
    if (member.state === 'stopping' || this.stopping) {
      if (this.stopping && code !== 0 && this.exitCode === 0) this.exitCode = code ?? 1;
      if (this.stopping && this.members.size === 0) this.finish(this.exitCode);
      return;
    }
    this.deaths++;
    const how = `worker ${member.slot} (pid ${pid}) ${describeExit(code, signal)}${member.state === 'starting' ? ' before it listened' : ''}`;
    const decision = this.policy.death(now());
    if (decision.crashLoop) {
      process.stderr.write(
        `greenhub run: crash loop: ${decision.recent} worker deaths within ${this.policy.windowMs / 1000} s, ` +
          `the last: ${how}; stopping every worker and exiting with 1\n`,
      );
      this.exitCode = 1;
      this.stop('SIGTERM');
      return;
    }
    if ([...this.members].some((m) => m.slot === member.slot && m.state !== 'stopping')) {
      // A new worker of a rolling restart: the old one still holds the slot (rollingRestart stops).
      log(`${how}; worker ${member.slot} keeps the one it was to replace`);
      return;
    }
    log(`${how}; replacing it in ${decision.delayMs} ms`);
    const timer = nativeSetTimeout(() => {
      this.replaceTimers.delete(timer);
      if (this.stopping || member.slot > this.target) return;
      for (const m of this.members) if (m.slot === member.slot && m.state !== 'stopping') return;
      this.fork(member.slot);
    }, decision.delayMs);
    this.replaceTimers.add(timer);
  }

  private stopMember(member: Member, signal: NodeJS.Signals): void {
    member.state = 'stopping';
    member.worker.process.kill(signal);
    const killAfter = this.config.graceMs + this.config.killMarginMs;
    member.killTimer ??= nativeSetTimeout(() => {
      log(
        `worker ${member.slot} (pid ${member.worker.process.pid}) did not exit within ${killAfter} ms of ${signal}; killing it`,
      );
      member.worker.process.kill('SIGKILL');
    }, killAfter);
  }

  /** SIGTERM/SIGINT: stop every worker gracefully; a second signal is passed on (exit at once). */
  stop(signal: NodeJS.Signals): void {
    if (this.stopping) {
      for (const m of this.members) m.worker.process.kill(signal);
      return;
    }
    this.stopping = true;
    for (const timer of this.replaceTimers) nativeClearTimeout(timer);
    this.replaceTimers.clear();
    const n = this.members.size;
    log(
      `${signal}: stopping ${n} worker${n === 1 ? '' : 's'} gracefully, ${this.config.graceMs} ms grace each`,
    );
    for (const m of this.members) this.stopMember(m, signal);
    if (n === 0) this.finish(this.exitCode);
  }

  /** SIGHUP: a rolling restart, or one more after the current one. */
  async reload(): Promise<void> {
    if (this.stopping) return;
    if (this.reloading) {
      log(
        this.reloadQueued
          ? 'SIGHUP during a rolling restart: one more restart is already queued'
          : 'SIGHUP during a rolling restart: queued, one more restart follows this one',
      );
      this.reloadQueued = true;
      return;
    }
    this.reloading = true;
    try {
      do {
        this.reloadQueued = false;
        await this.rollingRestart();
      } while (this.reloadQueued && !this.stopping);
    } finally {
      this.reloading = false;
    }
  }

  private async rollingRestart(): Promise<void> {
    const old = [...this.members].filter((m) => m.state !== 'stopping');
    this.restarts++;
    log(`SIGHUP: rolling restart of ${old.length} worker${old.length === 1 ? '' : 's'}`);
    const bootMs = this.config.bootTimeoutMs ?? 30_000;
    for (const m of old) {
      if (this.stopping) return;
      if (!this.members.has(m) || m.state === 'stopping') continue;
      const fresh = this.fork(m.slot);
      let timer: ReturnType<typeof setTimeout> | undefined;
      let up: boolean | 'late';
      try {
        up = await Promise.race([
          fresh.listening,
          new Promise<'late'>((resolve) => {
            timer = nativeSetTimeout(resolve, bootMs, 'late');
          }),
        ]);
      } finally {
        nativeClearTimeout(timer);
      }
      if (up === false) {
        log(
          `rolling restart stopped: the new worker ${m.slot} died before it listened; the old workers keep serving`,
        );
        return;
      }
      if (up === 'late')
        log(`the new worker ${m.slot} did not listen within ${bootMs} ms; replacing the old one anyway`);
      if (this.stopping || !this.members.has(m)) continue;
      this.stopMember(m, 'SIGTERM');
      await m.exited;
    }
    log(`rolling restart done: ${old.length} worker${old.length === 1 ? '' : 's'} replaced`);
  }

  private freeSlot(): number {
    const used = new Set([...this.members].filter((m) => m.state !== 'stopping').map((m) => m.slot));
    let slot = 1;
    while (used.has(slot)) slot++;
    return slot;
  }

  /** SIGTTIN: one worker more. */
  grow(): void {
    if (this.stopping) return;
    if (this.target >= MAX_WORKERS) {
      log(`SIGTTIN: already at the most workers, ${MAX_WORKERS}`);
      return;
    }
    this.target++;
    log(`SIGTTIN: ${this.target} workers`);
    this.fork(this.freeSlot());
  }

  /** SIGTTOU: one worker fewer, never fewer than one. */
  shrink(): void {
    if (this.stopping) return;
    const live = [...this.members].filter((m) => m.state !== 'stopping').sort((a, b) => b.slot - a.slot);
    if (this.target <= 1 || live.length <= 1) {
      log('SIGTTOU: already at one worker');
      return;
    }
    this.target--;
    log(
      `SIGTTOU: ${this.target} worker${this.target === 1 ? '' : 's'}; worker ${live[0]!.slot} stops gracefully`,
    );
    this.stopMember(live[0]!, 'SIGTERM');
  }

  private request(member: Member): Promise<MetricsSnapshot | null> {
    const seq = ++this.seq;
    return new Promise((resolve) => {
      const timer = nativeSetTimeout(() => {
        this.pending.delete(seq);
        resolve(null);
      }, this.config.scrapeTimeoutMs ?? 2_000);
      this.pending.set(seq, {
        member,
        resolve: (snapshot) => {
          nativeClearTimeout(timer);
          resolve(snapshot);
        },
      });
      const message: MetricsRequest = { greenhub: 'metrics?', seq };
      try {
        member.worker.send(message);
      } catch {
        this.pending.get(seq)?.resolve(null);
        this.pending.delete(seq);
      }
    });
  }

  /**
   * Every live worker's metrics combined (aggregate.ts), with the primary's own: live workers, and
   * deaths and rolling restarts so far. A worker that does not answer in time is left out of the
   * gauges of this scrape; its counters stay at their last values.
   */
  async scrape(): Promise<string> {
    const asked = [...this.members].filter((m) => m.worker.isConnected());
    await Promise.all(asked.map((m) => this.request(m)));
    // Only the workers still here: one that exited meanwhile was retired with its last snapshot.
    const live = [...this.members].map((m) => [String(m.slot), m.last] as const);
    return this.metrics.render(live, this.ownMetrics());
  }

  private ownMetrics(): MetricsSnapshot {
    const one = (name: string, type: string, help: string, value: number): MetricJson => ({
      name,
      help,
      type,
      aggregator: 'sum',
      values: [{ value, labels: {} }],
    });
    return [
      one(
        clusterMetricNames.workers,
        'gauge',
        'Workers running (greenhub run --workers), not stopping',
        this.size,
      ),
      one(
        clusterMetricNames.deaths,
        'counter',
        'Workers that died on their own and were replaced',
        this.deaths,
      ),
      one(clusterMetricNames.restarts, 'counter', 'Rolling restarts (SIGHUP) begun', this.restarts),
    ];
  }
}
