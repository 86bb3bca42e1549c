/**
 * What `greenhub advise` reports when its source cannot be read: a URL that does not answer, or
 * answers with something other than a greenhub service's metrics. The command prints the message
 * and exits with status 1. Internal to the CLI.
 *
 * @example
 * ```ts
 * throw new Unreadable('cannot read http://127.0.0.1:9464/metrics: ECONNREFUSED');
 * ```
 */
export class Unreadable extends Error {}
Object.defineProperty(Unreadable.prototype, 'name', {
  value: 'Unreadable',
  writable: true,
  configurable: true,
});
