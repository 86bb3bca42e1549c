/**
 * `disconnectSignal(req)`: an `AbortSignal` that aborts when the client of a request goes away
 * before its response is complete — the opt-in half of "a disconnect does not kill the request"
 * (gevent's pywsgi does not kill either). The servers greenhub handles (a patched `http.Server`,
 * `HttpServer`) remember each request's response; the signal itself, and its `'close'` listener,
 * are created only when a handler asks, so a request that never asks pays one property store.
 *
 * The response is kept on the request under a symbol, not in a `WeakMap`: a `WeakMap` entry per
 * request, whose value (the response) points back at its key, outlived V8's young-generation
 * collections until a full one ran — every request object was promoted, and a hello-world server
 * under the preload spent several times plain Node's time in GC.
 *
 * The reason is a {@link GreenletExit} (`'client disconnected'`): the same exception a server with
 * `cancelOnDisconnect: true` kills the request with, so an operation aborted by it (a `fetch`, a
 * `timers/promises` sleep, `fs.promises.readFile(…, { signal })`) reads as a request to stop, not as
 * a failure — a handler that lets it propagate ends quietly, with nothing reported and no `500`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GreenletExit } from '../errors.js';
import { typeError } from '../internal/validate.js';

const kResponse = Symbol('greenhub response');
const signals = new WeakMap<IncomingMessage, AbortSignal>();

/** @internal a server greenhub handles calls this for each request it serves */
export function rememberResponse(req: IncomingMessage, res: ServerResponse): void {
  (req as unknown as Record<symbol, ServerResponse>)[kResponse] = res;
}

function disconnected(): GreenletExit {
  return new GreenletExit('client disconnected');
}

/**
 * An `AbortSignal` that aborts, with a {@link GreenletExit} (`'client disconnected'`), when the client
 * of `req` disconnects before the response to it is complete; it never aborts once the response is
 * complete. `req` must be a request of a server greenhub handles: an `http.Server` after
 * `patchHttp()` (or under `greenhub/register`, `greenhub run`) or a `greenhub/server` `HttpServer`.
 * The same signal is returned each time for the same request.
 *
 * @example
 * ```ts
 * import { disconnectSignal } from 'greenhub/patch';
 * app.get('/report', async (req, res) => {
 *   // stops the upstream call when the client goes away (the request itself is not killed)
 *   const upstream = await fetch(reportUrl, { signal: disconnectSignal(req) });
 *   res.send(await upstream.text());
 * });
 * ```
 */
export function disconnectSignal(req: IncomingMessage): AbortSignal {
  const known = typeof req === 'object' && req !== null ? signals.get(req) : undefined;
  if (known !== undefined) return known;
  const res =
    typeof req === 'object' && req !== null
      ? (req as unknown as Record<symbol, ServerResponse | undefined>)[kResponse]
      : undefined;
  if (res === undefined)
    throw typeError(
      'disconnectSignal()',
      'req',
      'a request of a server greenhub handles (a patched http.Server, or an HttpServer)',
      req,
    );
  let signal: AbortSignal;
  if (res.writableFinished) signal = new AbortController().signal;
  else if (res.destroyed) signal = AbortSignal.abort(disconnected());
  else {
    const controller = new AbortController();
    signal = controller.signal;
    res.once('close', () => {
      if (!res.writableFinished) controller.abort(disconnected());
    });
  }
  signals.set(req, signal);
  return signal;
}
