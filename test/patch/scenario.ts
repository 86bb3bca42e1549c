/**
 * Patching is process-global, so every patch scenario runs in a `node` process of its own, started
 * in the repository root so that `greenhub`, `greenhub/patch` and `greenhub/register` resolve to
 * the built package (`npm test` builds first). A scenario reports what it observed with
 * `report(value)`; the test compares it with what the specification says.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** What the scenario passed to `report()` (the last call), or `undefined`. */
  result: unknown;
}

export interface RunOptions {
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Kill the process after this many ms (default 15 000): a hung scenario fails, it never hangs the suite. */
  timeoutMs?: number;
  /** Called with the child once it started (to send signals, read output as it comes). */
  onSpawn?: (child: ChildProcess) => void;
  /** Start it in a session of its own, without a controlling terminal, wherever the tests run (default false). */
  newSession?: boolean;
}

/** Run `node ...args` in the repository root. */
export function runNode(args: string[], opts: RunOptions = {}): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, NODE_OPTIONS: '', GREENHUB_PATCH: '', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: opts.newSession ?? false,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 15_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = stdout
        .split('\n')
        .reverse()
        .find((l) => l.startsWith('RESULT '));
      resolve({
        code,
        signal,
        stdout,
        stderr,
        result: line === undefined ? undefined : JSON.parse(line.slice(7)),
      });
    });
    opts.onSpawn?.(child);
  });
}

const PRELUDE =
  "const report = (value) => process.stdout.write('RESULT ' + JSON.stringify(value) + '\\n');\n";

function evaluate(
  code: string,
  inputType: string,
  opts: RunOptions & { register?: boolean },
): Promise<Outcome> {
  const preload = opts.register ? ['--import', 'greenhub/register'] : [];
  return runNode([...preload, `--input-type=${inputType}`, '-e', PRELUDE + code], opts);
}

/** Run `code` as an ES module (top-level await allowed), optionally preloading `greenhub/register`. */
export function scenario(code: string, opts: RunOptions & { register?: boolean } = {}): Promise<Outcome> {
  return evaluate(code, 'module', opts);
}

/** Like {@link scenario}, for a CommonJS program. */
export function cjsScenario(code: string, opts: RunOptions & { register?: boolean } = {}): Promise<Outcome> {
  return evaluate(code, 'commonjs', opts);
}

/** A running process whose output a test waits on: `until(pattern)` resolves with the first match. */
export interface Started {
  child(): ChildProcess;
  until(pattern: RegExp): Promise<RegExpMatchArray>;
  exited: Promise<Outcome>;
}

/** Start `node ...args` and follow its stdout and stderr as they come. */
export function startProcess(args: string[], opts: RunOptions = {}): Started {
  let child!: ChildProcess;
  let output = '';
  const waiters: [RegExp, (m: RegExpMatchArray) => void][] = [];
  const exited = runNode(args, {
    ...opts,
    onSpawn(c) {
      child = c;
      const read = (chunk: Buffer | string): void => {
        output += chunk.toString();
        for (const [pattern, resolve] of waiters) {
          const m = output.match(pattern);
          if (m !== null) resolve(m);
        }
      };
      c.stdout!.on('data', read);
      c.stderr!.on('data', read);
      opts.onSpawn?.(c);
    },
  });
  return {
    child: () => child,
    exited,
    until: (pattern) =>
      new Promise((resolve) => {
        const m = output.match(pattern);
        if (m !== null) resolve(m);
        else waiters.push([pattern, resolve]);
      }),
  };
}
