/**
 * `patchFetch()`: the global `fetch`, and reading the bodies of the responses it returns.
 *
 * In a greenlet, `fetch` gets a signal combined with the caller's own: a kill or Timeout aborts the
 * request (undici closes the connection) and the call rejects with the kill's exception. Reading
 * the body (`text()`, `json()`, `arrayBuffer()`, `blob()`, `formData()`, `bytes()`) is an operation
 * of its own: a kill during it aborts the same request, so the upstream sees its connection close.
 * Iterating `response.body` directly is not tracked. Outside a greenlet `fetch` is untouched.
 *
 * `Response.prototype` is patched when the first response arrives through the patched `fetch`, so
 * that patching does not load undici (~20 ms) in applications that never fetch.
 */
import { type Call, type Fn, promiseApi, wrapFunctions } from './call.js';
import { isTargetPatched } from './registry.js';
import { FETCH_FUNCTIONS } from './surface.js';

/** On a response fetched in a greenlet: the call, whose signal still aborts the request. */
const kRequest = Symbol('greenhub fetch call');
type Fetched = { [kRequest]?: Call };

const readBody = (original: Fn): Fn =>
  promiseApi(
    {
      kind: 'fetch',
      invoke(body, self, args, call) {
        const request = (self as Fetched)[kRequest];
        if (request !== undefined) call.free = (reason) => request.abortSignal(reason);
        return Reflect.apply(body, self, args);
      },
    },
    original,
  );

let bodiesPatched = false;

/** `fetch(request)`: the Request's own signal, which an injected `init.signal` would override. */
function requestSignal(args: unknown[]): unknown {
  const input = args[0];
  return typeof input === 'object' && input !== null ? (input as { signal?: unknown }).signal : undefined;
}

function fetched(response: unknown, call: Call): void {
  if (typeof response !== 'object' || response === null) return;
  // Not enumerable: `console.log(response)` shows what it showed before.
  Object.defineProperty(response, kRequest, { value: call, configurable: true });
  if (!bodiesPatched && isTargetPatched('fetch')) {
    bodiesPatched = true;
    wrapFunctions(
      'fetch',
      Object.getPrototypeOf(response) as object,
      FETCH_FUNCTIONS['Response.prototype'],
      readBody,
    );
  }
}

/** Patch `fetch` (see the module comment). Returns what it replaced. */
export function patchFetch(): string[] {
  bodiesPatched = false;
  return wrapFunctions('fetch', globalThis, FETCH_FUNCTIONS.global, (original) =>
    promiseApi({ kind: 'fetch', signalAt: 1, followSignal: requestSignal, resolved: fetched }, original),
  ).map((name) => `globalThis.${name}`);
}
