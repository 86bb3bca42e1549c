/**
 * Per-route request counts and durations of one HttpServer, recorded when each response finishes
 * (a map lookup and a bucket increment) and read as a snapshot by metrics and the status page.
 */
import { BoundedLabel } from '../metrics/names.js';
import { DurationRecorder } from '../metrics/recorder.js';
import type { RouteSnapshot } from '../metrics/sources.js';

/** Upper bounds (seconds) of request durations: finer than the default below 100 ms. */
export const HTTP_BUCKETS_SECONDS: readonly number[] = Object.freeze([
  0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30,
]);

interface RouteRecord {
  method: string;
  route: string;
  statuses: Map<string, number>;
  duration: DurationRecorder;
}

export class HttpStats {
  private readonly routes = new Map<string, RouteRecord>();
  readonly routeLabels: BoundedLabel;

  constructor(maxRoutes: number) {
    this.routeLabels = new BoundedLabel(maxRoutes);
  }

  record(method: string, route: string, status: number, ms: number): void {
    const key = `${method} ${route}`;
    let r = this.routes.get(key);
    if (r === undefined) {
      r = { method, route, statuses: new Map(), duration: new DurationRecorder(HTTP_BUCKETS_SECONDS) };
      this.routes.set(key, r);
    }
    const code = String(status);
    r.statuses.set(code, (r.statuses.get(code) ?? 0) + 1);
    r.duration.observeMs(ms);
  }

  snapshot(): RouteSnapshot[] {
    return [...this.routes.values()].map((r) => ({
      method: r.method,
      route: r.route,
      statuses: Object.fromEntries(r.statuses),
      duration: r.duration.snapshot(),
    }));
  }
}
