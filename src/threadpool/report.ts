/**
 * Failures of other threads that no caller can receive (an idle pool thread that died, a real
 * `Thread`'s target that threw) go to the hub's `onError`, like a greenlet failure nobody observed.
 * With the default handler they are printed with a message that says which thread it was.
 */
import { getHub } from '../greenlet/hub.js';
import { printError, report } from '../greenlet/internal.js';

export function reportThreadFailure(error: unknown, what: string): void {
  const hub = getHub();
  if (hub.onError !== printError) {
    report(error, null);
    return;
  }
  const stack = error instanceof Error ? (error.stack ?? String(error)) : String(error);
  process.stderr.write(`greenhub: ${what}:\n${stack}\n`);
}
