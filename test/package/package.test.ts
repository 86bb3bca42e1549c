/**
 * The package as npm ships it: what `npm pack` puts in it, and that its types resolve for
 * TypeScript projects on the old `node10` module resolution as well as on `node16`/`bundler`.
 */
import { execFile } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { root } from '../helpers.js';

const run = promisify(execFile);

describe('the published package', () => {
  it('npm pack ships LICENSE, dist and the sources its source maps point to', async () => {
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: root,
      maxBuffer: 64 * 1024 * 1024,
    });
    const files = new Set<string>((JSON.parse(stdout)[0].files as { path: string }[]).map((f) => f.path));
    expect(files.has('LICENSE')).toBe(true);
    expect(files.has('dist/index.js')).toBe(true);
    expect(files.has('dist/index.d.ts')).toBe(true);
    const maps = [...files].filter((f) => f.endsWith('.js.map'));
    expect(maps.length).toBeGreaterThan(10);
    const missing: string[] = [];
    for (const map of maps) {
      const { sources } = JSON.parse(readFileSync(join(root, map), 'utf8')) as { sources: string[] };
      const dir = map.slice(0, map.lastIndexOf('/'));
      for (const source of sources) {
        const resolved = new URL(source, `file:///${dir}/`).pathname.slice(1);
        if (!files.has(resolved)) missing.push(`${map} → ${resolved}`);
      }
    }
    expect(missing).toEqual([]);
    // The build bundles src/ (scripts/build.mjs): a file greenhub loads by its path (packageFile():
    // worker entries, the CLI's preloads, the deferred preload's patches) exists only when the build
    // lists it as an entry point. Every such path written in src/ must be shipped.
    const sources = readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' }).filter((f) =>
      /\.c?ts$/.test(f),
    );
    const byPath = sources.flatMap((f) =>
      [...readFileSync(join(root, 'src', f), 'utf8').matchAll(/'(dist\/[\w/.-]+\.c?js)'/g)].map(
        (m) => m[1] as string,
      ),
    );
    expect(byPath.length).toBeGreaterThan(5);
    expect(byPath.filter((path) => !files.has(path))).toEqual([]);
  });

  it.each(['node10', 'node16', 'bundler'])('types resolve with moduleResolution %s', async (resolution) => {
    const dir = mkdtempSync(join(tmpdir(), 'greenhub-types-'));
    try {
      mkdirSync(join(dir, 'node_modules'));
      symlinkSync(root, join(dir, 'node_modules', 'greenhub'));
      writeFileSync(
        join(dir, 'a.ts'),
        [
          "import { spawn, sleep, type Greenlet } from 'greenhub';",
          "import { ThreadPool } from 'greenhub/threadpool';",
          "import { startMetricsServer } from 'greenhub/metrics';",
          "import { patchAll } from 'greenhub/patch';",
          "import { HttpServer } from 'greenhub/server';",
          "import { checkpoint } from 'greenhub/worker';",
          'const g: Greenlet<number> = spawn(async () => { await sleep(1); return 1; });',
          'export const all = [g, ThreadPool, startMetricsServer, patchAll, HttpServer, checkpoint];',
        ].join('\n'),
      );
      const module = resolution === 'node10' ? 'commonjs' : resolution === 'node16' ? 'node16' : 'esnext';
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            module,
            moduleResolution: resolution,
            strict: true,
            noEmit: true,
            skipLibCheck: true,
            target: 'es2022',
            types: [],
          },
          files: ['a.ts'],
        }),
      );
      if (resolution === 'node16') writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
      const tsc = join(root, 'node_modules/typescript/bin/tsc');
      const result = await run(process.execPath, [tsc, '-p', dir]).then(
        () => '',
        (error: { stdout?: string }) => error.stdout ?? String(error),
      );
      expect(result).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
