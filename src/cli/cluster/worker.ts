/**
 * The worker side of `greenhub run --workers` (loaded by run-preload.ts in a cluster worker): no
 * metrics server of its own — the primary serves one `/metrics` for the machine — but an answer to
 * the primary's metrics requests over cluster IPC, and a last snapshot sent from a shutdown hook,
 * once the requests in flight are done, so that the primary's counters include all it served. The
 * hook then waits for the primary's acknowledgement (protocol.ts, `FinalAck`) before the worker
 * exits, so that no connection handed to it is still on the channel.
 *
 * A server's request counters leave the registry when the server closes (its metrics source is
 * unregistered on `close`), which happens before the shutdown hooks run. So when the stop signal
 * comes, a `close` listener is put in front of every listening server's: it reads the registry
 * (prom-client calls every metric's `get()` synchronously, and greenhub's read their sources there)
 * just before the source goes, and the last snapshot carries those counters.
 */
import type { Server } from 'node:net';
import client from 'prom-client';
import { nativeClearTimeout, nativeSetTimeout } from '../../internal/natives.js';
import { onShutdown } from '../../internal/shutdown-hooks.js';
import { collectMetrics, hasCollection } from '../../metrics/collect.js';
import { trackedServers } from '../../patch/servers.js';
import { keepCounters } from './aggregate.js';
import {
  FINAL_SEQ,
  isFinalAck,
  isMetricsRequest,
  type MetricsReply,
  type MetricsSnapshot,
} from './protocol.js';

/** How long a stopping worker waits for the primary's {@link FinalAck}, in ms. */
export const FINAL_ACK_TIMEOUT_MS = 2_000;

const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

/**
 * Answer the primary's metrics requests from `register` (default prom-client's global registry,
 * with greenhub's metrics collected into it). Does nothing outside a cluster worker.
 *
 * @example
 * ```ts
 * if (cluster.isWorker) serveMetricsToPrimary();
 * ```
 */
export function serveMetricsToPrimary(register: client.Registry = client.register): void {
  const send = process.send?.bind(process);
  if (send === undefined) return;
  if (!hasCollection(register)) collectMetrics({ register });
  let closing: MetricsSnapshot = [];
  const captures: Promise<void>[] = [];
  const capture = (): void => {
    captures.push(
      register.getMetricsAsJSON().then((metrics) => {
        closing = keepCounters(closing, metrics as unknown as MetricsSnapshot);
      }),
    );
  };
  const watched = new WeakSet<Server>();
  const onStop = (): void => {
    for (const server of trackedServers()) {
      if (watched.has(server)) continue;
      watched.add(server);
      server.prependOnceListener('close', capture);
    }
  };
  for (const signal of STOP_SIGNALS) process.prependListener(signal, onStop);
  const reply = (seq: number): Promise<void> =>
    Promise.all(seq === FINAL_SEQ ? captures : [])
      .then(() => register.getMetricsAsJSON())
      .then(
        (metrics) =>
          new Promise<void>((resolve) => {
            const snapshot = metrics as unknown as MetricsSnapshot;
            const message: MetricsReply = {
              greenhub: 'metrics',
              seq,
              metrics: seq === FINAL_SEQ ? keepCounters(closing, snapshot) : snapshot,
            };
            // A channel closing under us is the primary's concern, not the application's.
            if (process.connected) send(message, undefined, undefined, () => resolve());
            else resolve();
          }),
      );
  let acked: () => void = () => {};
  process.on('message', (message: unknown) => {
    if (isMetricsRequest(message)) void reply(message.seq).catch(() => {});
    else if (isFinalAck(message)) acked();
  });
  // The channel stays ref'd (a cluster worker waits on it for its listen() to be answered): under
  // --workers an application runs until it is stopped, and one that ends is replaced.
  onShutdown(async function sendFinalMetrics() {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ack = new Promise<void>((resolve) => {
      acked = resolve;
      timer = nativeSetTimeout(resolve, FINAL_ACK_TIMEOUT_MS);
    });
    try {
      await reply(FINAL_SEQ);
      if (process.connected) await ack;
    } finally {
      nativeClearTimeout(timer);
    }
  });
}
