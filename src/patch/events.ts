/**
 * `patchEvents()`: `events.once()` (also `EventEmitter.once`) and `events.on()`.
 *
 * In a greenlet they get a signal combined with the caller's: a kill or Timeout removes the
 * listener and rejects the pending wait (`await once(socket, 'data')`, the pending `next()` of
 * `for await (const [msg] of on(ws, 'message'))`) with the kill's exception. The emitter itself is
 * left alone. Outside a greenlet they are the originals.
 */
import { iteratorApi, promiseApi, wrapFunctions } from './call.js';
import { builtin } from './registry.js';
import { EVENTS_FUNCTIONS } from './surface.js';

/** Patch events (see the module comment). Returns what it replaced. */
export function patchEvents(): string[] {
  return wrapFunctions('events', builtin('events'), EVENTS_FUNCTIONS.events, (original, name) =>
    name === 'on'
      ? iteratorApi({ kind: 'event', signalAt: 2 }, original)
      : promiseApi({ kind: 'event', signalAt: 2 }, original),
  ).map((name) => `events.${name}`);
}
