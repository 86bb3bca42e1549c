// A plain node:http service. It does not import greenhub: run it under the preload and every
// request gets its own greenlet, a client that disconnects stops the upstream call it was waiting
// on (with http.cancelOnDisconnect=true; by default a disconnect does not kill the request), and
// the blocking route is reported with its route and API.
//
//   node examples/unmodified-app/upstream.js                  # a slow upstream on 127.0.0.1:9300
//   GREENHUB_PATCH=http.cancelOnDisconnect=true node --import greenhub/register examples/unmodified-app/app.js
//   curl -m 1 http://127.0.0.1:8300/slow    # gives up after 1 s: the upstream sees the call stop
//   curl http://127.0.0.1:8300/block        # stderr: blocking call child_process.execSync() … "GET /block"
//
// PORT and UPSTREAM_URL override the defaults; PORT=0 picks a free port.
import { execSync } from 'node:child_process';
import http from 'node:http';

const upstream = process.env.UPSTREAM_URL ?? 'http://127.0.0.1:9300';

/**
 * GET `url` and resolve with its body.
 * @param {string} url
 * @returns {Promise<string>}
 */
function get(url) {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve(body));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

const server = http.createServer(async (req, res) => {
  if (req.url === '/slow') {
    try {
      const body = await get(`${upstream}/slow`);
      res.end(`upstream said: ${body}\n`);
    } catch (error) {
      res.statusCode = 502;
      res.end(`upstream failed: ${error instanceof Error ? error.message : String(error)}\n`);
    }
  } else if (req.url === '/block') {
    execSync('sleep 1'); // the whole process stands still for a second
    res.end('blocked the event loop for a second\n');
  } else {
    res.end('ok\n');
  }
});

server.listen(Number(process.env.PORT ?? 8300), '127.0.0.1', () => {
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  console.log(`listening on http://127.0.0.1:${port}`);
});
