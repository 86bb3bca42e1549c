/**
 * Running the built `greenhub` CLI in a child process (`npm test` builds first), following its
 * output as it comes (see `startProcess`), and plain HTTP requests that report what the client saw.
 */
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { type RunOptions, runNode, type Started, startProcess } from '../patch/scenario.js';

export const CLI = 'dist/cli/main.js';

/** Start `greenhub ...args`. */
export function startCli(args: string[], opts?: RunOptions): Started {
  return startProcess([CLI, ...args], opts);
}

/** Run `greenhub ...args` to its end. */
export function runCli(args: string[], opts?: RunOptions): ReturnType<typeof runNode> {
  return runNode([CLI, ...args], opts);
}

/** Start `greenhub demo` with the given flags; `port` resolves from its `{"listening":N}` line. */
export function startDemo(flags: string[], opts?: RunOptions): Started & { port: Promise<number> } {
  const started = startCli(['demo', '--port', '0', ...flags], opts);
  return { ...started, port: started.until(/\{"listening":(\d+)\}/).then((m) => Number(m[1])) };
}

/**
 * True while a process with this id runs. A zombie (exited, not yet reaped by whoever adopted it)
 * counts as gone; `/proc` tells them apart where there is one.
 */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return !existsSync('/proc');
  }
}

/**
 * Resolves `true` once the process with this id is gone, `false` if it still runs after
 * `withinMs`. A process's output pipes close (what `exited` waits for) a moment before the kernel
 * marks it exited: this covers that moment, polling, without ever waiting long.
 */
export async function gone(pid: number, withinMs = 2_000): Promise<boolean> {
  const deadline = performance.now() + withinMs;
  while (alive(pid)) {
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return true;
}

/** What a client saw: a status and body, or the error code of a failed request. */
export interface Seen {
  status?: number;
  body?: string;
  error?: string;
}

/** GET `path` on 127.0.0.1:`port` (an agent of its own unless given one). */
export function get(port: number, path: string, agent: http.Agent | false = false): Promise<Seen> {
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode, body }));
        res.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
      })
      .on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
  });
}
