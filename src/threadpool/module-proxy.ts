/**
 * Module proxies: `pool.module<typeof import('./tasks.js')>(url)` is comlink's `wrap()` over an
 * endpoint that is not a port but the pool: every request comlink posts becomes a pool task
 * (module-worker.ts serves it on a thread), and the task's outcome becomes comlink's reply.
 *
 * comlink provides the call surface (property paths, argument and transfer handling, the
 * `Remote<M>` types); the endpoint adds what comlink lacks on Node:
 * - a call whose thread dies (or whose pool closes) rejects, instead of waiting forever for a reply
 *   from a port that will never answer;
 * - calls are cancellable: a pool task inside the calling greenlet (kill, Timeout), plus an
 *   optional per-call `timeout`;
 * - errors keep `name`, `message`, `stack`, `code` and `cause` (wire-errors.ts).
 */
import { createRequire } from 'node:module';
import type { Remote } from 'comlink';
import { UncloneableError } from '../errors.js';
import { checkOptions, checkTimeout } from '../internal/validate.js';
import { typeName } from './clone-check.js';
import { checkCrossing } from './cross-mode.js';
import { MSG_COMLINK } from './protocol.js';
import type { CallOptions, Submission } from './submission.js';
import { type AnyTaskRef, moduleUrl, TaskRef } from './task.js';
import { fromWire, isWireError } from './wire-errors.js';

/** Options of `ThreadPool.module()`. */
export interface ModuleProxyOptions {
  /** Milliseconds each call may take; then it is cancelled and rejects with a `Timeout`. */
  timeout?: number | null;
}

/** What the endpoint needs from its pool. */
export interface ModuleHost {
  /** @internal */
  _submit<R>(
    where: string,
    task: AnyTaskRef,
    args: unknown[],
    flags: number,
    transfer?: unknown[],
    options?: CallOptions,
  ): Submission<R>;
}

interface Request {
  id: string;
  type: string;
  path: string[];
  argumentList?: { type: string; value: unknown }[];
}

interface Reply {
  id: string;
  type: string;
  name?: string;
  value?: unknown;
}

const require = createRequire(import.meta.url);
let comlink: { wrap<T>(endpoint: unknown): Remote<T> } | undefined;

class PoolEndpoint {
  private listener: ((event: { data: Reply }) => void) | null = null;

  constructor(
    private readonly pool: ModuleHost,
    private readonly ref: AnyTaskRef,
    /** The proxy's `timeout`, which the Submission owns (its timer is cleared when the call settles). */
    private readonly options: CallOptions,
  ) {}

  addEventListener(_type: string, listener: (event: { data: Reply }) => void): void {
    this.listener = listener;
  }

  removeEventListener(): void {
    this.listener = null;
  }

  postMessage(request: Request, transfer: unknown[] = []): void {
    const { id, type, path } = request;
    if (type === 'RELEASE') {
      this.reply({ id, type: 'RAW', value: undefined });
      return;
    }
    const where = `${this.ref.label}: ${path.join('.') || '(module)'}${type === 'APPLY' ? '()' : ''}`;
    if (type !== 'APPLY' && type !== 'GET') {
      this.fail(
        id,
        new TypeError(
          `${where}: ${type === 'SET' ? 'assigning to' : type === 'CONSTRUCT' ? 'constructing' : type} a module ` +
            "export through a pool proxy is not supported: each call may run on a different thread, so an object or a value set there would not be there next time. Call the module's functions",
        ),
      );
      return;
    }
    let submission: Submission<Reply>;
    try {
      const values = (request.argumentList ?? []).map((wire) => wire.value);
      checkArguments(where, values);
      checkCrossing(where, values, 'A module proxy call runs on another thread');
      submission = this.pool._submit(where, this.ref, [request], 0, transfer, this.options);
    } catch (error) {
      this.fail(id, error);
      return;
    }
    submission.wait().then(
      (reply) => this.reply(rebuildThrown(reply)),
      (error: unknown) => this.fail(id, error),
    );
  }

  private reply(reply: Reply): void {
    this.listener?.({ data: reply });
  }

  /** Make comlink reject the call `id` with `error` itself (a non-Error throw passes through as is). */
  private fail(id: string, error: unknown): void {
    this.reply({ id, type: 'HANDLER', name: 'throw', value: { isError: false, value: error } });
  }
}

function checkArguments(where: string, values: unknown[]): void {
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (typeof value !== 'function' && typeof value !== 'symbol') continue;
    throw new UncloneableError(
      `${where}: argument ${i} cannot be sent to a worker thread: it is a ${typeName(value)}`,
      `args[${i}]`,
      typeName(value),
    );
  }
}

/** A reply carrying a task's wire error carries the rebuilt error instead. */
function rebuildThrown(reply: Reply): Reply {
  if (reply.type !== 'HANDLER' || reply.name !== 'throw') return reply;
  const thrown = reply.value as { isError: boolean; value: unknown };
  if (!isWireError(thrown.value)) return reply;
  return { ...reply, value: { isError: false, value: fromWire(thrown.value) } };
}

export function createModuleProxy<M>(pool: ModuleHost, url: unknown, opts?: ModuleProxyOptions): Remote<M> {
  const href = moduleUrl('ThreadPool.module()', 'url', url);
  checkOptions('ThreadPool.module()', 'opts', opts, ['timeout']);
  const timeout = checkTimeout('ThreadPool.module()', 'opts.timeout', opts?.timeout);
  comlink ??= require('comlink') as typeof comlink;
  const file = href.slice(href.lastIndexOf('/') + 1);
  const ref = new TaskRef(MSG_COMLINK, href, '', href.startsWith('data:') ? 'data: module' : file);
  return comlink!.wrap<M>(new PoolEndpoint(pool, ref, { timeoutMs: timeout }));
}
