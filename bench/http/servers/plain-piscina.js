// Server (b): plain node:http with raw piscina, 2 threads, for the CPU work.
// PORT=… ITERATIONS=… node bench/http/servers/plain-piscina.js
import http from 'node:http';
import { Piscina } from 'piscina';
import { IO_DELAY_MS } from './work.js';

const iterations = Number(process.env.ITERATIONS);
const pool = new Piscina({
  filename: new URL('./cpu-task.js', import.meta.url).href,
  minThreads: 2,
  maxThreads: 2,
});
const server = http.createServer((req, res) => {
  if (req.url === '/io') setTimeout(() => res.end('io'), IO_DELAY_MS);
  else if (req.url === '/cpu') {
    pool.run({ iterations }).then(
      (/** @type {string} */ out) => res.end(out),
      () => res.writeHead(500).end(),
    );
  } else res.writeHead(404).end();
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(
    JSON.stringify({ listening: /** @type {import('node:net').AddressInfo} */ (server.address()).port }),
  );
});
