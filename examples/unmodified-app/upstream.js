// A slow upstream for app.js: answers /slow after DELAY_MS (default 10 s), and says on stdout, one
// JSON object per line, when a request arrives and when a caller hangs up before the answer.
import http from 'node:http';

const delayMs = Number(process.env.DELAY_MS ?? 10_000);
/** @param {Record<string, unknown>} event */
const log = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);

const server = http.createServer((req, res) => {
  log({ event: 'request', path: req.url });
  const timer = setTimeout(() => res.end('finally\n'), delayMs);
  res.on('close', () => {
    if (res.writableFinished) return;
    clearTimeout(timer);
    log({ event: 'caller hung up', path: req.url });
  });
});

server.listen(Number(process.env.PORT ?? 9300), '127.0.0.1', () => {
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  log({ event: 'listening', port });
});
