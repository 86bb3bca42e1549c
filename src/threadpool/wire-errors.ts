/**
 * Errors across threads: a task's error is taken apart in the worker ({@link toWire}) and rebuilt
 * on the calling thread ({@link fromWire}) with its `name`, `message`, `stack`, `code`, `cause`
 * (recursively), an AggregateError's `errors`, and its other own properties.
 *
 * Why not let structured clone carry the Error: it keeps only the standard classes and drops
 * `code` and custom properties; piscina would pass it as is. Why not comlink's throw handler: it
 * keeps `message`, `name` and `stack` only. (undici's `core/errors.js` and comlink's throw handler
 * are the prior art; trio re-raises the original exception object, which a thread boundary forbids.)
 *
 * Guarantees:
 * - The rebuilt error is an instance of the same standard class (`TypeError`, `RangeError`…,
 *   `Error` for user classes, whose `name` is kept), or of the same greenhub class (found by
 *   `code`), so `instanceof` and `switch (e.code)` keep working.
 * - Taking an error apart never throws and never produces something that cannot be cloned:
 *   properties that would not cross (a socket on `err.request`) are replaced by a description,
 *   throwing getters are skipped, and a cyclic or very deep `cause` chain is cut.
 * - A thrown non-Error (a string, a plain object) arrives as the same value.
 */
import * as errors from '../errors.js';
import { typeName } from './clone-check.js';

/** An error taken apart for the trip to another thread. */
export interface WireError {
  readonly $greenhubError: 1;
  /** False for a thrown non-Error, carried in `value`. */
  readonly isError: boolean;
  readonly value?: unknown;
  /** The nearest standard constructor on its prototype chain (`TypeError`…), or `Error`. */
  readonly ctor?: string;
  readonly name?: string;
  readonly message?: string;
  readonly stack?: string;
  readonly code?: unknown;
  readonly cause?: WireError;
  readonly errors?: WireError[];
  readonly props?: Record<string, unknown>;
}

const STANDARD: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
  AggregateError: AggregateError as unknown as ErrorConstructor,
};

/** greenhub's own classes, found again by their stable `code`. */
const BY_CODE = new Map<string, { prototype: Error }>([
  ['ERR_GREENHUB_GREENLET_EXIT', errors.GreenletExit],
  ['ERR_GREENHUB_LOOP_EXIT', errors.LoopExit],
  ['ERR_GREENHUB_DEADLOCK', errors.DeadlockError],
  ['ERR_GREENHUB_QUEUE_EMPTY', errors.QueueEmpty],
  ['ERR_GREENHUB_QUEUE_FULL', errors.QueueFull],
  ['ERR_GREENHUB_QUEUE_SHUT_DOWN', errors.QueueShutDown],
  ['ERR_GREENHUB_POOL_FULL', errors.PoolFull],
  ['ERR_GREENHUB_NO_CURRENT_GREENLET', errors.NoCurrentGreenletError],
  ['ERR_GREENHUB_NOT_OWNER', errors.NotOwnerError],
  ['ERR_GREENHUB_OVER_RELEASE', errors.OverReleaseError],
  ['ERR_GREENHUB_INVALID_STATE', errors.InvalidStateError],
  ['ERR_GREENHUB_INVALID_ARG_TYPE', errors.InvalidArgumentTypeError],
  ['ERR_GREENHUB_UNKNOWN_OPTION', errors.InvalidArgumentTypeError],
  ['ERR_GREENHUB_INVALID_ARG_VALUE', errors.InvalidArgumentValueError],
  ['ERR_GREENHUB_WORKER_CRASHED', errors.WorkerCrashError],
  ['ERR_GREENHUB_UNCLONEABLE', errors.UncloneableError],
  ['ERR_GREENHUB_POOL_CLOSED', errors.PoolClosedError],
  ['ERR_GREENHUB_CLOSURE', errors.ClosureError],
  ['ERR_GREENHUB_TASK_CANCELLED', errors.TaskCancelledError],
  ['ERR_GREENHUB_THREAD_MODE', errors.ThreadModeError],
]);

