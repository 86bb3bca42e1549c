import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { startProcess as start } from '../patch/scenario.js';

describe('examples/unmodified-app under node --import greenhub/register', () => {
  it('with http.cancelOnDisconnect, a client disconnect stops the upstream call, and the blocking route is reported with its route and API', async () => {
    const upstream = start(['examples/unmodified-app/upstream.js'], {
      env: { PORT: '0', DELAY_MS: '30000' },
    });
    const upstreamPort = (await upstream.until(/"port":(\d+)/))[1];
    const app = start(['--import', 'greenhub/register', 'examples/unmodified-app/app.js'], {
      env: {
        PORT: '0',
        UPSTREAM_URL: `http://127.0.0.1:${upstreamPort}`,
        GREENHUB_PATCH: 'http.cancelOnDisconnect=true',
      },
      timeoutMs: 20_000,
    });
    const port = Number((await app.until(/listening on http:\/\/127\.0\.0\.1:(\d+)/))[1]);

    // The client gives up while the app waits on the upstream.
    const client = http.get({ host: '127.0.0.1', port, path: '/slow', agent: false });
    client.on('error', () => {});
    await upstream.until(/"event":"request","path":"\/slow"/);
    client.destroy();
    await upstream.until(/"event":"caller hung up","path":"\/slow"/);

    const blocked = await new Promise<string>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/block', agent: false }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (c: string) => (body += c));
          res.on('end', () => resolve(body));
        })
        .on('error', reject);
    });
    expect(blocked).toBe('blocked the event loop for a second\n');
    const report = (await app.until(/greenhub: blocking call .*\n/))[0];
    expect(report).toMatch(
      /^greenhub: blocking call child_process\.execSync\(\) took \d\.\d\d s \(limit 100 ms\) in "GET \/block" \(Greenlet-\d+\) at .*examples\/unmodified-app\/app\.js:\d+:\d+/,
    );

    // SIGTERM: graceful shutdown, exit 0.
    app.child().kill('SIGTERM');
    const { code, stderr } = await app.exited;
    expect(stderr).toContain('greenhub: shutdown complete');
    expect(code).toBe(0);
    upstream.child().kill();
    await upstream.exited;
  });
});
