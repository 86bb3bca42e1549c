/**
 * Graceful shutdown under load (issue 6 item 4): the demo in offload mode, keep-alive clients on
 * /io and /cpu, SIGTERM in the middle. Every request the clients sent must settle — a 200, a 503,
 * or a connection error the client sees — none may hang; the process must exit 0 within the grace
 * period plus a margin, and be gone.
 */
import http from 'node:http';
import { Worker } from 'node:worker_threads';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startProcess } from '../patch/scenario.js';
import { alive, CLI, get, gone, type Seen, startDemo } from './helpers.js';

const GRACE_MS = 2_000;
const MARGIN_MS = 3_000;
const CONNECTIONS = 12;
/** Responses to see before the signal: the load is well under way. */
const BEFORE_SIGNAL = 150;

/** The demo in offload mode on 2 threads, with this grace period and pbkdf2 iterations per /cpu. */
function offloadDemo(graceMs: number, iterations: number) {
  return startDemo([
    '--mode',
    'offload',
    '--threads',
    '2',
    '--grace',
    `${graceMs}`,
    '--cpu-iterations',
    `${iterations}`,
  ]);
}

/** Run pbkdf2Sync (the demo's /cpu work) with `iterations` on a worker thread of this process. */
function pbkdf2OnAThread(iterations: number): Promise<void> {
  const worker = new Worker(
    `require('node:crypto').pbkdf2Sync('greenhub', 'salt', ${iterations}, 32, 'sha256');`,
    { eval: true },
  );
  return new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.once('exit', () => resolve());
  });
}

