/**
 * Finding the part of a value that cannot cross threads, for error messages that say *where* it is
 * (`args[1].socket._handle`) and *what* it is (`TCP`), instead of V8's "could not be cloned".
 *
 * Two searches, for two budgets:
 * - {@link locateUncloneable} runs after a structured clone already failed (the error path, cost is
 *   no concern): it asks `structuredClone` itself about each part, descending into whatever fails,
 *   so it agrees with the real serializer on every case, host objects included. It never throws,
 *   whatever the value does to it: a getter that throws is reported as the culprit, a Proxy is
 *   named without being walked (its traps may throw; V8 never clones one), a structure too deep
 *   for the serializer's stack is measured without recursion, and its own descent stops at
 *   {@link MAX_DESCENT} levels.
 * - {@link findUncloneable} is a cheap guard on hot paths (a task's return value): it recognises
 *   the usual mistakes (a function, a symbol, a promise) within a bounded number of nodes, and
 *   otherwise trusts the value.
 */
import { types } from 'node:util';

/** Where the offending part sits and what it is. */
export interface Uncloneable {
  path: string;
  type: string;
  /** For an instance of a class: which of its parts refused (`its \`_events.end\` is a function`). */
  detail?: string;
  /** What is wrong, when it is not "is a `type`" (`has a getter that throws Error: boom`). */
  problem?: string;
}

/** "`args[0].conn` is a Socket (its `_events.end` is a function)": for messages. */
export function describeUncloneable(bad: Uncloneable): string {
  const problem = bad.problem ?? `is a ${bad.type}`;
  return `\`${bad.path}\` ${problem}${bad.detail === undefined ? '' : ` (${bad.detail})`}`;
}

/** `function \`onDone\``, `symbol`, `Socket`, `object`: for error messages. */
export function typeName(value: unknown): string {
  if (typeof value === 'function') return value.name ? `function \`${value.name}\`` : 'function';
  if (typeof value === 'symbol') return 'symbol';
  if (typeof value !== 'object' || value === null) return typeof value;
  const ctor = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof ctor === 'string' && ctor !== '' ? ctor : 'object';
}

/** How many levels {@link locateUncloneable} descends before it names the part it reached. */
export const MAX_DESCENT = 256;
/** How many nodes the depth measurement of a too-deep value visits at most. */
const MAX_MEASURED = 1_000_000;

/** What structured clone throws for `value` (in a box: a getter may throw `undefined`), or `null`. */
function cloneFailure(value: unknown): { error: unknown } | null {
  try {
    structuredClone(value);
    return null;
  } catch (error) {
    return { error };
  }
}

function clones(value: unknown): boolean {
  return cloneFailure(value) === null;
}

/** `Error: boom`, `null`: what a getter or a trap threw, for messages. */
function describeThrown(thrown: unknown): string {
  if (thrown instanceof Error) return `${thrown.name}: ${thrown.message}`;
  try {
    return typeof thrown === 'string' ? JSON.stringify(thrown) : String(thrown);
  } catch {
    return typeName(thrown);
  }
}

function isStackOverflow(error: unknown): boolean {
  return error instanceof RangeError && /call stack/i.test(error.message);
}

/**
 * The uncloneable part of `value` (which sits at `path`), or `null` when it clones. Never throws.
 */
export function locateUncloneable(value: unknown, path: string): Uncloneable | null {
  const failure = cloneFailure(value);
  if (failure === null) return null;
  if (isStackOverflow(failure.error)) return tooDeep(value, path, failure.error);
  return descend(value, path, new Set(), 0);
}

function descend(value: unknown, path: string, seen: Set<object>, depth: number): Uncloneable | null {
  if (typeof value !== 'object' || value === null) return { path, type: typeName(value) };
  if (types.isProxy(value)) return { path, type: 'Proxy' };
  if (seen.has(value)) return null;
  seen.add(value);
  if (depth >= MAX_DESCENT) {
    return {
      path,
      type: typeName(value),
      problem: `holds a part that cannot be cloned, more than ${MAX_DESCENT} levels further down`,
    };
  }
  let inner: Uncloneable | null = null;
  const children = childrenOf(value, path);
  for (;;) {
    let entry: IteratorResult<Child>;
    try {
      entry = children.next();
    } catch (thrown) {
      return {
        path,
        type: typeName(value),
        problem: `is a ${typeName(value)} whose contents cannot be listed (listing them throws ${describeThrown(thrown)})`,
      };
    }
    if (entry.done) break;
    const [childPath, child] = entry.value;
    if ('thrown' in child) {
      return {
        path: childPath,
        type: 'getter',
        problem: `has a getter that throws ${describeThrown(child.thrown)}`,
      };
    }
    if (clones(child.value)) continue;
    inner = descend(child.value, childPath, seen, depth + 1);
    if (inner !== null) break;
  }
  if (inner === null) return { path, type: typeName(value) };
  // Inside an instance of some class (a Socket, a stream), the instance is the news, not the
  // private field that refused: name both.
  if (isPlainContainer(value)) return inner;
  return {
    path,
    type: typeName(value),
    detail: `its \`${inner.path.slice(path.length + 1)}\` ${inner.problem ?? `is a ${inner.type}`}`,
  };
}

