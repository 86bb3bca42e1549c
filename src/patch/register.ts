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
import { parsePatchEnv } from './env.js';

/**
 * Whether this is the main thread, without loading `node:worker_threads` (2.4 MB and about 2 ms on
 * Node 24, for one boolean): `process.chdir()` is not available in worker threads, where it throws
 * ERR_WORKER_UNSUPPORTED_OPERATION; in the main thread, changing to the current directory changes
 * nothing (and a failure there, such as a deleted directory, still means the main thread).
 */
function isMainThread(): boolean {
  try {
    process.chdir(process.cwd());
  } catch (error) {
    return (error as { code?: unknown }).code !== 'ERR_WORKER_UNSUPPORTED_OPERATION';
  }
  return true;
}

const options = isMainThread() ? parsePatchEnv(process.env.GREENHUB_PATCH) : null;
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
