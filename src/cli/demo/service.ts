/**
 * The demo service: one `HttpServer` on 127.0.0.1 with a greenlet per request and
 *
 * - `/io` — waits on the local upstream through the patched `fetch` (or, with `io: 'timer'`, a
 *   20 ms hub sleep, as the benchmark's other servers do);
 * - `/cpu` — `cpuWork(iterations)`, about 20 ms of CPU, placed by `mode`: `inline` on the hub,
 *   `offload` in the thread pool, `hybrid` where `hybrid()` measures it to be cheapest;
 * - `/hybrid` — through `hybrid()` in every mode: three cheap calls (≈1/64 of the work, which it
 *   learns to run inline) for one expensive one (which it sends to a thread);
 * - `/metrics` — Prometheus text, from the same server (answered without a pool slot);
 * - `/` — the live status page.
 *
 * It opts in to `cancelOnDisconnect`: a request whose client disconnects is killed.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sleep } from '../../greenlet/sleep.js';
import { nativeClearTimeout, nativeSetTimeout } from '../../internal/natives.js';
import { packageFile } from '../../internal/own-files.js';
import { collectMetrics, type MetricsCollection } from '../../metrics/collect.js';
import { HttpServer } from '../../server/http-server.js';
import { type MountedStatusPage, mountStatusPage } from '../../server/status.js';
import { hybrid } from '../../threadpool/hybrid.js';
import { ThreadPool } from '../../threadpool/pool.js';
import { task } from '../../threadpool/task.js';
import { startUpstream, type Upstream } from './upstream.js';
import { cpuWork, IO_DELAY_MS } from './work.js';

/** Where `/cpu` runs its work. */
export type DemoMode = 'inline' | 'offload' | 'hybrid';

/** What `/io` waits on. */
export type DemoIo = 'upstream' | 'timer';

/** Options of {@link startDemo}. */
export interface DemoOptions {
  host: string;
  port: number;
  mode: DemoMode;
  io: DemoIo;
  /** Thread pool size. */
  threads: number;
  /** How much lower than the hub the pool threads' scheduling priority is (Unix nice). */
  niceIncrement: number;
  /** pbkdf2 iterations of one `/cpu` call. */
  iterations: number;
}

/** A running demo service. */
export interface Demo {
  readonly url: string;
  readonly port: number;
  readonly pool: ThreadPool;
  /**
   * Stop gracefully: stop accepting, let requests in flight finish for `graceMs`, kill the rest
   * (their pool tasks are cancelled), close the pool (see {@link closePool}), the upstream and the
   * metrics. Idempotent.
   */
  stop(graceMs: number): Promise<void>;
}

/** How long the pool gets to close once the requests are done or killed. */
const POOL_CLOSE_MS = 1_000;

/**
 * Close the pool, waiting at most {@link POOL_CLOSE_MS}. By then every task's caller has its answer
 * (the handlers finished or were killed, which cancels their tasks); what can still hold the pool
 * is a thread inside a native call (a long `pbkdf2Sync`) that termination cannot interrupt. The
 * shutdown says so and goes on; Node still joins that thread when the process exits, so the exit
 * itself comes when the native call returns.
 */
async function closePool(pool: ThreadPool): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = nativeSetTimeout(resolve, POOL_CLOSE_MS, false);
  });
  const closed = await Promise.race([pool.close({ timeout: POOL_CLOSE_MS / 2 }).then(() => true), late]);
  nativeClearTimeout(timer);
  if (!closed)
    process.stderr.write(
      `greenhub demo: pool threads still inside a native call after ${POOL_CLOSE_MS} ms; the process exits when it returns\n`,
    );
}

/** Share of `/hybrid` calls that are expensive: one in {@link HYBRID_EVERY}. */
const HYBRID_EVERY = 4;
const HYBRID_CHEAP_DIVISOR = 64;

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/**
 * Start the demo service (the caller patches first: `/io`'s `fetch` must be the patched one).
 *
 * @example
 * ```ts
 * const demo = await startDemo({ host: '127.0.0.1', port: 0, mode: 'hybrid', io: 'upstream', threads: 2, niceIncrement: 10, iterations: calibrate() });
 * console.log(demo.url);
 * await demo.stop(5_000);
 * ```
 */
export async function startDemo(opts: DemoOptions): Promise<Demo> {
  const { iterations } = opts;
  const pool = new ThreadPool({
    name: 'demo',
    maxThreads: opts.threads,
    minThreads: opts.threads,
    niceIncrement: opts.niceIncrement,
  });
  const cpuTask = task<typeof cpuWork>(packageFile('dist/cli/demo/work.js'), 'cpuWork');
  const placed = hybrid(cpuTask, { pool, size: (n: number) => n, name: 'cpuWork' });
  const cpu: (n: number) => Promise<string> =
    opts.mode === 'inline'
      ? async (n) => cpuWork(n)
      : opts.mode === 'offload'
        ? (n) => pool.apply(cpuTask, n)
        : placed;
  const cheap = Math.max(1, Math.round(iterations / HYBRID_CHEAP_DIVISOR));
  let hybridCalls = 0;
  const upstream: Upstream | null = opts.io === 'upstream' ? await startUpstream(IO_DELAY_MS) : null;

  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    switch (req.url) {
      case '/io':
        if (upstream === null) {
          await sleep(IO_DELAY_MS);
          return text(res, 200, 'io ok\n');
        }
        return text(res, 200, await (await fetch(upstream.url)).text());
      case '/cpu':
        return text(res, 200, `${await cpu(iterations)}\n`);
      case '/hybrid': {
        const n = hybridCalls++ % HYBRID_EVERY === 0 ? iterations : cheap;
        const placement = placed.place(n).placement;
        return text(res, 200, `${await placed(n)} ${placement}\n`);
      }
      default:
        return text(res, 404, 'not found: try /, /io, /cpu, /hybrid, /metrics\n');
    }
  };

  // A client that leaves cancels its request: the upstream fetch stops, the pool task is cancelled
  // (a load generator's abandoned requests must not keep the pool busy).
  const server = new HttpServer({ host: opts.host, port: opts.port }, handler, {
    name: 'demo',
    cancelOnDisconnect: true,
  });
  let metrics: MetricsCollection | null = null;
  let page: MountedStatusPage | null = null;
  try {
    metrics = collectMetrics();
    const register = metrics.register;
    server.mount(
      '/metrics',
      async (_req, res) => {
        const body = await register.metrics();
        res.writeHead(200, { 'content-type': register.contentType, 'cache-control': 'no-store' });
        res.end(body);
      },
      { metrics: false },
    );
    page = mountStatusPage(server, { path: '/', title: `greenhub demo (${opts.mode})` });
    await server.start();
  } catch (error) {
    page?.close();
    metrics?.close();
    await Promise.all([upstream?.close(), pool.close()]);
    throw error;
  }
  const url = server.url;
  const port = (server.address as { port: number }).port;
  let stopping: Promise<void> | null = null;
  return {
    url,
    port,
    pool,
    stop(graceMs) {
      stopping ??= (async () => {
        await server.stop(graceMs);
        page?.close();
        await Promise.all([closePool(pool), upstream?.close()]);
        metrics?.close();
      })();
      return stopping;
    },
  };
}
