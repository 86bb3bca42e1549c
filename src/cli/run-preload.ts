/**
 * The second preload of `greenhub run` (after `greenhub/register`), what the CLI adds to the
 * application's process:
 *
 * **Metrics.** It starts the metrics server inside the application's process, where the hub, the
 * patched I/O and the pools it describes live.
 *
 * `GREENHUB_METRICS=<host>:<port>` says where; it is removed from the environment at once, so that
 * a child process that inherits the preloads (`child_process.fork` passes `execArgv`) does not try
 * to bind the same port. The server is unref'd: an application that is done exits as it would
 * without it. A port already taken stops the application at startup, with a message that says so —
 * a service whose metrics silently went missing is worse than one that does not start.
 *
 * **Cluster worker.** Under `greenhub run --workers`, the application is a `node:cluster` worker with
 * `GREENHUB_WORKER` set: it serves no metrics itself but answers the primary's metrics requests
 * over cluster IPC (cluster/worker.ts); the primary serves one `/metrics` for the machine.
 *
 * **Orphan watch.** The application runs in its own process group (see run.ts), so a `greenhub run`
 * killed with SIGKILL cannot take it along. With `GREENHUB_SUPERVISED=1` it watches its parent
 * (orphan-watch.ts) and, once reparented, sends itself SIGTERM: the graceful shutdown then runs as
 * if the supervisor had forwarded the signal.
 */
import cluster from 'node:cluster';
import { isMainThread } from 'node:worker_threads';
import { startMetricsServer } from '../metrics/server.js';
import { activateDeferredPatches } from '../patch/deferred.js';
import { WORKER_ENV } from './cluster/protocol.js';
import { serveMetricsToPrimary } from './cluster/worker.js';
import { serveMetricsOrExit } from './metrics-spec.js';
import { watchParent } from './orphan-watch.js';

// greenhub run serves metrics from here: greenhub is in use from the start (patch/deferred.ts).
activateDeferredPatches();

const spec = process.env.GREENHUB_METRICS;
const supervised = process.env.GREENHUB_SUPERVISED === '1';
delete process.env.GREENHUB_METRICS;
delete process.env.GREENHUB_SUPERVISED;

if (isMainThread && supervised) {
  watchParent(() => {
    process.stderr.write('greenhub: greenhub run is gone; shutting down\n');
    process.kill(process.pid, 'SIGTERM');
  });
}

if (isMainThread && cluster.isWorker && process.env[WORKER_ENV.slot] !== undefined) serveMetricsToPrimary();

if (isMainThread && spec !== undefined && spec !== '') {
  await serveMetricsOrExit(spec, (host, port) => startMetricsServer({ host, port, unref: true }));
}
