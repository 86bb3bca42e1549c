/**
 * The status page's advice: `greenhub advise`'s rules (metrics/advice/rules.ts) on the service's own
 * metrics text, read from its prom-client registry, over windows of about `windowMs`. The page
 * polls every second; a window's advice stands until the next window closes, so that one busy
 * second does not flip it.
 */
import { availableParallelism } from 'node:os';
import { now } from '../internal/natives.js';
import { has, parsePrometheusText, type Scrape } from '../metrics/advice/parse.js';
import { type Advice, advise } from '../metrics/advice/rules.js';
import { hasCollection } from '../metrics/collect.js';
import { metricNames } from '../metrics/names.js';
import type { RegistryLike } from '../metrics/registry.js';

/** The advice shown on the status page. */
export interface StatusAdvice {
  /** The window the lines cover, seconds; `null` before the first window closed. */
  windowSeconds: number | null;
  /** The advice; empty before the first window closed. */
  lines: Advice[];
  /** Why there is no advice, when there is none (no greenhub metrics in the registry, first window). */
  note?: string;
}

/**
 * Advice over windows of `windowMs`, from a registry's metrics text.
 *
 * @example
 * ```ts
 * const advice = new AdviceWindow(register, 10_000);
 * await advice.refresh(); // the first scrape opens a window
 * advice.current;         // { windowSeconds: null, lines: [], note: 'advice after 10 s' }
 * ```
 */
export class AdviceWindow {
  private start: { scrape: Scrape; atMs: number } | null = null;
  private pending: Promise<void> | null = null;
  current: StatusAdvice;

  /**
   * @param register where the service's metrics are (`undefined`: prom-client's global registry).
   * @param windowMs how long a window lasts before its advice is computed.
   */
  constructor(
    private readonly register: RegistryLike | undefined,
    private readonly windowMs: number,
  ) {
    this.current = { windowSeconds: null, lines: [], note: `advice after ${Math.round(windowMs / 1000)} s` };
  }

  /** Close the window if it is due (reading the registry); resolves once `current` is up to date. */
  refresh(): Promise<void> {
    if (this.start !== null && now() - this.start.atMs < this.windowMs) return Promise.resolve();
    this.pending ??= this.read().finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  private async read(): Promise<void> {
    const register = this.register ?? (await import('prom-client')).default.register;
    if (!hasCollection(register)) {
      this.current = {
        windowSeconds: null,
        lines: [],
        note: 'no advice: greenhub metrics are not registered (collectMetrics())',
      };
      return;
    }
    let scrape: Scrape;
    try {
      scrape = parsePrometheusText(await register.metrics());
    } catch (error) {
      this.current = { windowSeconds: null, lines: [], note: `no advice: ${(error as Error).message}` };
      return;
    }
    const atMs = now();
    if (!has(scrape, metricNames.loopBusySeconds)) {
      // A prefix (collectMetrics({ prefix })) renames every metric the rules read.
      this.current = { windowSeconds: null, lines: [], note: 'no advice: metrics registered with a prefix' };
      return;
    }
    const start = this.start;
    this.start = { scrape, atMs };
    if (start === null) return;
    const seconds = (atMs - start.atMs) / 1000;
    this.current = {
      windowSeconds: seconds,
      lines: advise({ before: start.scrape, after: scrape, seconds, cores: availableParallelism() }),
    };
  }
}