const SKIPPED = new Set(['name', 'message', 'stack', 'code', 'cause', 'errors']);
const MAX_CAUSE_DEPTH = 8;

export function isWireError(value: unknown): value is WireError {
  return typeof value === 'object' && value !== null && (value as WireError).$greenhubError === 1;
}

function isError(value: unknown): value is Error {
  return value instanceof Error || Object.prototype.toString.call(value) === '[object Error]';
}

function read(target: object, key: string): unknown {
  try {
    return (target as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

/** `value` if it survives a structured clone, else a short description of it. */
function cloneable(value: unknown): unknown {
  if (
    value === null ||
    (typeof value !== 'object' && typeof value !== 'function' && typeof value !== 'symbol')
  )
    return value;
  try {
    structuredClone(value);
    return value;
  } catch {
    return `[${typeName(value)}: cannot cross threads]`;
  }
}

function standardCtor(error: Error): string {
  for (let proto = Object.getPrototypeOf(error); proto !== null; proto = Object.getPrototypeOf(proto)) {
    const name = read(proto, 'constructor') as { name?: string } | undefined;
    if (name?.name !== undefined && STANDARD[name.name]?.prototype === proto) return name.name;
  }
  return 'Error';
}

/** Take `thrown` apart; never throws. */
export function toWire(thrown: unknown, depth = 0): WireError {
  if (!isError(thrown)) return { $greenhubError: 1, isError: false, value: cloneable(thrown) };
  const name = read(thrown, 'name');
  const message = read(thrown, 'message');
  const stack = read(thrown, 'stack');
  const wire: {
    -readonly [K in keyof WireError]: WireError[K];
  } = {
    $greenhubError: 1,
    isError: true,
    ctor: standardCtor(thrown),
    name: typeof name === 'string' ? name : 'Error',
    message: typeof message === 'string' ? message : String(message),
  };
  if (typeof stack === 'string') wire.stack = stack;
  if ('code' in thrown) wire.code = cloneable(read(thrown, 'code'));
  if ('cause' in thrown && depth < MAX_CAUSE_DEPTH) wire.cause = toWire(read(thrown, 'cause'), depth + 1);
  const list = read(thrown, 'errors');
  if (Array.isArray(list) && depth < MAX_CAUSE_DEPTH) wire.errors = list.map((e) => toWire(e, depth + 1));
  let props: Record<string, unknown> | undefined;
  for (const key of Object.keys(thrown)) {
    if (SKIPPED.has(key)) continue;
    props ??= {};
    props[key] = cloneable(read(thrown, key));
  }
  if (props !== undefined) wire.props = props;
  return wire;
}

function define(target: object, key: string, value: unknown, enumerable = false): void {
  Object.defineProperty(target, key, { value, writable: true, configurable: true, enumerable });
}

/** Rebuild what {@link toWire} took apart. */
export function fromWire(wire: WireError): unknown {
  if (!wire.isError) return wire.value;
  const byCode = typeof wire.code === 'string' ? BY_CODE.get(wire.code) : undefined;
  const proto = byCode?.prototype ?? (STANDARD[wire.ctor ?? 'Error'] ?? Error).prototype;
  const error = Object.create(proto) as Error;
  define(error, 'message', wire.message ?? '');
  define(error, 'stack', wire.stack ?? `${wire.name}: ${wire.message}`);
  if (wire.name !== proto.name) define(error, 'name', wire.name);
  if (wire.props !== undefined) Object.assign(error, wire.props);
  if ('code' in wire) define(error, 'code', wire.code, true);
  if (wire.cause !== undefined) define(error, 'cause', fromWire(wire.cause));
  if (wire.errors !== undefined) define(error, 'errors', wire.errors.map(fromWire));
  return error;
}
