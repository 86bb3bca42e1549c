/**
 * What a user copies from deploy/: the Kubernetes manifests and the Prometheus configuration say
 * what the README promises (parsed, not grepped), and the Prometheus file passes `promtool` where it
 * is installed.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { parseWorkers } from '../../src/cli/cluster/sizing.js';
import { KILL_MARGIN_MS } from '../../src/cli/run.js';

interface Container {
  command: string[];
  args: string[];
  ports: { name: string; containerPort: number }[];
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
}
interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec: Record<string, unknown>;
}

const docs = parseAllDocuments(readFileSync('deploy/kubernetes/greenhub.yaml', 'utf8')).map((d) => {
  expect(d.errors).toEqual([]);
  return d.toJS() as Doc;
});
const byKind = (kind: string) => docs.find((d) => d.kind === kind)!;

/** The value of `--flag` in a `greenhub run` argument list. */
function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i === -1 ? undefined : args[i + 1];
}

describe('deploy/kubernetes/greenhub.yaml', () => {
  const deployment = byKind('Deployment');
  const pod = deployment.spec.template as {
    metadata: { labels: Record<string, string>; annotations: Record<string, string> };
    spec: { terminationGracePeriodSeconds: number; containers: Container[] };
  };
  const container = pod.spec.containers[0]!;
  const metricsPort = container.ports.find((p) => p.name === 'metrics')!.containerPort;

  it('has a Deployment, a Service and a PodMonitor', () => {
    expect(docs.map((d) => `${d.apiVersion} ${d.kind}`)).toEqual([
      'apps/v1 Deployment',
      'v1 Service',
      'monitoring.coreos.com/v1 PodMonitor',
    ]);
  });

  it('runs greenhub run --workers with a valid worker count, metrics on the port it declares', () => {
    // exec-style: no npx or shell in between to swallow SIGTERM.
    expect(container.command).toEqual(['node', 'node_modules/greenhub/dist/cli/main.js', 'run']);
    expect(parseWorkers(flag(container.args, '--workers')!, '--workers', 2)).toBeGreaterThan(0);
    expect(Number(flag(container.args, '--metrics-port'))).toBe(metricsPort);
    expect(flag(container.args, '--metrics-host')).toBe('0.0.0.0');
  });

  it('gives a stopping pod more time than greenhub takes: grace, its kill margin and the preStop wait', () => {
    const graceMs = Number(flag(container.args, '--grace'));
    const preStop = container.lifecycle?.preStop?.exec?.command ?? [];
    const preStopMs = preStop[0] === 'sleep' ? Number(preStop[1]) * 1000 : 0;
    expect(graceMs).toBeGreaterThan(0);
    expect(pod.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(
      graceMs + KILL_MARGIN_MS + preStopMs,
    );
  });

  it('has a readiness probe on /healthz of a declared port', () => {
    const probe = container.readinessProbe?.httpGet;
    expect(probe?.path).toBe('/healthz');
    expect(container.ports.map((p) => p.name)).toContain(probe?.port);
  });

  it('is scraped: prometheus.io annotations and a PodMonitor on the metrics port', () => {
    expect(pod.metadata.annotations).toEqual({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': String(metricsPort),
      'prometheus.io/path': '/metrics',
    });
    const monitor = byKind('PodMonitor').spec as {
      selector: { matchLabels: Record<string, string> };
      podMetricsEndpoints: { port: string; path: string }[];
    };
    expect(monitor.podMetricsEndpoints).toEqual([
      expect.objectContaining({ port: 'metrics', path: '/metrics' }),
    ]);
    expect(pod.metadata.labels).toMatchObject(monitor.selector.matchLabels);
  });

  it('the Service selects the pods and targets declared ports', () => {
    const service = byKind('Service').spec as {
      selector: Record<string, string>;
      ports: { targetPort: string }[];
    };
    expect(pod.metadata.labels).toMatchObject(service.selector);
    for (const p of service.ports) expect(container.ports.map((c) => c.name)).toContain(p.targetPort);
  });
});

describe('deploy/prometheus', () => {
  const config = parseYaml(readFileSync('deploy/prometheus/prometheus.yml', 'utf8')) as {
    scrape_configs: {
      job_name: string;
      static_configs?: { targets: string[]; labels: Record<string, string> }[];
      file_sd_configs?: { files: string[] }[];
    }[];
  };

  it('scrapes every instance with an instance label, from static targets and from files', () => {
    const [statics, files] = config.scrape_configs;
    const instances = statics!.static_configs!.map((s) => s.labels.instance);
    expect(instances).toEqual(['app1', 'app2']);
    expect(files!.file_sd_configs![0]!.files).toEqual(['targets/*.json']);
    const targets = JSON.parse(readFileSync('deploy/prometheus/targets/greenhub.json', 'utf8')) as {
      targets: string[];
      labels: { instance: string };
    }[];
    expect(targets.map((t) => t.labels.instance)).toEqual(['app3', 'app4']);
  });

  let promtool: string | null = null;
  try {
    promtool = execFileSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).trim() || null;
  } catch {
    console.warn('skipping promtool check of deploy/prometheus: promtool not installed');
  }
  it.skipIf(promtool === null)('passes promtool check config', () => {
    expect(
      execFileSync(promtool!, ['check', 'config', 'deploy/prometheus/prometheus.yml'], { encoding: 'utf8' }),
    ).toContain('SUCCESS');
  });
});
