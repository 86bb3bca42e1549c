import { execFile, execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type Greenlet, getHub } from '../src/index.js';

/** The repository root, for running built code and examples in child processes. */
export const root = fileURLToPath(new URL('..', import.meta.url));

interface Reported {
  error: unknown;
  greenlet: Greenlet | null;
}

/**
 * Replace `getHub().onError` for a test: collects what the hub reports instead of printing it.
 * `restore()` (call it in afterEach) puts the previous handler back.
 */
export const captureErrors = {
  previous: undefined as ((error: unknown, greenlet: Greenlet | null) => void) | undefined,
  install(): Reported[] {
    const reported: Reported[] = [];
    const hub = getHub();
    this.previous ??= hub.onError;
    hub.onError = (error, greenlet) => reported.push({ error, greenlet });
    return reported;
  },
  restore(): void {
    if (this.previous !== undefined) getHub().onError = this.previous;
    this.previous = undefined;
  },
};

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Run an ES module with Node in a child process (source text via `--input-type=module -e`, or a
 * file path). It can `import … from 'greenhub'`: the package refers to itself (built `dist/`).
 */
export function runNode(opts: {
  source?: string;
  file?: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}): Promise<RunResult> {
  const args =
    opts.file !== undefined
      ? [opts.file, ...(opts.args ?? [])]
      : ['--input-type=module', '-e', opts.source ?? '', ...(opts.args ?? [])];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      {
        cwd: root,
        env: { ...process.env, ...opts.env },
        timeout: opts.timeoutMs ?? 30_000,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The path of `cmd` on PATH, or `null` (tests that need a Debian package skip without it). */
export function which(cmd: string): string | null {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago (for a server another process starts). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
    probe.on('error', reject);
  });
}
