import { describe, expect, it } from 'vitest';
import { scenario } from './scenario.js';

const PATCHED = `
import { patchAll } from 'greenhub/patch';
import { spawn, sleep, getHub, GreenletExit, Timeout, withTimeout } from 'greenhub';
patchAll({ signal: false });
const since = (t) => Math.round(performance.now() - t);
const ops = () => Object.fromEntries(Object.entries(getHub().stats().operations).filter(([, n]) => n !== 0));
`;

/** A local server that accepts and never answers; `closed` resolves when a client's connection closes. */
const SILENT_SERVER = `
import http from 'node:http';
let sawRequest, sawClose;
const requested = new Promise((r) => (sawRequest = r));
const closed = new Promise((r) => (sawClose = r));
const server = http.createServer((req) => { sawRequest(); req.socket.on('close', sawClose); });
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = 'http://127.0.0.1:' + server.address().port + '/';
const stop = () => { server.closeAllConnections(); server.close(); };
`;

describe.concurrent('patched I/O: a kill stops the operation, frees its resource and lands as the kill', () => {
  it('fetch to a server that never answers: the request is aborted and the server sees the connection close', async () => {
    const { code, result } = await scenario(`${PATCHED}${SILENT_SERVER}
      const g = spawn(() => fetch(url));
      await requested;
      const t = performance.now();
      await g.kill();
      await closed;
      report({ killed: g.value instanceof GreenletExit, closedMs: since(t), ops: ops() });
      stop();
    `);
    expect(code).toBe(0);
    expect(result).toMatchObject({ killed: true, ops: {} });
    expect((result as { closedMs: number }).closedMs).toBeLessThan(200);
  });

  it('reading a fetch body that stalls: the Timeout aborts the request and withTimeout() gets its own Timeout', async () => {
    const { code, result } = await scenario(`${PATCHED}
      import http from 'node:http';
      let sawClose;
      const closed = new Promise((r) => (sawClose = r));
      const server = http.createServer((req, res) => { res.writeHead(200); res.write('partial'); });
      // On the connection, not in the handler: on a loaded machine the Timeout may fire before the
      // request reaches the handler, and the close must still be seen.
      server.on('connection', (socket) => socket.on('close', sawClose));
      await new Promise((r) => server.listen(0, '127.0.0.1', r));
      const url = 'http://127.0.0.1:' + server.address().port + '/';
      let error;
      try { await withTimeout(150, async () => (await fetch(url)).text()); } catch (e) { error = e; }
      await closed;
      // undici's own callback timers keep their life (a kill does not clear timers): only the
      // request itself must be gone.
      report({ timeout: error instanceof Timeout, fetch: ops().fetch ?? 0 });
      server.close();
    `);
    expect(code).toBe(0);
    expect(result).toEqual({ timeout: true, fetch: 0 });
  });

  it("http.get: the request is destroyed, its 'error' listener gets the kill, the server sees the close", async () => {
    const { code, result } = await scenario(`${PATCHED}${SILENT_SERVER}
      const errors = [];
      const g = spawn(() => new Promise((resolve, reject) => {
        http.get(url, resolve).on('error', (e) => { errors.push(e.constructor.name); reject(e); });
      }));
      await requested;
      await g.kill();
      await closed;
      report({ killed: g.value instanceof GreenletExit, errors, ops: ops() });
      stop();
    `);
    expect(code).toBe(0);
    expect(result).toEqual({ killed: true, errors: ['GreenletExit'], ops: {} });
  });

  it('net.connect while connecting: the socket is destroyed and its error listener gets the kill', async () => {
    const { code, result } = await scenario(`${PATCHED}
      import net from 'node:net';
      let socket;
      const g = spawn(() => new Promise((resolve, reject) => {
        // A host whose lookup never answers keeps the socket connecting.
        socket = net.connect({ host: 'pending.test', port: 80, lookup: () => {} });
        socket.on('connect', resolve).on('error', reject);
      }));
      await sleep(5);
      const during = ops();
      await g.kill();
      report({ during, killed: g.value instanceof GreenletExit, destroyed: socket.destroyed, after: ops() });
    `);
    expect(code).toBe(0);
    expect(result).toEqual({ during: { net: 1 }, killed: true, destroyed: true, after: {} });
  });

  it('a socket killed while connecting with nobody listening for errors closes quietly; the kill lands at the next checkpoint', async () => {
    const { code, result } = await scenario(`${PATCHED}
      import net from 'node:net';
      import { setTimeout as delay } from 'node:timers/promises';
      const steps = [];
      let resumed;
      const done = new Promise((r) => (resumed = r));
      const g = spawn(async () => {
        const socket = net.connect({ host: 'pending.test', port: 80, lookup: () => {} });
        await new Promise((resolve) => socket.on('close', resolve)); // no 'error' listener
        steps.push('closed');
        try { await delay(0); steps.push('checkpoint passed'); } finally { resumed(); }
      });
      await sleep(5);
      await g.kill(); // returns with g dead: the close is awaited by a fenced continuation
      const dead = g.dead;
      await done;
      report({ steps, dead, killed: g.value instanceof GreenletExit, ops: ops() });
    `);
    expect(code).toBe(0);
    expect(result).toEqual({ steps: ['closed'], dead: true, killed: true, ops: {} });
  });

  it('dns/promises.resolve4 against a silent server: the query is cancelled (no retry reaches the server)', async () => {
    const program = (
      patch: boolean,
    ) => `${patch ? PATCHED : "import { spawn, sleep, GreenletExit } from 'greenhub';"}
      import dns from 'node:dns';
      import dgram from 'node:dgram';
      const udp = dgram.createSocket('udp4');
      let packets = 0;
      let first;
      const asked = new Promise((r) => (first = r));
      udp.on('message', () => { packets++; first(); });
      await new Promise((r) => udp.bind(0, '127.0.0.1', r));
      dns.setServers(['127.0.0.1:' + udp.address().port]);
      const g = spawn(() => dns.promises.resolve4('silent.test'));
      await asked;
      ${patch ? 'await g.kill();' : 'g.kill({ block: false });'}
      // Your own Resolver: the call is released at once (the query ends by its own timeout).
      const own = new dns.promises.Resolver({ timeout: 60_000, tries: 1 });
      own.setServers(dns.getServers());
      const h = spawn(() => own.resolve4('own.test'));
      await sleep(20);
      ${patch ? 'await h.kill();' : 'h.kill({ block: false });'}
      const released = h.dead;
      own.cancel();
      await new Promise((r) => setTimeout(r, 4_500)); // c-ares retries after 2 to 3 s
      report({ packets, killed: g.value instanceof GreenletExit, released });
      udp.close();
      process.exit(0);
    `;
    const [patched, unpatched] = await Promise.all([scenario(program(true)), scenario(program(false))]);
    expect(patched.result).toEqual({ packets: 2, killed: true, released: true }); // one query each
    // Control: unpatched, the greenlet cannot interrupt the query and c-ares retries.
    expect(unpatched.result).toMatchObject({ released: false });
    expect((unpatched.result as { packets: number }).packets).toBeGreaterThan(2);
  });

  it('fs.promises.readFile and open of a FIFO nobody writes to: released at once; the descriptors are closed afterwards', async () => {
    const { code, result } = await scenario(`${PATCHED}
      import fs from 'node:fs';
      import os from 'node:os';
      import path from 'node:path';
      import { execFileSync } from 'node:child_process';
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'greenhub-fifo-'));
      const fifo = path.join(dir, 'pipe');
      execFileSync('mkfifo', [fifo]);
      // Whether anyone holds the FIFO open for reading: a non-blocking open for writing fails with
      // ENXIO only when no reader has it open (a reader counts from the start of its open).
      const readerHoldsIt = () => {
        try {
          fs.closeSync(fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
          return true;
        } catch (error) {
          if (error.code === 'ENXIO') return false;
          throw error;
        }
      };
      const g = spawn(() => fs.promises.readFile(fifo));
      const h = spawn(() => fs.promises.open(fifo)); // a FileHandle arriving after the kill is closed
      await sleep(20); // both are stuck opening the FIFO in libuv's thread pool
      const t = performance.now();
      await g.kill();
      await h.kill();
      const killMs = since(t);
      // Unblock the thread pool: open and close the writing end. The two descriptors the opens
      // return are closed by whoever receives them: wait until no reader holds the FIFO (2 s at most).
      fs.closeSync(fs.openSync(fifo, 'w'));
      let held = true;
      for (let waited = 0; (held = readerHoldsIt()) && waited < 2000; waited += 10) await new Promise((r) => setTimeout(r, 10));
      report({ killed: g.value instanceof GreenletExit && h.value instanceof GreenletExit, killMs, fdsBack: !held, ops: ops() });
      fs.rmSync(dir, { recursive: true });
    `);
    expect(code).toBe(0);
    expect(result).toMatchObject({ killed: true, fdsBack: true, ops: {} });
    expect((result as { killMs: number }).killMs).toBeLessThan(50);
  });

  it('a kill aborts the readFile of the killed greenlet only; the signals of calls that finished serve later ones, an aborted one never does', async () => {
    const { code, result } = await scenario(`${PATCHED}
      import fs from 'node:fs';
      import os from 'node:os';
      import path from 'node:path';
      import { execFileSync } from 'node:child_process';
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'greenhub-fifo-'));
      const [fifoA, fifoB, fifoC] = ['a', 'b', 'c'].map((name) => path.join(dir, name));
      for (const fifo of [fifoA, fifoB, fifoC]) execFileSync('mkfifo', [fifo]);
      const file = path.join(dir, 'file');
      fs.writeFileSync(file, 'file');
      const read = async (name, opts) => {
        const g = spawn(() => fs.promises.readFile(name, opts));
        await g.join();
        return g.exception?.name ?? g.value;
      };
      const first = await read(file, 'utf8'); // its signal is left for a later call
      const a = spawn(() => fs.promises.readFile(fifoA, 'utf8'));
      const b = read(fifoB, 'utf8');
      const mine = new AbortController();
      const c = spawn(() => fs.promises.readFile(fifoC, { encoding: 'utf8', signal: mine.signal }));
      await sleep(20); // all three are stuck opening their FIFO in libuv's thread pool
      await a.kill();
      mine.abort(new Error('mine'));
      // Unblock the thread pool: B gets data, A and C meet their aborted signals after the open.
      fs.writeFileSync(fifoB, 'b');
      fs.closeSync(fs.openSync(fifoA, 'w'));
      fs.closeSync(fs.openSync(fifoC, 'w'));
      await c.join();
      const after = await Promise.all([read(file, 'utf8'), read(file, 'utf8')]);
      const cb = await new Promise((resolve) => spawn(() => fs.readFile(file, 'utf8', (e, v) => resolve(e?.name ?? v))));
      report({ first, a: a.value instanceof GreenletExit, b: await b, c: [c.exception?.name, c.exception?.cause?.message], after, cb, ops: ops() });
      fs.rmSync(dir, { recursive: true });
    `);
    expect(code).toBe(0);
    expect(result).toEqual({
      first: 'file',
      a: true,
      b: 'b',
      c: ['AbortError', 'mine'],
      after: ['file', 'file'],
      cb: 'file',
      ops: {},
    });
  });

  it('fs callbacks and util.promisify(fs.*) deliver the kill to their callback', async () => {
    const { code, result } = await scenario(`${PATCHED}
      import fs from 'node:fs';
      import { promisify } from 'node:util';
      const seen = [];
      const g = spawn(() => new Promise((resolve, reject) => {
        fs.readFile('/dev/zero', (error, data) => { seen.push(error?.constructor.name); error ? reject(error) : resolve(data); });
      }));
      await sleep(0);
      g.kill({ block: false });
      await g.join();
      const h = spawn(() => promisify(fs.stat)('/'));
      h.kill({ block: false });
      await h.join();
      await sleep(5);
      report({ seen, killed: [g.value instanceof GreenletExit, h.value instanceof GreenletExit] });
    `);
    expect(code).toBe(0);
    expect(result).toEqual({ seen: ['GreenletExit'], killed: [true, true] });
  });

  it('child_process.spawn, promisified exec and execFile with a callback: the child is killed', async () => {
    const { code, result } = await scenario(`${PATCHED}
      import cp from 'node:child_process';
      import { promisify } from 'node:util';
      const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
      const outcomes = [];
      const children = [];
      for (const body of [
        () => new Promise((resolve, reject) => { const c = cp.spawn('sleep', ['30']); children.push(c); c.on('exit', resolve).on('error', reject); }),
        () => { const p = promisify(cp.exec)('exec sleep 30'); children.push(p.child); return p; },
        () => new Promise((resolve, reject) => children.push(cp.execFile('sleep', ['30'], (e, out) => (e ? reject(e) : resolve(out))))),
      ]) {
        const g = spawn(body);
        await sleep(20);
        await g.kill();
        outcomes.push(g.value instanceof GreenletExit);
      }
      await Promise.all(children.map((c) => c.exitCode !== null || c.signalCode !== null || new Promise((r) => c.once('exit', r))));
      report({ outcomes, signals: children.map((c) => c.signalCode), alive: children.map((c) => alive(c.pid)), ops: ops() });
    `);
    expect(code).toBe(0);
    expect(result).toEqual({
      outcomes: [true, true, true],
      signals: ['SIGTERM', 'SIGTERM', 'SIGTERM'],
      alive: [false, false, false],
      ops: {},
    });
  });

  it('child_process: a kill reaches the whole process group, not only the shell of exec("sleep 30 | cat &…")', async () => {
    const { code, result } = await scenario(
      `${PATCHED}
      import cp from 'node:child_process';
      const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
      const groupGone = (pgid) => { try { process.kill(-pgid, 0); return false; } catch (e) { return e.code === 'ESRCH'; } };
      let child;
      let printed;
      const catPid = new Promise((resolve) => (printed = resolve));
      // The shell starts the pipeline in the background, prints the pid of its last member, waits.
      const g = spawn(() => new Promise((resolve, reject) => {
        child = cp.exec('sleep 30 | cat & echo $!; wait', (e) => (e ? reject(e) : resolve()));
        child.stdout.once('data', (d) => printed(Number(String(d).trim())));
      }));
      const cat = await catPid;
      const pgid = child.pid; // the shell leads the group
      const during = { group: !groupGone(pgid), cat: alive(cat) };
      await g.kill();
      const deadline = performance.now() + 5_000;
      while ((!groupGone(pgid) || alive(cat)) && performance.now() < deadline) await sleep(20);
      report({ during, groupGone: groupGone(pgid), catAlive: alive(cat), killed: g.value instanceof GreenletExit, ops: ops() });
    `,
      { newSession: true },
    );
    expect(code).toBe(0);
    expect(result).toEqual({
      during: { group: true, cat: true },
      groupGone: true,
      catAlive: false,
      killed: true,
      ops: {},
    });
  });

  it('child_process: only a child started in a greenlet gets a process group of its own, and never against an explicit detached', async () => {
    const { code, result } = await scenario(
      `${PATCHED}
      import cp from 'node:child_process';
      const pgid = (pid) => Number(cp.execFileSync('ps', ['-o', 'pgid=', '-p', String(pid)]).toString().trim());
      const mine = pgid(process.pid);
      const children = [];
      const start = (opts) => { const c = cp.spawn('sleep', ['30'], opts); children.push(c); return c; };
      const outside = start();
      const inside = await spawn(() => start()).get();
      const insideAttached = await spawn(() => start({ detached: false })).get();
      const groups = [outside, inside, insideAttached].map((c) => pgid(c.pid));
      report({
        outside: groups[0] === mine,
        inside: groups[1] === inside.pid,
        insideAttached: groups[2] === mine,
      });
      for (const c of children) c.kill('SIGKILL');
    `,
      { newSession: true },
    );
    expect(code).toBe(0);
    expect(result).toEqual({ outside: true, inside: true, insideAttached: true });
  });

  it('events.once and the pending next() of events.on reject with the kill and remove their listeners', async () => {
    const { code, result } = await scenario(`${PATCHED}
      import { EventEmitter, once, on } from 'node:events';
      const emitter = new EventEmitter();
      const a = spawn(() => once(emitter, 'ready'));
      const b = spawn(async () => { for await (const [m] of on(emitter, 'message')) if (m === 'stop') break; });
      await sleep(5);
      const listening = [emitter.listenerCount('ready'), emitter.listenerCount('message')];
      await a.kill();
      await b.kill();
      report({ listening, killed: [a.value instanceof GreenletExit, b.value instanceof GreenletExit],
        after: [emitter.listenerCount('ready'), emitter.listenerCount('message')], ops: ops() });
    `);
    expect(code).toBe(0);
    expect(result).toEqual({ listening: [1, 1], killed: [true, true], after: [0, 0], ops: {} });
  });

  it('stream/promises.pipeline: every stream of the pipeline is destroyed', async () => {
    const { code, result } = await scenario(`${PATCHED}
      import { PassThrough, Readable } from 'node:stream';
      import { pipeline } from 'node:stream/promises';
      const source = new Readable({ read() {} }); // never ends
      const middle = new PassThrough();
      const sink = new PassThrough();
      const g = spawn(() => pipeline(source, middle, sink));
      await sleep(5);
      await g.kill();
      await sleep(5);
      report({ killed: g.value instanceof GreenletExit, destroyed: [source.destroyed, middle.destroyed, sink.destroyed], ops: ops() });
    `);
    expect(code).toBe(0);
    expect(result).toEqual({ killed: true, destroyed: [true, true, true], ops: {} });
  });

  it('every patched call is a checkpoint: a pending kill rejects it before any work starts', async () => {
    const { code, result } = await scenario(`${PATCHED}
      import fsp from 'node:fs/promises';
      let release;
      const untracked = new Promise((r) => (release = r));
      let started = false;
      const g = spawn(async () => {
        await untracked; // a plain promise: the kill cannot reach it, so it waits for a checkpoint
        await fsp.readFile(process.execPath).then(() => (started = true));
      });
      await sleep(5);
      g.kill({ block: false });
      release();
      await g.join();
      report({ killed: g.value instanceof GreenletExit, started });
    `);
    expect(code).toBe(0);
    expect(result).toEqual({ killed: true, started: false });
  });

  it("the caller's own signal still works as before, and a kill still lands as the kill", async () => {
    const { code, result } = await scenario(`${PATCHED}
      import { setTimeout as delay } from 'node:timers/promises';
      const mine = new AbortController();
      const a = spawn(() => delay(60_000, null, { signal: mine.signal }));
      const b = spawn(() => delay(60_000, null, { signal: new AbortController().signal }));
      await sleep(5);
      mine.abort(new Error('mine'));
      await a.join();
      await b.kill();
      report({ a: [a.exception?.name, a.exception?.cause?.message], b: b.value instanceof GreenletExit, ops: ops() });
    `);
    expect(code).toBe(0);
    expect(result).toEqual({ a: ['AbortError', 'mine'], b: true, ops: {} });
  });

  it('a kill lands where the greenlet waits: I/O it started without waiting in it goes on', async () => {
    const { code, result } = await scenario(`${PATCHED}
      import { setTimeout as delay } from 'node:timers/promises';
      import { Event } from 'greenhub';
      let background;
      const parked = new Event();
      const g = spawn(async () => {
        // A patched operation the greenlet starts and does not wait in (fire and forget).
        background = delay(30, true).catch((e) => e.constructor.name);
        parked.set();
        await new Event().wait(); // the greenlet's wait
      });
      await parked.wait();
      await g.kill();
      report({ killed: g.value instanceof GreenletExit, background: await background });
    `);
    expect(code).toBe(0);
    expect(result).toEqual({ killed: true, background: true });
  });

  it('a memoised promise started by a request survives its kill when started with spawnDetached', async () => {
    const { code, result } = await scenario(`${PATCHED}
      import { setTimeout as delay } from 'node:timers/promises';
      import { spawnDetached } from 'greenhub';
      let config;
      const loadConfig = async () => { await delay(30); return { ready: true }; };
      const request = () => spawn(async () => {
        config ??= spawnDetached(loadConfig);
        return config.get();
      });
      const first = request();
      await sleep(5);
      await first.kill(); // the first requester leaves while the memo loads
      const second = request();
      report({ first: first.value instanceof GreenletExit, second: await second.get(), parent: config.parent });
    `);
    expect(code).toBe(0);
    expect(result).toEqual({ first: true, second: { ready: true }, parent: null });
  });

  it('withTimeout keeps its deadline on a query written to an already-connected socket (a driver-shaped call)', async () => {
    const { code, result } = await scenario(`${PATCHED}
      import net from 'node:net';
      // A database-shaped server that never answers the query.
      const server = net.createServer(() => {});
      await new Promise((r) => server.listen(0, '127.0.0.1', r));
      const socket = net.connect(server.address().port, '127.0.0.1');
      await new Promise((r) => socket.once('connect', r));
      // The driver: a pooled connection, the answer delivered by its own 'data' handler.
      const pending = [];
      socket.on('data', (chunk) => pending.shift()?.(chunk.toString()));
      const query = (sql) => new Promise((resolve) => { pending.push(resolve); socket.write(sql); });
      const g = spawn(() => withTimeout(50, () => query('select pg_sleep(10)'), { fallback: 'timed out' }));
      const t = performance.now();
      const value = await g.get();
      const ms = since(t);
      socket.destroy();
      server.close();
      report({ value, onTime: ms < 1000, abandoned: getHub().stats().abandoned.total });
    `);
    expect(code).toBe(0);
    expect(result).toEqual({ value: 'timed out', onTime: true, abandoned: 1 });
  });
});
