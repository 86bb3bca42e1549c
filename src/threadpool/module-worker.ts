/**
 * The worker side of module proxies (`pool.module(url)`): comlink's `expose()` serves each module
 * through an in-memory endpoint, fed one request per pool task; its reply becomes the task's result.
 *
 * The module is exposed through a wrapper that turns every thrown error into a {@link toWire}
 * object before comlink sees it (comlink's own throw handler would keep only `name`, `message` and
 * `stack`); comlink passes a non-Error through unchanged, and the calling side rebuilds it.
 */
import { createRequire } from 'node:module';
import { exportOf } from './task-loader.js';
import { toWire } from './wire-errors.js';

export interface ComlinkRequest {
  id: string;
  type: string;
  path: string[];
}

interface Comlink {
  expose(object: unknown, endpoint: unknown): void;
}

interface PiscinaTransfer {
  move(value: unknown): unknown;
  transferableSymbol: symbol;
  valueSymbol: symbol;
}

const require = createRequire(import.meta.url);
let comlink: Comlink | undefined;
const endpoints = new Map<string, Promise<TaskEndpoint>>();

type Reply = [message: unknown, transfer: unknown[]];

/** A comlink endpoint that is not a port: requests come from pool tasks, replies resolve them. */
class TaskEndpoint {
  private listener: ((event: { data: unknown }) => void) | null = null;
  private readonly pending = new Map<string, (reply: Reply) => void>();

  addEventListener(_type: string, listener: (event: { data: unknown }) => void): void {
    this.listener = listener;
  }

  removeEventListener(): void {
    this.listener = null;
  }

  postMessage(message: { id: string }, transfer: unknown[] = []): void {
    const resolve = this.pending.get(message.id);
    if (resolve === undefined) return;
    this.pending.delete(message.id);
    resolve([message, transfer]);
  }

  request(message: ComlinkRequest): Promise<Reply> {
    return new Promise((resolve) => {
      this.pending.set(message.id, resolve);
      this.listener?.({ data: message });
    });
  }
}

const wrappers = new WeakMap<object, unknown>();

/** `value` with every function in it (and in nested objects) throwing wire errors. */
function wrap(value: unknown, self: unknown): unknown {
  if (typeof value === 'function') {
    let wrapper = wrappers.get(value);
    if (wrapper === undefined) {
      const fn = value as (...args: unknown[]) => unknown;
      wrapper = function (this: unknown, ...args: unknown[]): unknown {
        let result: unknown;
        try {
          result = fn.apply(self, args);
        } catch (error) {
          throw toWire(error);
        }
        if (result instanceof Promise) return result.catch(rethrowWire);
        return result;
      };
      wrappers.set(value, wrapper);
    }
    return wrapper;
  }
  if (typeof value !== 'object' || value === null) return value;
  let proxy = wrappers.get(value);
  if (proxy === undefined) {
    proxy = new Proxy(value, { get: (target, key) => wrap(Reflect.get(target, key), target) });
    wrappers.set(value, proxy);
  }
  return proxy;
}

function rethrowWire(error: unknown): never {
  throw toWire(error);
}

async function endpointFor(url: string): Promise<TaskEndpoint> {
  const namespace = (await import(url)) as Record<string, unknown>;
  comlink ??= require('comlink') as Comlink;
  const endpoint = new TaskEndpoint();
  comlink.expose(wrap(namespace, undefined), endpoint);
  return endpoint;
}

/** Serve one comlink request for module `url`; resolves with comlink's reply. */
export async function callModule(url: string, request: ComlinkRequest): Promise<unknown> {
  let endpoint = endpoints.get(url);
  if (endpoint === undefined) {
    endpoint = endpointFor(url);
    endpoints.set(url, endpoint);
  }
  if (request.type === 'APPLY' && request.path.length === 1) {
    // A clear error for a misspelt export, before comlink's "undefined is not a function".
    exportOf((await import(url)) as Record<string, unknown>, url, request.path[0]!);
  }
  const [reply, transfer] = await (await endpoint).request(request);
  if (transfer.length === 0) return reply;
  // Replies that move buffers (comlink.transfer) travel as piscina movables.
  const piscina = require('piscina') as PiscinaTransfer;
  return piscina.move({ [piscina.transferableSymbol]: transfer, [piscina.valueSymbol]: reply });
}