/**
 * A value the serializer could not clone for lack of stack: its nesting depth, measured without
 * recursion (over at most {@link MAX_MEASURED} nodes), in the message.
 */
function tooDeep(value: unknown, path: string, error: unknown): Uncloneable {
  let deepest = 0;
  let visited = 0;
  const seen = new Set<object>();
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0 && visited < MAX_MEASURED) {
    const [node, depth] = stack.pop()!;
    if (typeof node !== 'object' || node === null || types.isProxy(node) || seen.has(node)) continue;
    seen.add(node);
    visited++;
    if (depth > deepest) deepest = depth;
    try {
      for (const [, child] of childrenOf(node, ''))
        if ('value' in child) stack.push([child.value, depth + 1]);
    } catch {
      // a part that cannot be listed: measured as far as it goes
    }
  }
  const measured = visited >= MAX_MEASURED ? `at least ${deepest}` : String(deepest);
  return {
    path,
    type: typeName(value),
    problem:
      `is nested ${measured} levels deep, too deep for structured clone (${describeThrown(error)}); ` +
      'flatten it, or send it as a string or a buffer',
  };
}

function isPlainContainer(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return (
    proto === Object.prototype ||
    proto === null ||
    Array.isArray(value) ||
    value instanceof Map ||
    value instanceof Set
  );
}

/** A part of a value: what reading it gave, or what reading it threw. */
type Child = [path: string, read: { value: unknown } | { thrown: unknown }];

function readKey(value: object, key: string | number): Child[1] {
  try {
    return { value: (value as Record<string | number, unknown>)[key] };
  } catch (thrown) {
    return { thrown };
  }
}

/** The parts of `value`; listing them may throw (a Proxy's trap, a Map subclass's iterator). */
function* childrenOf(value: object, path: string): Generator<Child> {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) yield [`${path}[${i}]`, readKey(value, i)];
  } else if (value instanceof Map) {
    for (const [key, item] of value) {
      yield [`${path} (a Map key)`, { value: key }];
      yield [`${path}.get(${formatKey(key)})`, { value: item }];
    }
  } else if (value instanceof Set) {
    for (const item of value) yield [`${path} (a Set item)`, { value: item }];
  } else {
    for (const key of Object.keys(value)) yield [`${path}.${key}`, readKey(value, key)];
  }
}

function formatKey(key: unknown): string {
  return typeof key === 'string' ? JSON.stringify(key) : String(key);
}

/**
 * A cheap search for the common uncloneable values (functions, symbols, promises, weak
 * collections) in arrays and plain objects, visiting at most `budget` nodes; `null` when none was
 * found (which does not prove the value clones).
 */
export function findUncloneable(value: unknown, path: string, budget = 256): Uncloneable | null {
  const state = { budget };
  return scan(value, path, state);
}

function scan(value: unknown, path: string, state: { budget: number }): Uncloneable | null {
  if (typeof value === 'function' || typeof value === 'symbol') return { path, type: typeName(value) };
  if (typeof value !== 'object' || value === null) return null;
  if (--state.budget < 0) return null;
  if (value instanceof Promise || value instanceof WeakMap || value instanceof WeakSet) {
    return { path, type: typeName(value) };
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length && state.budget > 0; i++) {
      const found = scan(value[i], `${path}[${i}]`, state);
      if (found !== null) return found;
    }
    return null;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return null;
  for (const key in value) {
    const found = scan((value as Record<string, unknown>)[key], `${path}.${key}`, state);
    if (found !== null) return found;
    if (state.budget <= 0) break;
  }
  return null;
}
