// Server (c): plain node:http that sends /cpu to greenhub's default thread pool
// (`getHub().threadpool`), the pool `greenhub run --threads` sizes: the application a user writes
// once the CPU work is in a function that can run on a thread. Run it under `greenhub run`.
// PORT=… ITERATIONS=… greenhub run [--workers N --threads T] bench/http/servers/pool-offload.js
import http from 'node:http';
import { getHub } from 'greenhub';
import { task } from 'greenhub/threadpool';
import { IO_DELAY_MS } from './work.js';

const iterations = Number(process.env.ITERATIONS);
const cpu = task(new URL('./cpu-task.js', import.meta.url), 'default');
const server = http.createServer((req, res) => {
  if (req.url === '/io') setTimeout(() => res.end('io'), IO_DELAY_MS);
  else if (req.url === '/cpu') {
    getHub()
      .threadpool.apply(cpu, { iterations })
      .then(
        (out) => res.end(out),
        () => res.writeHead(500).end(),
      );
  } else res.writeHead(404).end();
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(
    JSON.stringify({ listening: /** @type {import('node:net').AddressInfo} */ (server.address()).port }),
  );
});
