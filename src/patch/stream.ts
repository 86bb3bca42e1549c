/**
 * `patchStream()`: `stream/promises` (`pipeline`, `finished`; also reachable as `stream.promises`).
 *
 * In a greenlet they get a signal combined with the caller's: a kill or Timeout makes `pipeline`
 * destroy every stream of the pipeline (closing files and sockets) and stops `finished` waiting;
 * the call rejects with the kill's exception. Outside a greenlet they are the originals.
 */
import { promiseApi, wrapFunctions } from './call.js';
import { builtin } from './registry.js';
import { STREAM_FUNCTIONS } from './surface.js';

/** Patch stream/promises (see the module comment). Returns what it replaced. */
export function patchStream(): string[] {
  return wrapFunctions(
    'stream',
    builtin('stream/promises'),
    STREAM_FUNCTIONS['stream/promises'],
    (original, name) => promiseApi({ kind: 'stream', signalAt: name === 'pipeline' ? 'last' : 1 }, original),
  ).map((name) => `stream/promises.${name}`);
}
