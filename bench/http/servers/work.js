// The benchmark's two kinds of work, identical for every server (the gevent app mirrors them):
// /io waits 20 ms (a timer standing in for an upstream call); /cpu runs pbkdf2 for the iteration
// count calibrated once per benchmark run (about 20 ms of CPU on the machine that runs it).
import { pbkdf2Sync } from 'node:crypto';

export const IO_DELAY_MS = 20;

/** @param {number} iterations */
export function cpuWork(iterations) {
  return pbkdf2Sync('greenhub', 'benchmark-salt', iterations, 32, 'sha256').toString('hex').slice(0, 16);
}

/**
 * Iterations of pbkdf2-sha256 that take about `targetMs` here. The fastest of several probes is
 * the one least disturbed by other processes: it measures the work, not the machine's load.
 */
export function calibrate(targetMs = 20) {
  const probe = 20_000;
  cpuWork(probe); // warm up
  const samples = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    cpuWork(probe);
    samples.push(performance.now() - t0);
  }
  const msPerIteration = Math.min(...samples) / probe;
  return Math.max(1, Math.round(targetMs / msPerIteration));
}
