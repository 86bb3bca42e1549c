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
  /** Responses by status code (a number key: no string made per request). */
  statuses: Map<number, number>;
  duration: DurationRecorder;
}

export class HttpStats {
  /**
   * Route, then method: a request finds its record with two lookups of strings it already has
   * (the route label, the method) instead of building a `"GET /route"` key and hashing it anew.
   */
  private readonly routes = new Map<string, Map<string, RouteRecord>>();
  readonly routeLabels: BoundedLabel;

  constructor(maxRoutes: number) {
    this.routeLabels = new BoundedLabel(maxRoutes);
  }

  record(method: string, route: string, status: number, ms: number): void {
    let byMethod = this.routes.get(route);
    if (byMethod === undefined) this.routes.set(route, (byMethod = new Map()));
    let r = byMethod.get(method);
    if (r === undefined) {
      r = { method, route, statuses: new Map(), duration: new DurationRecorder(HTTP_BUCKETS_SECONDS) };
      byMethod.set(method, r);
    }
    r.statuses.set(status, (r.statuses.get(status) ?? 0) + 1);
    r.duration.observeMs(ms);
  }

  snapshot(): RouteSnapshot[] {
    const out: RouteSnapshot[] = [];
    for (const byMethod of this.routes.values())
      for (const r of byMethod.values())
        out.push({
          method: r.method,
          route: r.route,
          statuses: Object.fromEntries(r.statuses),
          duration: r.duration.snapshot(),
        });
    return out;
  }
}