describe('greenhub demo: graceful shutdown under load', () => {
  it('SIGTERM mid-load: every request settles (200, 503 or a connection error), exit 0 within grace + margin', async () => {
    // ~5 ms of pbkdf2 per /cpu: tasks are in flight on both threads when the signal comes.
    const demo = offloadDemo(GRACE_MS, 20_000);
    const port = await demo.port;
    const pid = demo.child().pid!;

    const outcomes = new Map<string, number>();
    const all: Promise<Seen>[] = [];
    let settled = 0;
    let signalled = false;
    let reachedTarget!: () => void;
    const target = new Promise<void>((resolve) => {
      reachedTarget = resolve;
    });
    const record = (seen: Seen): Seen => {
      const key = seen.status !== undefined ? String(seen.status) : (seen.error ?? 'unknown');
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      if (++settled === BEFORE_SIGNAL) reachedTarget();
      return seen;
    };
    // One keep-alive connection per client, one request after another, until the server refuses.
    const client = async (i: number): Promise<void> => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        for (;;) {
          const request = get(port, i % 3 === 0 ? '/cpu' : '/io', agent).then(record);
          all.push(request);
          const seen = await request;
          if (seen.status !== 200 && signalled) return;
          if (seen.status !== 200) throw new Error(`before the signal: ${JSON.stringify(seen)}`);
        }
      } finally {
        agent.destroy();
      }
    };
    const clients = Array.from({ length: CONNECTIONS }, (_, i) => client(i));

    await target;
    signalled = true;
    const t0 = performance.now();
    demo.child().kill('SIGTERM');
    const { code, stderr } = await demo.exited;
    const exitMs = performance.now() - t0;
    await Promise.all(clients);
    const seen = await Promise.all(all); // resolves only if every request settled

    expect(seen).toHaveLength(settled);
    const allowed = new Set(['200', '503', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE']);
    expect([...outcomes.keys()].filter((k) => !allowed.has(k))).toEqual([]);
    expect(outcomes.get('200')).toBeGreaterThan(BEFORE_SIGNAL - CONNECTIONS);
    expect(stderr).toContain(`greenhub demo: SIGTERM: stopping; requests in flight get ${GRACE_MS} ms`);
    expect(stderr).toContain('greenhub demo: stopped');
    expect(code).toBe(0);
    expect(exitMs).toBeLessThan(GRACE_MS + MARGIN_MS);
    expect(await gone(pid)).toBe(true);
  });

  it('pool tasks that outlast the grace period are cancelled (their threads stopped); exit 0 within grace + margin', async () => {
    // ~400 ms of pbkdf2 per /cpu (more on a loaded machine), a 200 ms grace: both tasks are still
    // running when it ends. (Not much longer: a thread inside pbkdf2Sync cannot be interrupted, and
    // Node joins it when the process exits — so the exit bound allows one task's time, measured.)
    const demo = offloadDemo(200, 1_500_000);
    const port = await demo.port;
    const requests = [get(port, '/cpu'), get(port, '/cpu')];
    // Wait until both tasks run on their threads (each scrape is a request: no sleeping).
    for (;;) {
      const { body } = await get(port, '/metrics');
      if (/^greenhub_threadpool_threads\{pool="demo",state="busy"\} 2$/m.test(body ?? '')) break;
    }
    // The same pbkdf2 on a thread of this process, started with the signal: under the same machine
    // load, how long one uninterruptible task takes — the demo's exit cannot precede its tasks' end.
    const t0 = performance.now();
    const reference = pbkdf2OnAThread(1_500_000).then(() => performance.now() - t0);
    demo.child().kill('SIGTERM');
    const { code, stderr } = await demo.exited;
    const exitMs = performance.now() - t0;
    const taskMs = await reference;
    for (const seen of await Promise.all(requests))
      expect([503, 'ECONNRESET']).toContain(seen.status ?? seen.error);
    expect(stderr).toContain('greenhub demo: stopped');
    expect(code).toBe(0);
    expect(exitMs).toBeLessThan(Math.max(200, taskMs) + MARGIN_MS);
  });

  it('a demo whose parent process dies (npm start’s shell, npx: a wrapper that exits without passing SIGTERM on) stops gracefully by itself', async () => {
    // The wrapper starts the demo with its own output (as npm's shell does) and prints its pid.
    const wrapper = startProcess([
      '-e',
      `const demo = require('node:child_process').spawn(process.execPath,
         [${JSON.stringify(CLI)}, 'demo', '--port', '0', '--threads', '1', '--io', 'timer', '--cpu-iterations', '3000'],
         { stdio: 'inherit' });
       process.stdout.write('DEMO pid=' + demo.pid + '\\n');`,
    ]);
    const port = Number((await wrapper.until(/\{"listening":(\d+)\}/))[1]);
    const pid = Number((await wrapper.until(/DEMO pid=(\d+)/))[1]);
    onTestFinished(() => {
      if (alive(pid)) process.kill(pid, 'SIGKILL'); // a failed test leaves no orphan behind
    });
    expect((await get(port, '/io')).status).toBe(200);
    wrapper.child().kill('SIGKILL');
    await wrapper.until(/greenhub demo: its parent process is gone: stopping/);
    // The demo holds the output: it closes when the demo has exited.
    const { stderr } = await wrapper.exited;
    expect(stderr).toContain('greenhub demo: stopped');
    expect(await gone(pid)).toBe(true);
    expect((await get(port, '/io')).error).toBe('ECONNREFUSED');
  });

  it('SIGHUP stops the demo gracefully: the request in flight finishes, exit 0', async () => {
    const demo = offloadDemo(GRACE_MS, 1_000_000); // a /cpu that takes a while
    const port = await demo.port;
    const cpu = get(port, '/cpu');
    for (;;) {
      const { body } = await get(port, '/metrics');
      if (/^greenhub_threadpool_threads\{pool="demo",state="busy"\} 1$/m.test(body ?? '')) break;
    }
    demo.child().kill('SIGHUP');
    const { code, stderr } = await demo.exited;
    expect((await cpu).status).toBe(200);
    expect(stderr).toContain('greenhub demo: SIGHUP: stopping');
    expect(code).toBe(0);
  });
});
