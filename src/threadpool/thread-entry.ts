/**
 * The entry of a real `Thread` (thread.ts): load the target, revive Shared primitives among the
 * arguments, run it, and tell the hub how it ended. The thread then lives as long as what the
 * target left running (timers, servers), as any Node worker does.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { MSG_MODULE, SHARED_BRAND, type ThreadOutcome, type ThreadWorkerData } from './protocol.js';
import { compileSource, exportOf } from './task-loader.js';
import { toWire } from './wire-errors.js';

const { kind, target, exportName, args } = (workerData as ThreadWorkerData).greenhubThread;

async function main(): Promise<ThreadOutcome> {
  try {
    const fn = (
      kind === MSG_MODULE ? exportOf(await import(target), target, exportName) : compileSource(target)
    ) as (...args: unknown[]) => unknown;
    const shared = args.some((arg) => typeof arg === 'object' && arg !== null && SHARED_BRAND in arg);
    const revived = shared ? args.map((await import('./shared.js')).reviveShared) : args;
    await fn(...revived);
    return { ok: true };
  } catch (error) {
    return { ok: false, error: toWire(error) };
  }
}

main().then((outcome) => parentPort!.postMessage(outcome));
