/**
 * The process `greenhub run --workers N` starts (in its own process group, as it starts the
 * application without `--workers`): the cluster primary. Its configuration comes in
 * `GREENHUB_CLUSTER` (JSON, removed from the environment at once); it serves the machine's
 * `/metrics` when `GREENHUB_METRICS` says where, watches its parent like an application would, and
 * exits with the status the primary ends with.
 */
import { serveMetricsOrExit } from '../metrics-spec.js';
import { watchParent } from '../orphan-watch.js';
import { serveClusterMetrics } from './metrics-server.js';
import { type ClusterConfig, ClusterPrimary } from './primary.js';

const config = JSON.parse(process.env.GREENHUB_CLUSTER ?? 'null') as ClusterConfig | null;
const spec = process.env.GREENHUB_METRICS;
delete process.env.GREENHUB_CLUSTER;
delete process.env.GREENHUB_METRICS;
delete process.env.GREENHUB_SUPERVISED;
if (config === null) {
  process.stderr.write('greenhub: the cluster primary is started by greenhub run --workers\n');
  process.exit(2);
}

const primary = new ClusterPrimary(config);
let server: Awaited<ReturnType<typeof serveClusterMetrics>> | undefined;
if (spec !== undefined && spec !== '') {
  server = await serveMetricsOrExit(spec, (host, port) =>
    serveClusterMetrics(
      host,
      port,
      () => primary.scrape(),
      () => primary.listening > 0,
    ),
  );
}
const unwatch = watchParent(() => {
  process.stderr.write('greenhub: greenhub run is gone; stopping the workers\n');
  primary.stop('SIGTERM');
});
let code = 1;
try {
  code = await primary.run();
} finally {
  unwatch();
  await server?.close();
}
process.exit(code);
