/**
 * Paths of greenhub's own files. The build bundles `src/` into a few files (scripts/build.mjs): a
 * module's code may land in a shared chunk (`dist/chunks/`), so `new URL('./sibling.js',
 * import.meta.url)` no longer names its sibling. The package root does not move: it holds `dist/`
 * (the build) and `src/` (which tests run directly), and this code is in one or the other.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** The absolute path of `relative` (`dist/threadpool/worker-entry.cjs`) in greenhub's package. */
export function packageFile(relative: string): string {
  if (root === undefined) {
    const here = fileURLToPath(import.meta.url);
    let dir = path.dirname(here);
    while (path.basename(dir) !== 'dist' && path.basename(dir) !== 'src') {
      const up = path.dirname(dir);
      if (up === dir) throw new Error(`greenhub: ${here} is neither under dist/ nor under src/`);
      dir = up;
    }
    root = path.dirname(dir);
  }
  return path.join(root, relative);
}
