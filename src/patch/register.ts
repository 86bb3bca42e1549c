/**
 * `greenhub/register`: the only side-effect entry. Preloaded with
 * `node --import greenhub/register app.js`, it patches everything before the application's first
 * module loads, with the options in `GREENHUB_PATCH` (format in env.ts and the README).
 *
 * With the default settings it loads almost nothing of greenhub: stand-ins go where the patches
 * will, and greenhub loads when the application uses it (deferred.ts). With `GREENHUB_PATCH` set it
 * runs `patchAll()` at once, so that a bad setting stops the program before it starts.
 *
 * Preloads and `execArgv` reach worker threads too: inside a worker (the thread pool's, or any) it
 * does nothing, so that a worker never installs signal handlers, times its own CPU work as
 * blocking, or touches anything of the main thread's hub. It does not even load the patches there.
 */
import { isMainThread } from 'node:worker_threads';
import { parsePatchEnv } from './env.js';

const options = isMainThread ? parsePatchEnv(process.env.GREENHUB_PATCH) : null;
if (options !== null) {
  // Loaded here, not imported: a worker thread loads none of it.
  if (Object.keys(options).length === 0) (await import('./deferred.js')).deferPatchAll();
  else {
    const { patchAllFrom } = await import('./patch-all.js');
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
