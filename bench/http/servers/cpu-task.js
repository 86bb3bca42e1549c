// The piscina task of server (b): the same pbkdf2 work on a worker thread.
import { cpuWork } from './work.js';

/** @param {{ iterations: number }} task */
export default function ({ iterations }) {
  return cpuWork(iterations);
}
