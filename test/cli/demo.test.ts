import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, gone, runCli, startDemo } from './helpers.js';

// A few thousand iterations: the routes stay quick, the placement logic is the same.
const LIGHT = ['--threads', '2', '--cpu-iterations', '3000'];

describe('greenhub demo', () => {
  let demo: ReturnType<typeof startDemo>;
  let port: number;
  beforeAll(async () => {
    demo = startDemo(['--mode', 'offload', '--grace', '2000', ...LIGHT]);
    port = await demo.port;
  });
  afterAll(() => {
    if (demo.child().exitCode === null) demo.child().kill('SIGKILL');
  });

  it('answers /io (through the local upstream), /cpu (in the pool) and /hybrid', async () => {
    const [io, cpu, hybrid] = await Promise.all([get(port, '/io'), get(port, '/cpu'), get(port, '/hybrid')]);
    expect(io).toEqual({ status: 200, body: 'upstream ok\n' });
    expect(cpu.status).toBe(200);
    expect(cpu.body).toMatch(/^[0-9a-f]{16}\n$/);
    expect(hybrid.status).toBe(200);
    expect(hybrid.body).toMatch(/^[0-9a-f]{16} (inline|thread)\n$/);
    expect((await get(port, '/nope')).status).toBe(404);
  });

  it('serves /metrics on the same port: pool metrics and requests counted by demo route (the upstream, /metrics and the status page are not)', async () => {
    await Promise.all([get(port, '/io'), get(port, '/cpu'), get(port, '/hybrid'), get(port, '/metrics')]);
    const { status, body } = await get(port, '/metrics');
    expect(status).toBe(200);
    expect(body).toMatch(/^greenhub_threadpool_threads\{pool="demo",state="busy"\} \d+$/m);
    expect(body).toMatch(/^greenhub_threadpool_tasks_total\{pool="demo",outcome="ok"\} [1-9]\d*$/m);
    for (const route of ['/io', '/cpu', '/hybrid'])
      expect(body).toMatch(
        new RegExp(
          `^greenhub_http_requests_total\\{server="demo",method="GET",route="${route}",status="200"\\} [1-9]\\d*$`,
          'm',
        ),
      );
    expect(body!.match(/^greenhub_http_requests_total\{server="(?!demo")/gm)).toBeNull();
    expect(body!.match(/^greenhub_http_requests_total\{.*route="\/(metrics|status\.json)?"/gm)).toBeNull();
  });

  it('serves the live status page at / and its JSON', async () => {
    const page = await get(port, '/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>greenhub demo (offload)</title>');
    expect(page.body).toContain('/status.json');
    const json = JSON.parse((await get(port, '/status.json')).body!);
    expect(json.pools.map((p: { name: string }) => p.name)).toContain('demo');
  });

  it('SIGTERM: stops gracefully and exits 0, leaving no process behind', async () => {
    const pid = demo.child().pid!;
    demo.child().kill('SIGTERM');
    const { code, stderr } = await demo.exited;
    expect(stderr).toContain('greenhub demo: SIGTERM: stopping; requests in flight get 2000 ms');
    expect(stderr).toContain('greenhub demo: stopped');
    expect(code).toBe(0);
    expect(await gone(pid)).toBe(true);
    expect((await get(port, '/io')).error).toBe('ECONNREFUSED');
  });
});

describe('greenhub demo --load', () => {
  it('drives the service, prints a summary table with every route, and exits 0', async () => {
    const { code, stdout, stderr } = await runCli(['demo', '--port', '0', '--load', '2', ...LIGHT]);
    expect(code).toBe(0);
    expect(stderr).toMatch(/^load +1\/2 s +\d+ requests +\d+ req\/s +0 errors$/m);
    expect(stdout).toMatch(/^greenhub demo --mode hybrid, 2 threads: [\d.]+ s of load$/m);
    expect(stdout).toMatch(/^route +requests +req\/s +p50 ms +p99 ms +errors$/m);
    for (const route of ['GET /io', 'GET /cpu', 'GET /hybrid'])
      expect(stdout).toMatch(new RegExp(`^${route} +[1-9]\\d* +[\\d.]+ +[\\d.]+ +[\\d.]+ +0$`, 'm'));
    expect(stdout).toMatch(/^total +[1-9]\d* +[\d.]+ +0$/m);
    expect(stdout).toMatch(/^loop delay p99: [\d.]+ ms {3}pool utilization: \d+%$/m);
  });
});

describe('greenhub demo: bad command lines exit 2 with a message naming the flag', () => {
  it.each([
    [['--mode', 'fast'], 'greenhub demo: expected --mode to be one of inline, offload, hybrid, got "fast"'],
    [['--threads', '0'], 'greenhub demo: expected --threads to be an integer from 1 to 256, got "0"'],
    [['--port'], 'greenhub demo: expected --port to be a port number from 0 to 65535, got nothing'],
    [
      ['--load', '0'],
      'greenhub demo: expected --load to be a number of seconds from 1 to 600 (or nothing: 10), got "0"',
    ],
    [['--quiet=yes'], 'greenhub demo: expected --quiet to have no value, got "yes"'],
    [['--frobnicate'], 'greenhub demo: unknown flag --frobnicate; expected one of --port, --host, --mode'],
    [['extra'], 'greenhub demo: expected no arguments besides options, got "extra"'],
  ])('%j', async (flags, message) => {
    const { code, stdout, stderr } = await runCli(['demo', ...flags]);
    expect(stderr).toContain(message);
    expect(stdout).toBe('');
    expect(code).toBe(2);
  });

  it('an unknown or missing command exits 2; --help exits 0 and lists every flag', async () => {
    const bad = await runCli(['serve']);
    expect(bad.stderr).toContain(
      'greenhub: unknown command "serve"; expected one of run, demo, advise, help',
    );
    expect(bad.code).toBe(2);
    const none = await runCli([]);
    expect(none.stderr).toContain('Usage: greenhub <command> [options]');
    expect(none.code).toBe(2);
    const help = await runCli(['demo', '--help']);
    expect(help.code).toBe(0);
    for (const flag of [
      '--port',
      '--host',
      '--mode',
      '--threads',
      '--io',
      '--cpu-iterations',
      '--load',
      '--grace',
      '--quiet',
    ])
      expect(help.stdout).toContain(flag);
    expect(help.stdout).toContain(
      'A client that disconnects cancels its request (HttpServer cancelOnDisconnect',
    );
  });
});
