import module from 'node:module';
import { describe, expect, it } from 'vitest';
import {
  installShell,
  originalOf,
  replace,
  restore,
  retireShells,
  type Shell,
} from '../../src/patch/registry.js';
import { cjsScenario, type Outcome, scenario, startProcess } from './scenario.js';

/**
 * In the child: whether greenhub has been loaded. Loading it patches every target, and the
 * childProcess and blocking targets load `node:child_process` to patch it; none of these programs
 * use it, the preload's light half does not load it, and neither do the builtins they import (on
 * Node 24 an ES import of `node:http` loads `node:zlib`, so zlib would not do).
 */
const LOADED =
  "const greenhubLoaded = () => process.moduleLoadList.includes('NativeModule child_process');\n";

/**
 * In the child: which of the builtins greenhub patches that cost to load (and that a plain http
 * server does not load) are loaded, leaving out those in `before` (a snapshot of
 * `process.moduleLoadList`: \`-e\` programs have node:crypto loaded from the start on Node 24).
 */
const COSTLY_LOADED =
  "const costlyLoaded = (before = []) => ['https', 'tls', 'crypto', 'zlib'].filter((m) => !before.includes('NativeModule ' + m) && process.moduleLoadList.includes('NativeModule ' + m));\n";

/** Node ≥ 22.15: `module.registerHooks` lets the preload see `import` as well as `require()`. */
const WATCHES_IMPORT = typeof (module as { registerHooks?: unknown }).registerHooks === 'function';

describe('a stand-in (registry.ts Shell) calls what greenhub has at its property', () => {
  function standIn(original: (x: number) => string): Shell {
    const shell: Shell = {
      fn: (x: number) => shell.impl(x),
      impl: original,
      original,
      detached: false,
    };
    return shell;
  }

  it('the original, then the patch, then the original again after the patch is undone', () => {
    const host = { f: (x: number) => `original ${x}` };
    const original = host.f;
    const shell = standIn(original);
    expect(installShell('fs', host, 'f', shell)).toBe(true);
    const copied = host.f;
    expect(copied).toBe(shell.fn);
    expect(copied(1)).toBe('original 1');
    retireShells();
    expect(host.f).toBe(original);
    expect(replace('fs', host, 'f', (x: number) => `patched ${x}`)).toBe(true);
    expect(copied(2)).toBe('patched 2');
    expect(host.f(3)).toBe('patched 3');
    expect(originalOf(host, 'f')).toBe(original);
    restore('fs');
    expect(host.f).toBe(original);
    expect(copied(4)).toBe('original 4');
  });

  it('replaced by someone else before greenhub loaded: theirs stays and is what the patch wraps; the stand-in calls the original', () => {
    const host = { f: (x: number) => `original ${x}` };
    const original = host.f;
    const shell = standIn(original);
    installShell('fs', host, 'f', shell);
    const copied = host.f;
    const theirs = (x: number): string => `theirs(${copied(x)})`;
    host.f = theirs;
    retireShells();
    expect(host.f).toBe(theirs);
    expect(shell.detached).toBe(true);
    replace('fs', host, 'f', (x: number) => `patched(${theirs(x)})`);
    // No loop through the stand-in: the patch wraps theirs, theirs calls the stand-in, which calls the original.
    expect(host.f(1)).toBe('patched(theirs(original 1))');
    expect(copied(2)).toBe('original 2');
    expect(originalOf(host, 'f')).toBe(theirs);
    restore('fs');
    expect(host.f).toBe(theirs);
  });
});

