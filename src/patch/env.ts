/**
 * `GREENHUB_PATCH`: the options of `greenhub/register`, from the environment.
 *
 * - unset or empty: `patchAll()` with its defaults;
 * - `off` (or `0`, `false`, `none`): patch nothing;
 * - a JSON object: the `patchAll()` options as they are, e.g. `{"blocking":"throw","signal":false}`;
 * - otherwise a comma-separated list of settings:
 *   - `-fs` or `fs=false` turns a target off, `fs` or `fs=true` on (all are on by default);
 *   - `blocking=warn|count|throw|false`, `maxBlockingTime=50`;
 *   - `http.requestTimeout=30000`, `http.maxConcurrency=256`;
 *   - `signal.gracePeriod=20000`, `signal.killTimeout=…`, `signal.hookTimeout=…`,
 *     `signal.signals=SIGTERM|SIGHUP`.
 *
 * Numbers, `true`, `false` and `null` are read as such. Anything `patchAll()` refuses stops the
 * process at startup with a message naming `GREENHUB_PATCH`.
 *
 * @example
 * ```sh
 * GREENHUB_PATCH='blocking=throw,maxBlockingTime=50,-signal,http.requestTimeout=10000' \
 *   node --import greenhub/register app.js
 * ```
 */
import type { PatchOptions } from './table.js';

const OFF = new Set(['off', '0', 'false', 'none']);

function scalar(text: string): unknown {
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (text === 'null') return null;
  if (text !== '' && Number.isFinite(Number(text))) return Number(text);
  return text;
}

/** Parse `GREENHUB_PATCH` (see the module comment): the options, or `null` for "patch nothing". */
export function parsePatchEnv(value: string | undefined): PatchOptions | null {
  const text = value?.trim() ?? '';
  if (text === '') return {};
  if (OFF.has(text.toLowerCase())) return null;
  if (text.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new SyntaxError(`GREENHUB_PATCH: not valid JSON: ${(error as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new TypeError(`GREENHUB_PATCH: expected a JSON object, got ${text}`);
    return parsed as PatchOptions;
  }
  const options: Record<string, unknown> = {};
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    let key = eq === -1 ? item : item.slice(0, eq).trim();
    let val: unknown = eq === -1 ? true : scalar(item.slice(eq + 1).trim());
    if (eq === -1 && key.startsWith('-')) {
      key = key.slice(1);
      val = false;
    }
    const dot = key.indexOf('.');
    if (dot === -1) {
      options[key] = val;
      continue;
    }
    const group = key.slice(0, dot);
    const sub = key.slice(dot + 1);
    if (sub === 'signals' && typeof val === 'string') val = val.split('|');
    const existing = options[group];
    options[group] = { ...(typeof existing === 'object' && existing !== null ? existing : {}), [sub]: val };
  }
  return options as PatchOptions;
}
