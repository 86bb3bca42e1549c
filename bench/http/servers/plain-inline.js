// Server (a): plain node:http, the CPU work inline on the event loop.
// PORT=… ITERATIONS=… node bench/http/servers/plain-inline.js
import http from 'node:http';
import { cpuWork, IO_DELAY_MS } from './work.js';

const iterations = Number(process.env.ITERATIONS);
const server = http.createServer((req, res) => {
  if (req.url === '/io') setTimeout(() => res.end('io'), IO_DELAY_MS);
  else if (req.url === '/cpu') res.end(cpuWork(iterations));
  else res.writeHead(404).end();
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(
    JSON.stringify({ listening: /** @type {import('node:net').AddressInfo} */ (server.address()).port }),
  );
});
