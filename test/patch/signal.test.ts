import http from 'node:http';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { ARRIVAL_WAIT_MS } from '../../src/patch/signal.js';
import { startProcess } from './scenario.js';

/** Start the fixture server; `port` resolves once it listens. */
function startServer(env: Record<string, string>) {
  const started = startProcess(['test/patch/fixtures/graceful-server.mjs'], { env });
  const until = (text: string): Promise<unknown> => started.until(new RegExp(text));
  const port = started.until(/LISTENING (\d+)/).then((m) => Number(m[1]));
  return { child: started.child, until, port, exited: started.exited };
}

function get(port: number, path: string): Promise<{ status?: number; body?: string; error?: string }> {
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode, body }));
        res.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
      })
      .on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
  });
}

describe.concurrent('patchSignal: graceful shutdown', () => {
  it('SIGTERM: stop accepting, let the request in flight finish, run the hooks, exit 0', async () => {
    const server = startServer({ GRACE_MS: '5000', HOOK: 'ok' });
    const port = await server.port;
    const slow = get(port, '/slow');
    await server.until('GOT /slow');
    server.child().kill('SIGTERM');
    await server.until('shutting down gracefully');
    const refused = await get(port, '/late');
    const { code, stdout, stderr } = await server.exited;
    expect(await slow).toEqual({ status: 200, body: 'done /slow' });
    expect(refused).toEqual({ error: 'ECONNREFUSED' });
    expect(stdout).toContain('HOOK ran');
    expect(stderr).toContain('greenhub: SIGTERM: shutting down gracefully: 1 server stops accepting');
    expect(stderr).toContain('greenhub: shutdown complete: 1 greenlet finished, 0 killed; exit 0');
    expect(code).toBe(0);
  });

  it('a connection accepted before the signal whose request comes after it is served, not reset', async () => {
    const server = startServer({ GRACE_MS: '5000', HOOK: 'ok' });
    const port = await server.port;
    // Connected, its request not sent yet: what a cluster worker is handed just before it stops.
    const socket = net.connect(port, '127.0.0.1');
    await server.until('CONNECTED');
    server.child().kill('SIGTERM');
    await server.until('shutting down gracefully');
    let answer = '';
    socket.setEncoding('utf8').on('data', (c: string) => (answer += c));
    const closed = new Promise<unknown>((resolve) => {
      socket.on('close', resolve);
      socket.on('error', resolve);
    });
    socket.write('GET /late-request HTTP/1.1\r\nHost: x\r\n\r\n');
    await closed;
    const { code, stderr } = await server.exited;
    expect(answer).toMatch(
      /^HTTP\/1\.1 200 OK\r\n[\s\S]*[Cc]onnection: close\r\n[\s\S]*done \/late-request$/,
    );
    // Its handler runs inside the request's emit, as without greenhub, and usually finishes before
    // the shutdown counts the greenlets still running (0); a slower write leaves it running (1).
    expect(stderr).toMatch(/greenhub: shutdown complete: [01] greenlets? finished, 0 killed; exit 0/);
    expect(code).toBe(0);
  });

  it('a keep-alive request in flight when the signal comes is answered with connection: close', async () => {
    const server = startServer({ GRACE_MS: '5000', HOOK: 'ok' });
    const port = await server.port;
    const socket = net.connect(port, '127.0.0.1');
    let answer = '';
    socket.setEncoding('utf8').on('data', (c: string) => (answer += c));
    const closed = new Promise<unknown>((resolve) => {
      socket.on('close', resolve);
      socket.on('error', resolve);
    });
    socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n'); // HTTP/1.1: keep-alive unless told otherwise
    await server.until('GOT /slow');
    server.child().kill('SIGTERM');
    await closed;
    const { code } = await server.exited;
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*[Cc]onnection: close\r\n[\s\S]*done \/slow$/);
    expect(code).toBe(0);
  });

  it('a connection that sends nothing holds the shutdown at most ARRIVAL_WAIT_MS', async () => {
    const server = startServer({ GRACE_MS: '20000', HOOK: 'ok' });
    const port = await server.port;
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    await server.until('CONNECTED');
    const started = performance.now();
    server.child().kill('SIGTERM');
    const { code, stderr } = await server.exited;
    expect(performance.now() - started).toBeLessThan(ARRIVAL_WAIT_MS + 3_000);
    expect(stderr).toContain('greenhub: shutdown complete: 0 greenlets finished, 0 killed; exit 0');
    expect(code).toBe(0);
    socket.destroy();
  });

  it('when the grace period is over the rest are killed; a failing hook makes the exit code 1', async () => {
    const server = startServer({ GRACE_MS: '100', HOOK: 'fail' });
    const port = await server.port;
    const forever = get(port, '/forever');
    await server.until('GOT /forever');
    server.child().kill('SIGINT');
    const { code, stderr } = await server.exited;
    expect(await forever).toEqual({ error: 'ECONNRESET' });
    expect(stderr).toContain('greenhub: SIGINT: shutting down gracefully');
    expect(stderr).toContain('shutdown hook closePool failed: Error: pool refused to close');
    expect(stderr).toContain('greenhub: shutdown complete: 0 greenlets finished, 1 killed; exit 1');
    expect(code).toBe(1);
  });

  it('a second signal exits at once with 128 + the signal number (130 for SIGINT)', async () => {
    const server = startServer({ GRACE_MS: '100', HOOK: 'hang' });
    await server.port;
    server.child().kill('SIGTERM');
    await server.until('HOOK started'); // and it never finishes
    server.child().kill('SIGINT');
    const { code, stderr } = await server.exited;
    expect(stderr).toContain('greenhub: SIGINT again: exiting now with 130');
    expect(code).toBe(130);
  });
});

describe('graceful shutdown and the thread pool', () => {
  it('closes every started ThreadPool after the greenlets are done', async () => {
    const { scenario } = await import('./scenario.js');
    const { code, result } = await scenario(`
      import { shutdown } from 'greenhub/patch';
      import { ThreadPool } from 'greenhub/threadpool';
      const started = new ThreadPool({ maxThreads: 1, name: 'started' });
      const idle = new ThreadPool({ maxThreads: 1, name: 'never used' });
      const sum = await started.run((a, b) => a + b, 2, 3);
      const exitCode = await shutdown({ exit: false, gracePeriod: 100 });
      report({ sum, exitCode, startedClosed: started.closed, idleClosed: idle.closed });
    `);
    expect(code).toBe(0);
    // A pool that never started a thread has nothing to close and is left as it was.
    expect(result).toEqual({ sum: 5, exitCode: 0, startedClosed: true, idleClosed: false });
  });
});
