/**
 * `GREENHUB_METRICS` (`host:port`, set by `greenhub run` from `--metrics-port`/`--host`): start the
 * metrics server it names, or exit 1 with a message that says which flag to change. Shared by the
 * application's preload and the `--workers` primary, which serve different registries.
 */

/**
 * Start `start(host, port)` for `spec`; on failure print why and exit 1.
 *
 * @example
 * ```ts
 * const server = await serveMetricsOrExit('127.0.0.1:9464', (host, port) => startMetricsServer({ host, port }));
 * ```
 */
export async function serveMetricsOrExit<S extends { url: string }>(
  spec: string,
  start: (host: string, port: number) => Promise<S>,
): Promise<S> {
  const colon = spec.lastIndexOf(':');
  const host = spec.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(spec.slice(colon + 1));
  try {
    const server = await start(host, port);
    process.stderr.write(`greenhub: metrics on ${server.url}/metrics\n`);
    return server;
  } catch (error) {
    process.stderr.write(
      `greenhub run: cannot serve metrics on ${spec}: ${(error as Error).message}; ` +
        'choose another --metrics-port, or --no-metrics\n',
    );
    process.exit(1);
  }
}
