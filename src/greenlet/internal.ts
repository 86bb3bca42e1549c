/**
 * The hub's internal facade: what the other folders of greenhub (patch, threadpool, metrics,
 * server) may use of `greenlet/` beyond its public API. Nothing outside `greenlet/` reaches a `_x`
 * member of the hub, a greenlet or a primitive; it calls these functions instead (`npm run lint`
 * checks it), so the hub's representation can change behind them.
 *
 * Prior art: effection's `Scope` (public) beside `ScopeInternal`; piscina keeping its pool behind a
 * `#private` field.
 */
import type { Greenlet } from './greenlet.js';
import { getHub } from './hub.js';

/** The live greenlets (started, not dead), newest first: a snapshot, safe to use while they die. */
export function liveGreenlets(): Greenlet[] {
  return [...getHub()._liveGreenlets()];
}