describe.concurrent('greenhub/register with its default settings loads greenhub when it is used', () => {
  it('a program that does nothing loads none of it, and none of the builtins it patches that the program did not load', async () => {
    const { code, result, stderr } = await scenario(
      `${LOADED}
      setImmediate(() => report({
        loaded: greenhubLoaded(),
        builtins: ['http', 'https', 'crypto', 'child_process', 'dns'].filter((m) => process.moduleLoadList.includes('NativeModule ' + m)),
      }));`,
      { register: true },
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(result).toEqual({ loaded: false, builtins: [] });
  });

  it('what CommonJS code copies before greenhub loads is patched once it loads: a kill stops the work, not only the wait', async () => {
    const { code, result, stderr } = await cjsScenario(
      `${LOADED}
      const { once, EventEmitter } = require('node:events');
      const { setTimeout: delay } = require('node:timers/promises');
      const { request } = require('node:http'); // a builtin the preload did not load itself
      const { resolve4 } = require('node:dns').promises; // node:dns/promises, never asked for by name
      const copiedSetTimeout = setTimeout;
      const before = { loaded: greenhubLoaded(), names: [once.name, delay.name, request.name, copiedSetTimeout.name] };
      (async () => {
        const server = require('node:http').createServer(() => {}); // never answers
        await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
        const { spawn, sleep, GreenletExit } = await import('greenhub');
        const { getOriginal } = await import('greenhub/patch');
        const emitter = new EventEmitter();
        let req;
        const greenlets = [
          spawn(() => once(emitter, 'never')),
          spawn(() => delay(60_000)),
          spawn(() => new Promise((resolve, reject) => {
            req = request({ host: '127.0.0.1', port: server.address().port }, resolve).on('error', reject);
            req.end();
          })),
          spawn(() => new Promise((resolve) => copiedSetTimeout(resolve, 60_000))),
        ];
        await sleep(20);
        for (const g of greenlets) await g.kill();
        server.close();
        // Unpatched, each greenlet would still die (its await is fenced), but the listener, the two
        // 60 s timers and the socket would live on.
        report({ before, killed: greenlets.map((g) => g.value instanceof GreenletExit),
          listeners: emitter.listenerCount('never'), timers: process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length,
          requestDestroyed: req.destroyed, resolve4IsOriginal: resolve4 === getOriginal('dns/promises', 'resolve4') });
      })();`,
      { register: true },
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(result).toEqual({
      before: { loaded: false, names: ['once', 'setTimeout', 'request', 'setTimeout'] },
      killed: [true, true, true, true],
      listeners: 0,
      timers: 0,
      requestDestroyed: true,
      resolve4IsOriginal: false,
    });
  });

  // Node 20 has no module.registerHooks: there the preload watches require() only, and an ES
  // module's destructured default import of these modules keeps the original (README says so).
  it.skipIf(typeof (module as { registerHooks?: unknown }).registerHooks !== 'function')(
    'where Node lets it watch import too, what an ES module destructures from a default import before greenhub loads is patched',
    async () => {
      const { code, result, stderr } = await scenario(
        `import http from 'node:http';
        import stream from 'node:stream';
        const { request } = http;
        const { pipeline } = stream.promises;
        const { getOriginal } = await import('greenhub/patch');
        report([request === getOriginal('http', 'request'), pipeline === getOriginal('stream/promises', 'pipeline')]);`,
        { register: true },
      );
      expect(stderr).toBe('');
      expect(code).toBe(0);
      expect(result).toEqual([false, false]);
    },
  );

  it('a function replaced before greenhub loaded keeps its replacement, and the patch wraps it', async () => {
    const { code, result, stderr } = await cjsScenario(
      `const fsp = require('node:fs/promises');
      const { execFileSync } = require('node:child_process');
      const dir = require('node:fs').mkdtempSync(require('node:path').join(require('node:os').tmpdir(), 'gh-'));
      const fifo = dir + '/fifo';
      execFileSync('mkfifo', [fifo]);
      const readFile = fsp.readFile;
      let calls = 0; // of the FIFO (Node's own ES module loader reads module files with fsp.readFile)
      fsp.readFile = function mine(...args) { if (args[0] === fifo) calls++; return readFile.apply(this, args); };
      (async () => {
        const { spawn, sleep, GreenletExit } = await import('greenhub');
        const g = spawn(() => fsp.readFile(fifo));
        await sleep(20);
        await g.kill();
        report({ killed: g.value instanceof GreenletExit, calls, theirs: fsp.readFile.name });
        // let the open in libuv's pool finish, so that the process can exit
        require('node:fs').writeFileSync(fifo, '');
      })();`,
      { register: true },
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(result).toEqual({ killed: true, calls: 1, theirs: 'mine' });
  });

  it('a server that starts listening loads it: its requests run in greenlets', async () => {
    const { code, result, stderr } = await scenario(
      `${LOADED}
      import http from 'node:http';
      const server = http.createServer((req, res) => res.end(String(greenhub.getCurrent())));
      const before = greenhubLoaded();
      const listening = new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      const atListen = greenhubLoaded();
      const greenhub = await import('greenhub');
      await listening;
      const body = await new Promise((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: server.address().port, path: '/x', agent: false }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (c) => (text += c)).on('end', () => resolve(text));
        }).on('error', reject);
      });
      server.close();
      report({ before, atListen, inGreenlet: body.startsWith('Greenlet') || body.includes('GET /x') });`,
      { register: true },
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(result).toEqual({ before: false, atListen: true, inGreenlet: true });
  });

  it('a CommonJS server that listens loads it without loading what plain Node would not: no undici', async () => {
    // An ES import of node:http builds its module facade, which reads every export; on Node 24 that
    // loads undici (http's lazy WebSocket exports), 20–50 ms of CPU this program never asked for.
    const { code, result, stderr } = await cjsScenario(
      `${LOADED}
      const http = require('node:http');
      const server = http.createServer((req, res) => res.end());
      server.listen(0, '127.0.0.1', () => {
        server.close();
        report({
          loaded: greenhubLoaded(),
          undici: process.moduleLoadList.filter((m) => m.includes('undici')),
        });
      });`,
      { register: true },
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(result).toEqual({ loaded: true, undici: [] });
  });

  it('a server that listens patches https, crypto and zlib once the application asks for them; where Node lets it watch import too, it does not load them before', async () => {
    // What the application would get from each after the first listen, and whether it is the patch's.
    const { code, result, stderr } = await cjsScenario(
      `${COSTLY_LOADED}
      const atStart = [...process.moduleLoadList];
      const http = require('node:http');
      const server = http.createServer((req, res) => res.end());
      server.listen(0, '127.0.0.1', async () => {
        server.close();
        const atListen = costlyLoaded(atStart);
        const { getOriginal } = await import('greenhub/patch');
        const https = require('node:https');
        const { pbkdf2Sync } = require('node:crypto'); // copied at once: patched before it is returned
        const zlib = await import('node:zlib'); // an ES import
        report({ atListen, patched: [
          https.request !== getOriginal('https', 'request'),
          https.Server.prototype.emit !== getOriginal(https.Server.prototype, 'emit'),
          pbkdf2Sync !== getOriginal('crypto', 'pbkdf2Sync'),
          zlib.gzipSync !== getOriginal('zlib', 'gzipSync'),
        ] });
      });`,
      { register: true },
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const { atListen, patched } = result as { atListen: string[]; patched: boolean[] };
    expect(patched).toEqual([true, true, true, true]);
    if (WATCHES_IMPORT) expect(atListen).toEqual([]);
    else expect(atListen).toContain('https'); // Node 20: patched, so loaded, as greenhub loads
  });

  it('greenhub imported at start-up (not loaded by a listen) patches https at once, as it patches everything', async () => {
    // After a listen the application has made nearly all its requires; at start-up it has not, and
    // the resolve hook that waiting for https would need costs every one of them.
    const { code, result, stderr } = await cjsScenario(
      `${COSTLY_LOADED}
      const atStart = [...process.moduleLoadList];
      import('greenhub').then(() => report(costlyLoaded(atStart)));`,
      { register: true },
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(result).toContain('https');
  });

  it("what the preload's patch left until asked is patched at once by the application's own patchAll(), and never after unpatchAll()", async () => {
    const listenThen = (then: string): Promise<Outcome> =>
      cjsScenario(
        `${COSTLY_LOADED}
        const server = require('node:http').createServer((req, res) => res.end());
        server.listen(0, '127.0.0.1', async () => {
          server.close();
          const { getOriginal, patchAll, unpatchAll } = await import('greenhub/patch');
          ${then}
        });`,
        { register: true },
      );
    const patched = await listenThen(
      `patchAll({ signal: false });
      report({ loaded: costlyLoaded(), https: require('node:https').request !== getOriginal('https', 'request') });`,
    );
    const unpatched = await listenThen(
      `unpatchAll();
      report([require('node:https').request === getOriginal('https', 'request'),
        require('node:crypto').pbkdf2Sync === getOriginal('crypto', 'pbkdf2Sync')]);`,
    );
    for (const { stderr, code } of [patched, unpatched]) {
      expect(stderr).toBe('');
      expect(code).toBe(0);
    }
    expect(patched.result).toEqual({ loaded: ['https', 'tls', 'crypto', 'zlib'], https: true });
    expect(unpatched.result).toEqual([true, true]);
  });

  it('a synchronous call that blocks longer than the limit before greenhub loads is reported as the blocking patch reports it; a short one loads nothing', async () => {
    const { code, result, stderr } = await scenario(
      `${LOADED}
      import fs from 'node:fs';
      fs.readFileSync('package.json');
      const afterShort = greenhubLoaded();
      const cell = new Int32Array(new SharedArrayBuffer(4));
      (function blockHere() { Atomics.wait(cell, 0, 0, 150); })();
      const { blockingStats } = await import('greenhub/patch');
      report({ afterShort, loaded: greenhubLoaded(), counted: blockingStats().byApi['Atomics.wait']?.events });`,
      { register: true },
    );
    expect(code).toBe(0);
    expect(result).toEqual({ afterShort: false, loaded: true, counted: 1 });
    expect(stderr).toMatch(
      /^greenhub: blocking call Atomics\.wait\(\) took \d+ ms \(limit 100 ms\) in top-level code at blockHere /,
    );
  });

  it('a shutdown signal before greenhub loads runs the graceful shutdown', async () => {
    const started = startProcess(
      [
        '--import',
        'greenhub/register',
        '--input-type=module',
        '-e',
        `${LOADED}setInterval(() => {}, 1000); console.log('READY', greenhubLoaded());`,
      ],
      {},
    );
    await started.until(/READY false/);
    started.child().kill('SIGTERM');
    const { code, stderr } = await started.exited;
    expect(stderr).toContain('greenhub: SIGTERM: shutting down gracefully');
    expect(stderr).toContain('greenhub: shutdown complete: 0 greenlets finished, 0 killed; exit 0');
    expect(code).toBe(0);
  });
});
