/**
 * Finding the part of a value that cannot cross threads, for error messages that say *where* it is
 * (`args[1].socket._handle`) and *what* it is (`TCP`), instead of V8's "could not be cloned".
 *
 * Two searches, for two budgets:
 * - {@link locateUncloneable} runs after a structured clone already failed (the error path, cost is
 *   no concern): it asks `structuredClone` itself about each part, descending into whatever fails,
 *   so it agrees with the real serializer on every case, host objects included.
 * - {@link findUncloneable} is a cheap guard on hot paths (a task's return value): it recognises
 *   the usual mistakes (a function, a symbol, a promise) within a bounded number of nodes, and
 *   otherwise trusts the value.
 */

/** Where the offending part sits and what it is. */
export interface Uncloneable {
  path: string;
  type: string;
  /** For an instance of a class: which of its parts refused (`its \`_events.end\` is a function`). */
  detail?: string;
}

/** "`args[0].conn` is a Socket (its `_events.end` is a function)": for messages. */
export function describeUncloneable(bad: Uncloneable): string {
  return `\`${bad.path}\` is a ${bad.type}${bad.detail === undefined ? '' : ` (${bad.detail})`}`;
}

/** `function \`onDone\``, `symbol`, `Socket`, `object`: for error messages. */
export function typeName(value: unknown): string {
  if (typeof value === 'function') return value.name ? `function \`${value.name}\`` : 'function';
  if (typeof value === 'symbol') return 'symbol';
  if (typeof value !== 'object' || value === null) return typeof value;
  const ctor = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof ctor === 'string' && ctor !== '' ? ctor : 'object';
}

function clones(value: unknown): boolean {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

/** The uncloneable part of `value` (which sits at `path`), or `null` when it clones. */
export function locateUncloneable(value: unknown, path: string): Uncloneable | null {
  if (clones(value)) return null;
  return descend(value, path, new Set());
}

function descend(value: unknown, path: string, seen: Set<object>): Uncloneable | null {
  if (typeof value !== 'object' || value === null) return { path, type: typeName(value) };
  if (seen.has(value)) return null;
  seen.add(value);
  let inner: Uncloneable | null = null;
  for (const [childPath, child] of childrenOf(value, path)) {
    if (clones(child)) continue;
    inner = descend(child, childPath, seen);
    if (inner !== null) break;
  }
  if (inner === null) return { path, type: typeName(value) };
  // Inside an instance of some class (a Socket, a stream), the instance is the news, not the
  // private field that refused: name both.
  if (isPlainContainer(value)) return inner;
  return {
    path,
    type: typeName(value),
    detail: `its \`${inner.path.slice(path.length + 1)}\` is a ${inner.type}`,
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

function* childrenOf(value: object, path: string): Generator<[string, unknown]> {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) yield [`${path}[${i}]`, value[i]];
  } else if (value instanceof Map) {
    for (const [key, item] of value) {
      yield [`${path} (a Map key)`, key];
      yield [`${path}.get(${formatKey(key)})`, item];
    }
  } else if (value instanceof Set) {
    for (const item of value) yield [`${path} (a Set item)`, item];
  } else {
    for (const key of Object.keys(value)) yield [`${path}.${key}`, (value as Record<string, unknown>)[key]];
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
