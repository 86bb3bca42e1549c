/**
 * The CLI's flag parser: `--name value`, `--name=value`, boolean `--name`, and a flag whose value
 * may be left out (`--load` or `--load 5`). Every value is checked against its declared form here,
 * so that a command receives typed values and a bad command line fails before anything starts,
 * with a {@link UsageError} naming the flag, the expected form and what came.
 *
 * Parsing stops at the first positional argument when the command asks for it (`greenhub run
 * app.js --port 3000`: `--port` belongs to the application), and always after `--`.
 */
import { UsageError } from './usage-error.js';

/** How a flag's value is read. */
export type FlagKind =
  | { type: 'boolean' }
  | { type: 'integer'; min: number; max: number; what: string }
  | { type: 'string'; what: string }
  | { type: 'choice'; choices: readonly string[] }
  /** An integer that may be left out: the bare flag means `bare`. */
  | { type: 'optional-integer'; min: number; max: number; what: string; bare: number };

/** The forms the commands share. */
export const PORT: FlagKind = { type: 'integer', min: 0, max: 65535, what: 'a port number from 0 to 65535' };
export const HOST: FlagKind = { type: 'string', what: 'a host name or address' };
export const MILLISECONDS: FlagKind = {
  type: 'integer',
  min: 0,
  max: 3_600_000,
  what: 'a number of milliseconds from 0 to 3600000',
};

/** One flag of a command, for parsing and for `--help`. */
export interface FlagSpec {
  /** Without the dashes: `port`, `no-metrics`. */
  name: string;
  kind: FlagKind;
  /** `--help` text: one line. */
  help: string;
  /** How the value is shown in `--help` (`<port>`, `[seconds]`). */
  placeholder?: string;
}

/** What a command line parsed to. */
export interface ParsedFlags {
  /** By flag name; only the flags given (defaults are the command's business). */
  values: Map<string, number | string | boolean>;
  /** Positional arguments, and everything after the first one when parsing stops there. */
  positionals: string[];
  help: boolean;
}

function quote(value: string | undefined): string {
  return value === undefined ? 'nothing' : JSON.stringify(value);
}

function expected(kind: FlagKind): string {
  switch (kind.type) {
    case 'boolean':
      return 'no value';
    case 'choice':
      return `one of ${kind.choices.join(', ')}`;
    default:
      return kind.what;
  }
}

function readValue(command: string, spec: FlagSpec, text: string | undefined): number | string {
  const kind = spec.kind;
  const fail = (): never => {
    throw new UsageError(
      `${command}: expected --${spec.name} to be ${expected(kind)}, got ${quote(text)}`,
      `--${spec.name}`,
    );
  };
  if (text === undefined) return fail();
  switch (kind.type) {
    case 'integer':
    case 'optional-integer': {
      if (!/^\d+$/.test(text)) return fail();
      const n = Number(text);
      return n >= kind.min && n <= kind.max ? n : fail();
    }
    case 'choice':
      return kind.choices.includes(text) ? text : fail();
    default:
      return text === '' ? fail() : text;
  }
}

/**
 * Parse `argv` (what follows the subcommand) against `specs`. `--help`/`-h` is always known.
 *
 * @example
 * ```ts
 * const { values } = parseFlags('greenhub demo', DEMO_FLAGS, ['--port', '0', '--load']);
 * values.get('port'); // 0
 * ```
 */
export function parseFlags(
  command: string,
  specs: readonly FlagSpec[],
  argv: readonly string[],
  opts: { stopAtPositional?: boolean } = {},
): ParsedFlags {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const values = new Map<string, number | string | boolean>();
  const positionals: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (!arg.startsWith('-') || arg === '-') {
      if (opts.stopAtPositional) {
        positionals.push(...argv.slice(i));
        break;
      }
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(arg.startsWith('--') ? 2 : 1, eq === -1 ? undefined : eq);
    const spec = byName.get(name);
    if (spec === undefined || !arg.startsWith('--')) {
      throw new UsageError(
        `${command}: unknown flag ${eq === -1 ? arg : arg.slice(0, eq)}; expected one of ` +
          `${specs.map((s) => `--${s.name}`).join(', ')} (see ${command} --help)`,
        eq === -1 ? arg : arg.slice(0, eq),
      );
    }
    const inline = eq === -1 ? undefined : arg.slice(eq + 1);
    if (spec.kind.type === 'boolean') {
      if (inline !== undefined)
        throw new UsageError(
          `${command}: expected --${name} to have no value, got ${quote(inline)}`,
          `--${name}`,
        );
      values.set(name, true);
    } else if (inline !== undefined) {
      values.set(name, readValue(command, spec, inline));
    } else if (spec.kind.type === 'optional-integer') {
      const next = argv[i + 1];
      if (next !== undefined && /^\d+$/.test(next)) {
        values.set(name, readValue(command, spec, next));
        i++;
      } else values.set(name, spec.kind.bare);
    } else {
      const next = argv[i + 1];
      values.set(name, readValue(command, spec, next?.startsWith('--') ? undefined : next));
      i++;
    }
  }
  return { values, positionals, help };
}

/** The `--help` text of a command: usage, a description, and one line per flag. */
export function helpText(usage: string, description: string, specs: readonly FlagSpec[]): string {
  const rows = specs.map((s) => [
    `--${s.name}${s.placeholder === undefined ? '' : ` ${s.placeholder}`}`,
    s.help,
  ]);
  rows.push(['-h, --help', 'show this help']);
  const width = Math.max(...rows.map(([flag]) => flag!.length)) + 2;
  return `Usage: ${usage}\n\n${description}\n\nOptions:\n${rows
    .map(([flag, text]) => `  ${flag!.padEnd(width)}${text}`)
    .join('\n')}\n`;
}
