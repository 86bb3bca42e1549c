/**
 * `greenhub/register`: the only side-effect entry. Preloaded with
 * `node --import greenhub/register app.js`, it runs `patchAll()` before the application's first
 * module loads, with the options in `GREENHUB_PATCH` (format in env.ts and the README).
 *
 * Preloads and `execArgv` reach worker threads too: inside a worker (the thread pool's, or any) it
 * does nothing, so that a worker never installs signal handlers, times its own CPU work as
 * blocking, or touches anything of the main thread's hub.
 */
import { isMainThread } from 'node:worker_threads';
import { parsePatchEnv } from './env.js';
import { patchAllFrom } from './patch-all.js';

if (isMainThread) {
  const options = parsePatchEnv(process.env.GREENHUB_PATCH);
  if (options !== null) {
    try {
      patchAllFrom(options, true);
    } catch (error) {
      // A configuration error: the message is what matters, not greenhub's frames.
      if (error instanceof Error) {
        error.message = `GREENHUB_PATCH=${JSON.stringify(process.env.GREENHUB_PATCH)}: ${error.message}`;
        error.stack = `${error.name}: ${error.message}`;
      }
      throw error;
    }
  }
}
