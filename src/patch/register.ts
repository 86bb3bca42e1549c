/**
 * `greenhub/register`: the only side-effect entry. Preloaded with
 * `node --import greenhub/register app.js`, it runs `patchAll()` before the application's first
 * module loads, with the options in `GREENHUB_PATCH` (format in env.ts and the README).
 *
 * Preloads and `execArgv` reach worker threads too: inside a worker (the thread pool's, or any) it
 * does nothing, so that a worker never installs signal handlers, times its own CPU work as
 * blocking, or touches anything of the main thread's hub.
 *
 * It does not even load the patches there: they are loaded with `require()` (require(esm), which
 * gives the same module instances as `import`) only on the main thread, when patching is on. A
 * static `import` would load some fifty modules into every worker thread for nothing, about 30% of
 * a bare worker's start-up.
 */
import { createRequire } from 'node:module';
import { isMainThread } from 'node:worker_threads';
import { parsePatchEnv } from './env.js';

type PatchAllModule = typeof import('./patch-all.js');

/**
 * `require('./patch-all.js')`, without the "loading ES Module using require()" ExperimentalWarning
 * that Node 22.12 prints (later versions print none): a warning plain Node would not print.
 */
function loadPatchAll(): PatchAllModule {
  const emitWarning = process.emitWarning;
  process.emitWarning = function emitOtherWarnings(
    this: unknown,
    warning: unknown,
    ...rest: unknown[]
  ): void {
    if (rest[0] === 'ExperimentalWarning' && String(warning).includes('using require()')) return;
    Reflect.apply(emitWarning, this, [warning, ...rest]);
  } as typeof process.emitWarning;
  try {
    return createRequire(import.meta.url)('./patch-all.js') as PatchAllModule;
  } finally {
    process.emitWarning = emitWarning;
  }
}

if (isMainThread) {
  const options = parsePatchEnv(process.env.GREENHUB_PATCH);
  if (options !== null) {
    const { patchAllFrom } = loadPatchAll();
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
