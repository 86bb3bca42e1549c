/**
 * Argument checks shared by every public function. Messages follow one form — where, which
 * argument, what was expected, what came:
 * "Semaphore(): expected `value` to be a non-negative integer, got `-1` (number)".
 *
 * The checks are written so that the common, valid case costs a `typeof` and a comparison: they
 * sit on hot paths (`put`, `acquire`, `wait`).
 */
import { InvalidArgumentTypeError, InvalidArgumentValueError } from '../errors.js';

/** A short, safe description of any value for an error message: `` `-1` (number) ``. */
export function describe(value: unknown): string {
  switch (typeof value) {
    case 'undefined':
      return '`undefined`';
    case 'string':
      return `\`${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}\` (string)`;
    case 'number':
    case 'boolean':
    case 'bigint':
      return `\`${String(value)}\` (${typeof value})`;
    case 'symbol':
      return `\`${String(value)}\` (symbol)`;
    case 'function':
      return `\`${value.name || 'anonymous'}\` (function)`;
    default: {
      if (value === null) return '`null`';
      if (Array.isArray(value)) return `an array of length ${value.length}`;
      const ctor = (value as { constructor?: { name?: string } }).constructor?.name;
      return ctor && ctor !== 'Object' ? `an instance of ${ctor}` : 'an object';
    }
  }
}

export function typeError(
  where: string,
  name: string,
  expected: string,
  value: unknown,
): InvalidArgumentTypeError {
  return new InvalidArgumentTypeError(
    `${where}: expected \`${name}\` to be ${expected}, got ${describe(value)}`,
    name,
  );
}

export function rangeError(
  where: string,
  name: string,
  expected: string,
  value: unknown,
): InvalidArgumentValueError {
  return new InvalidArgumentValueError(
    `${where}: expected \`${name}\` to be ${expected}, got ${describe(value)}`,
    name,
  );
}

/**
 * A timeout in milliseconds: `undefined`/`null` (no timeout, returned as `null`), `Infinity` (the
 * same), or a finite number ≥ 0.
 */
export function checkTimeout(where: string, name: string, value: unknown): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number')
    throw typeError(where, name, 'a number of milliseconds, null or undefined', value);
  if (value >= 0 && value !== Number.POSITIVE_INFINITY) return value;
  if (value === Number.POSITIVE_INFINITY) return null;
  throw rangeError(where, name, 'a non-negative number of milliseconds', value);
}

/** A delay in milliseconds that must end: a finite number ≥ 0. */
export function checkDelay(where: string, name: string, value: unknown): number {
  const delay = checkTimeout(where, name, value);
  if (delay === null) throw rangeError(where, name, 'a finite, non-negative number of milliseconds', value);
  return delay;
}

export function checkFunction(where: string, name: string, value: unknown): void {
  if (typeof value !== 'function') throw typeError(where, name, 'a function', value);
}

/** An optional `AbortSignal`: `undefined`/`null` gives `undefined`. */
export function checkSignal(where: string, name: string, value: unknown): AbortSignal | undefined {
  if (value === undefined || value === null) return undefined;
  if (value instanceof AbortSignal) return value;
  throw typeError(where, name, 'an AbortSignal, null or undefined', value);
}

export function checkBoolean(where: string, name: string, value: unknown): void {
  if (typeof value !== 'boolean') throw typeError(where, name, 'a boolean', value);
}

export function checkString(where: string, name: string, value: unknown): void {
  if (typeof value !== 'string') throw typeError(where, name, 'a string', value);
}

/** An integer in `[min, max]`; `what` names the range in the message ("a positive integer"). */
export function checkInteger(
  where: string,
  name: string,
  value: unknown,
  min: number,
  what: string,
  max = Number.MAX_SAFE_INTEGER,
): void {
  if (typeof value !== 'number') throw typeError(where, name, what, value);
  if (!Number.isInteger(value) || value < min || value > max) throw rangeError(where, name, what, value);
}

/** An iterable (arrays, sets, generators…). */
export function checkIterable(where: string, name: string, value: unknown): void {
  if (
    value === null ||
    value === undefined ||
    typeof (value as Iterable<unknown>)[Symbol.iterator] !== 'function'
  ) {
    throw typeError(where, name, 'an iterable', value);
  }
}

/** An iterable or an async iterable (what the map family consumes). */
export function checkAnyIterable(where: string, name: string, value: unknown): void {
  const iterable = value as Partial<Iterable<unknown> & AsyncIterable<unknown>> | null | undefined;
  if (
    iterable == null ||
    (typeof iterable[Symbol.iterator] !== 'function' && typeof iterable[Symbol.asyncIterator] !== 'function')
  ) {
    throw typeError(where, name, 'an iterable or async iterable', value);
  }
}

/**
 * An options bag: `undefined`, or a plain object whose keys are all in `allowed`. Unknown keys are
 * refused so that a typo (`{ timout: 5 }`) cannot silently mean "no timeout".
 */
export function checkOptions(where: string, name: string, value: unknown, allowed: readonly string[]): void {
  if (value === undefined) return;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw typeError(where, name, `an options object ({ ${allowed.join(', ')} })`, value);
  }
  for (const key in value) {
    if (!allowed.includes(key)) {
      throw new InvalidArgumentTypeError(
        `${where}: unknown option \`${name}.${key}\`; expected one of ${allowed.map((k) => `\`${k}\``).join(', ')}`,
        `${name}.${key}`,
        'ERR_GREENHUB_UNKNOWN_OPTION',
      );
    }
  }
}

/**
 * A host to listen on: a host name or address, not empty. Node listens on every interface (`::`)
 * when given `''`, so an empty or unset `HOST` variable would expose a server that was meant to be
 * local; every interface is a decision to write down (`'0.0.0.0'`, `'::'`). The CLI's `--host`
 * refuses `''` the same way.
 */
export function checkHost(where: string, name: string, value: unknown): void {
  if (typeof value !== 'string' || value.trim() === '')
    throw typeError(
      where,
      name,
      "a host name or address, not empty ('0.0.0.0' or '::' to listen on every interface)",
      value,
    );
}
