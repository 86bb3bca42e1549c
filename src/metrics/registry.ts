/**
 * What greenhub needs of a prom-client registry, by shape rather than by class: an application
 * may hold another copy of prom-client (another major version, or a second install), whose
 * `Registry` is not an `instanceof` ours but reads our metrics just the same — greenhub's metrics
 * speak the metric protocol every prom-client registry reads (`name`, `help`, `type`, `get()`).
 */
import type client from 'prom-client';
import { InvalidArgumentTypeError } from '../errors.js';
import { describe, typeError } from '../internal/validate.js';

/** The methods of prom-client's `Registry` that greenhub calls (prom-client 13 to 15 have them all). */
export interface RegistryLike {
  registerMetric(metric: client.Metric): void;
  getSingleMetric(name: string): client.Metric | undefined;
  removeSingleMetric(name: string): void;
  metrics(): Promise<string>;
  readonly contentType: string;
}

const METHODS = ['registerMetric', 'getSingleMetric', 'removeSingleMetric', 'metrics'] as const;

/**
 * `register` itself if it has the methods of a prom-client `Registry`, else a `TypeError` naming the
 * first one it lacks.
 *
 * @example
 * ```ts
 * import { Registry } from 'prom-client'; // any version from 13 on
 * collectMetrics({ register: new Registry() }); // checked with checkRegistry
 * ```
 */
export function checkRegistry(where: string, name: string, register: unknown): RegistryLike {
  const expected =
    'a prom-client Registry (any version: registerMetric, getSingleMetric, removeSingleMetric, metrics, contentType)';
  if (typeof register !== 'object' || register === null) throw typeError(where, name, expected, register);
  const r = register as Record<string, unknown>;
  const missing = METHODS.find((method) => typeof r[method] !== 'function');
  const lacks =
    missing !== undefined
      ? `${missing}()`
      : typeof r.contentType !== 'string'
        ? 'a string contentType'
        : null;
  if (lacks === null) return register as RegistryLike;
  throw new InvalidArgumentTypeError(
    `${where}: expected \`${name}\` to be ${expected}, got ${describe(register)} without ${lacks}`,
    name,
  );
}
