import http from 'node:http';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startProcess } from '../patch/scenario.js';
import { alive, CLI, get, gone, runCli, startCli } from './helpers.js';

const APP = 'test/cli/fixtures/app.mjs';

/** Start `greenhub run <flags> app.mjs`; resolves the app's port, pid and metrics URL from its output. */
function startApp(flags: string[], args: string[] = []) {
  const started = startCli(['run', ...flags, APP, ...args]);
  return {
    ...started,
    port: started.until(/APP LISTENING (\d+)/).then((m) => Number(m[1])),
    pid: started.until(/APP pid=(\d+)/).then((m) => Number(m[1])),
    metricsPort: started
      .until(/greenhub: metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/)
      .then((m) => Number(m[1])),
  };
}

/** GET `path` through `agent`: the status and the `connection` header, or the error code. */
function getKeepAlive(
  port: number,
  path: string,
  agent: http.Agent,
): Promise<{ status?: number; connection?: string; error?: string }> {
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode, connection: res.headers.connection }));
        res.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
      })
      .on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
  });
}

describe('greenhub run', () => {
  it('runs the entry with its arguments, patched before it loads, and exits with its exit code', async () => {
    const { code, stdout, stderr } = await runCli([
      'run',
      '--no-metrics',
      APP,
      'exit',
      '3',
      '--its-own-flag',
    ]);
    expect(stdout).toMatch(
      /^APP pid=\d+ timers=true fetch=true http=true args=\["exit","3","--its-own-flag"\]$/m,
    );
    expect(stderr).not.toContain('metrics on');
    expect(code).toBe(3);
  });

  it('GREENHUB_PATCH / --patch choose what is patched', async () => {
    const { code, stdout } = await runCli([
      'run',
      '--no-metrics',
      '--patch',
      '-timers,-fetch',
      APP,
      'exit',
      '0',
    ]);
    expect(stdout).toContain('timers=false fetch=false http=true');
    expect(code).toBe(0);
  });

  it('serves /metrics from inside the application, which still exits on its own when done', async () => {
    const app = startApp(['--metrics-port', '0']);
    const [port, metricsPort] = await Promise.all([app.port, app.metricsPort]);
    expect((await get(port, '/hello')).body).toBe('done /hello');
    const metrics = await get(metricsPort, '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/^greenhub_greenlets_spawned_total [1-9]\d*$/m);
    expect(metrics.body).toMatch(
      /^greenhub_http_requests_total\{server="http:\d+",method="GET",route="\/hello",status="200"\} 1$/m,
    );
    // A supervisor that dies without a word: the orphaned application shuts down by itself.
    const pid = await app.pid;
    app.child().kill('SIGKILL');
    await app.until(/greenhub: greenhub run is gone; shutting down/);
    await app.exited;
    expect(await gone(pid)).toBe(true);

    // An application that ends by itself is not kept alive by the metrics server.
    const done = await runCli(['run', '--metrics-port', '0', APP, 'exit', '0']);
    expect(done.stderr).toMatch(/greenhub: metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/);
    expect(done.code).toBe(0);
  });

  it('SIGTERM is forwarded: the request in flight finishes, the application exits 0, nothing is left', async () => {
    const app = startApp(['--metrics-port', '0', '--grace', '5000']);
    const [port, pid] = await Promise.all([app.port, app.pid]);
    const slow = get(port, '/slow');
    await app.until(/APP GOT \/slow/);
    app.child().kill('SIGTERM');
    const { code, stderr } = await app.exited;
    expect(await slow).toEqual({ status: 200, body: 'done /slow' });
    expect(stderr).toContain('greenhub: SIGTERM: shutting down gracefully');
    expect(stderr).toContain('live greenlets get 5000 ms');
    expect(stderr).toContain('greenhub: shutdown complete: 1 greenlet finished, 0 killed; exit 0');
    expect(code).toBe(0);
    expect(await gone(pid)).toBe(true);
  });

  it('SIGTERM under keep-alive load: responses in flight say connection: close, no request is reset, the shutdown ends well before the grace period', async () => {
    const CONNECTIONS = 4;
    const app = startApp(['--no-metrics', '--grace', '10000']);
    const [port, pid] = await Promise.all([app.port, app.pid]);
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
    let signalled = false;
    const inFlightAtSignal: { status?: number; connection?: string; error?: string }[] = [];
    const after: { status?: number; connection?: string; error?: string }[] = [];
    // One request after another on each keep-alive connection (bounded), until one is not a 200;
    // the connections out of phase (25 ms apart, of 100 ms requests), so that a request is always
    // about to arrive: steady load, under which a shutdown that waits for "no live greenlet" lasts
    // the whole grace period.
    const client = async (_: unknown, phase: number): Promise<void> => {
      await new Promise((resolve) => setTimeout(resolve, phase * 25));
      for (let i = 0; i < 1_000; i++) {
        const sentBefore = !signalled;
        const seen = await getKeepAlive(port, '/steady', agent);
        if (signalled) (sentBefore ? inFlightAtSignal : after).push(seen);
        if (seen.status !== 200) return;
      }
    };
    const clients = Array.from({ length: CONNECTIONS }, client);
    await app.until(new RegExp(`APP STEADY inflight=${CONNECTIONS}`)); // every connection busy
    signalled = true;
    const t0 = performance.now();
    app.child().kill('SIGTERM');
    const { code } = await app.exited;
    const exitMs = performance.now() - t0;
    await Promise.all(clients);
    agent.destroy();
    expect(inFlightAtSignal).toHaveLength(CONNECTIONS);
    expect(inFlightAtSignal).toEqual(
      Array.from({ length: CONNECTIONS }, () => ({ status: 200, connection: 'close' })),
    );
    // What the clients sent next found the listener closed: refused, never reset.
    expect(after.filter((seen) => seen.error !== 'ECONNREFUSED')).toEqual([]);
    expect(exitMs).toBeLessThan(3_000);
    expect(code).toBe(0);
    expect(await gone(pid)).toBe(true);
  });

  it('SIGHUP is a graceful stop too (no rolling reload yet): the request in flight finishes, exit 0', async () => {
    const app = startApp(['--no-metrics', '--grace', '5000']);
    const [port, pid] = await Promise.all([app.port, app.pid]);
    const slow = get(port, '/slow');
    await app.until(/APP GOT \/slow/);
    app.child().kill('SIGHUP');
    const { code, stderr } = await app.exited;
    expect(await slow).toEqual({ status: 200, body: 'done /slow' });
    expect(stderr).toContain('greenhub: SIGHUP: shutting down gracefully');
    expect(stderr).toContain('greenhub: shutdown complete: 1 greenlet finished, 0 killed; exit 0');
    expect(code).toBe(0);
    expect(await gone(pid)).toBe(true);
  });

  it('an application that listens for SIGHUP itself keeps it: no shutdown from greenhub', async () => {
    const app = startApp(['--no-metrics'], ['own-sighup']);
    await app.port;
    app.child().kill('SIGHUP');
    await app.until(/APP SIGHUP/);
    const { code, stderr } = await app.exited; // it closed its server: nothing left to do
    expect(stderr).not.toContain('shutting down gracefully');
    expect(code).toBe(0);
  });

  it('greenhub run whose own parent dies (npx exiting on SIGTERM without passing it on) stops the application gracefully', async () => {
    const wrapper = startProcess([
      '-e',
      `const run = require('node:child_process').spawn(process.execPath,
         [${JSON.stringify(CLI)}, 'run', '--no-metrics', ${JSON.stringify(APP)}], { stdio: 'inherit' });
       process.stdout.write('RUN pid=' + run.pid + '\\n');`,
    ]);
    const runPid = Number((await wrapper.until(/RUN pid=(\d+)/))[1]);
    const appPid = Number((await wrapper.until(/APP pid=(\d+)/))[1]);
    onTestFinished(() => {
      for (const pid of [appPid, runPid]) if (alive(pid)) process.kill(pid, 'SIGKILL'); // no orphans left
    });
    await wrapper.until(/APP LISTENING \d+/);
    wrapper.child().kill('SIGKILL');
    await wrapper.until(/greenhub run: its parent process is gone; stopping the application/);
    const { stderr } = await wrapper.exited; // closed once both have exited
    expect(stderr).toContain('greenhub: SIGTERM: shutting down gracefully');
    expect(await gone(appPid)).toBe(true);
    expect(await gone(runPid)).toBe(true);
  });

  it('a second signal during the shutdown exits at once: 130 after SIGINT', async () => {
    const app = startApp(['--no-metrics', '--grace', '10000']);
    const port = await app.port;
    const forever = get(port, '/forever');
    await app.until(/APP GOT \/forever/);
    app.child().kill('SIGTERM');
    await app.until(/shutting down gracefully/);
    app.child().kill('SIGINT');
    const { code, stderr } = await app.exited;
    expect(stderr).toContain('greenhub: SIGINT again: exiting now with 130');
    expect(code).toBe(130);
    expect((await forever).error).toBe('ECONNRESET');
  });
});

describe('greenhub run: bad command lines exit 2 with a message', () => {
  it.each([
    [['run'], 'greenhub run: expected <entry>, the application’s main file, got nothing'],
    [
      ['run', 'no/such/app.js'],
      'greenhub run: expected <entry> to be an existing file, got "no/such/app.js"',
    ],
    [
      ['run', '--metrics-port', '99999', APP],
      'expected --metrics-port to be a port number from 0 to 65535, got "99999"',
    ],
    [
      ['run', '--grace', '-1', APP],
      'greenhub run: expected --grace to be a number of milliseconds from 0 to 3600000, got "-1"',
    ],
    [['run', '--patch', '{nope', APP], 'greenhub run: expected --patch (or GREENHUB_PATCH) to be settings'],
    [['run', '--port', '80', APP], 'greenhub run: unknown flag --port; expected one of --metrics-port'],
  ])('%j', async (args, message) => {
    const { code, stderr } = await runCli(args);
    expect(stderr).toContain(message);
    expect(code).toBe(2);
  });
});
