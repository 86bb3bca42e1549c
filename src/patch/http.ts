/**
 * `patchHttp()`, client side: `http.request`, `http.get`, `https.request`, `https.get`.
 *
 * A request made in a greenlet is its operation until the request closes (after the response was
 * read, or on failure): a kill or Timeout destroys it — the connection is closed, so the server
 * sees the client go — with the kill's exception as the request's `'error'` when someone listens
 * for it. The server side is in http-server.ts.
 */
import type { ClientRequest } from 'node:http';
import { type Fn, liveGreenlet, trackEmitter, wrapFunctions } from './call.js';
import { destroyWith } from './net.js';
import { patchableBuiltin } from './registry.js';
import { HTTP_CLIENT_FUNCTIONS } from './surface.js';

function wrapRequest(original: Fn): Fn {
  return function request(this: unknown, ...args: unknown[]): unknown {
    const greenlet = liveGreenlet();
    const req = Reflect.apply(original, this, args) as ClientRequest;
    if (greenlet !== undefined) trackEmitter('http', greenlet, req, ['close'], destroyWith);
    return req;
  };
}

/** Patch the http and https clients. Returns what it replaced. */
export function patchHttpClient(): string[] {
  const done: string[] = [];
  for (const name of ['http', 'https'] as const) {
    const host = patchableBuiltin(name);
    if (host === undefined) continue;
    for (const fn of wrapFunctions('http', host, HTTP_CLIENT_FUNCTIONS[name], wrapRequest))
      done.push(`${name}.${fn}`);
  }
  return done;
}
