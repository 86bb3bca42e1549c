/**
 * Bounded label values for HTTP request metrics: a route, not a URL (`/users/:id`, never
 * `/users/42`), and a known method.
 */
import { typeError } from '../internal/validate.js';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'CONNECT', 'TRACE']);

/** The method itself if standard, else `other`. */
export function methodLabel(method: string | undefined): string {
  return method !== undefined && METHODS.has(method) ? method : 'other';
}

const ID_SEGMENT =
  /^(?:\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,}|[^/]{33,})$/i;
const MAX_SEGMENTS = 5;

/**
 * The default route of a request path: the query dropped, numeric, UUID, long hexadecimal and very
 * long segments replaced by `:id`, at most five segments (`/a/b/c/d/e/…`).
 *
 * @example
 * ```ts
 * defaultRoute('/users/42/posts?page=2'); // '/users/:id/posts'
 * ```
 */
export function defaultRoute(url: string): string {
  if (typeof url !== 'string') throw typeError('defaultRoute()', 'url', 'a string (a request URL)', url);
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  if (path === '/' || path === '') return '/';
  const segments = path.split('/').slice(1);
  const out: string[] = [];
  for (let i = 0; i < segments.length && i < MAX_SEGMENTS; i++) {
    const s = segments[i]!;
    out.push(ID_SEGMENT.test(s) ? ':id' : s);
  }
  return `/${out.join('/')}${segments.length > MAX_SEGMENTS ? '/…' : ''}`;
}
