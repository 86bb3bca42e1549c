/**
 * `patchDns()`: `dns` and `dns/promises` queries.
 *
 * - `resolve*()` and `reverse()` of the module (the default resolver) run, in a greenlet, on a
 *   private resolver with the same servers (`dns.getServers()`), so that a kill or Timeout can
 *   `cancel()` that query alone: c-ares stops retrying and the call rejects with the kill's
 *   exception. Outside a greenlet they are the originals.
 * - `Resolver` instances you create: a kill rejects the call at once, but the query is left to end
 *   by the resolver's own `timeout`, because `resolver.cancel()` would cancel every query on it.
 * - `dns/promises.lookup()` and both `lookupService()`s run in libuv's thread pool
 *   (`getaddrinfo`), which cannot be interrupted: a kill rejects the call at once and the answer
 *   is dropped when it comes. The callback `dns.lookup()` is left unpatched: it is the plumbing of
 *   `net.connect`, whose own patch already destroys a socket killed while resolving.
 *
 * `dns.setServers()` replaces the default resolver and rebinds every module function to it; the
 * patched `setServers` wraps the new functions again, and `unpatchAll()` rebinds them to the
 * original methods the same way (by setting the same servers again).
 */
import type { Resolver as CallbackResolver } from 'node:dns';
import { type CallSpec, callbackApi, dressAs, type Fn, promiseApi, wrapFunctions } from './call.js';
import { builtin, isTargetPatched, rereplace } from './registry.js';
import { DNS_FUNCTIONS, QUERIES } from './surface.js';

type Label = 'dns' | 'dns/promises';

interface DnsModule {
  Resolver: new () => CallbackResolver;
  getServers(): string[];
  setServers(servers: readonly string[]): void;
  [name: string]: unknown;
}

const LABELS: readonly Label[] = ['dns', 'dns/promises'];
const shapeOf = (label: Label): typeof promiseApi => (label === 'dns' ? callbackApi : promiseApi);

/** `dns.resolve4(…)` in a greenlet: the same query on a private resolver that a kill can cancel. */
function privateQuery(dns: DnsModule, method: Fn): CallSpec['invoke'] {
  return (_original, _self, args, call) => {
    const resolver = new dns.Resolver();
    resolver.setServers(dns.getServers());
    call.free = () => resolver.cancel();
    return Reflect.apply(method, resolver, args);
  };
}

/** The wrapper of a module-level function; `original` is bound to the current default resolver. */
function moduleFunction(label: Label, name: string, original: Fn, methods: Map<string, Fn>): Fn {
  const dns = builtin<DnsModule>(label);
  const method = methods.get(name);
  return shapeOf(label)(
    { kind: 'dns', ...(method === undefined ? {} : { invoke: privateQuery(dns, method) }) },
    original,
  );
}

/** The prototype methods as they were before the patch, per module. */
const originalMethods = new Map<Label, Map<string, Fn>>();

function rewrapAfterRebind(): void {
  for (const label of LABELS) {
    const dns = builtin<DnsModule>(label);
    const methods = originalMethods.get(label)!;
    for (const name of [...QUERIES, 'lookupService', 'lookup']) {
      const fresh = dns[name];
      if (typeof fresh === 'function' && !Object.hasOwn(fresh, kWrapped))
        rereplace(dns, name, mark(dressAs(moduleFunction(label, name, fresh as Fn, methods), fresh as Fn)));
    }
  }
}

const kWrapped = Symbol('greenhub dns wrapper');
function mark(fn: Fn): Fn {
  Object.defineProperty(fn, kWrapped, { value: true });
  return fn;
}

/** Patch dns (see the module comment). Returns what it replaced. */
export function patchDns(): string[] {
  const done: string[] = [];
  for (const label of LABELS) {
    const dns = builtin<DnsModule>(label);
    const proto = dns.Resolver.prototype as unknown as Record<string, Fn>;
    const methods = new Map<string, Fn>();
    for (const name of QUERIES) if (typeof proto[name] === 'function') methods.set(name, proto[name]);
    if (!originalMethods.has(label)) originalMethods.set(label, methods);
    const names = wrapFunctions('dns', dns, DNS_FUNCTIONS[label], (original, name) =>
      name === 'setServers'
        ? function setServers(this: unknown, ...args: unknown[]): unknown {
            const result = Reflect.apply(original, this, args);
            if (isTargetPatched('dns')) rewrapAfterRebind();
            return result;
          }
        : mark(moduleFunction(label, name, original, originalMethods.get(label)!)),
    );
    for (const name of names) done.push(`${label}.${name}`);
    for (const name of wrapFunctions('dns', proto, QUERIES, (original) =>
      shapeOf(label)({ kind: 'dns' }, original),
    ))
      done.push(`${label}.Resolver.prototype.${name}`);
  }
  return done;
}

/** After the originals are back: rebind the module functions to the original methods. */
export function rebindDns(): void {
  const dns = builtin<DnsModule>('dns');
  dns.setServers(dns.getServers());
}
