#!/usr/bin/env node
// `npm run build`: dist/ as the package ships it.
//
// JavaScript: esbuild bundles src/ into one file per entry point below plus shared chunks
// (dist/chunks/), code splitting keeping every module's code, and so its state, in exactly one
// file. Loading greenhub then reads a few files instead of ~60 modules through Node's ES-module
// loader, whose per-module resolve, read and compile cost was most of greenhub's load time (a
// server under `greenhub/register` loads greenhub when it listens; every pool thread loads its
// entry). Declarations: tsc, one .d.ts per source file as before.
//
// Usage: node scripts/build.mjs
import { chmodSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Files other code loads by name, each becoming dist/<name>.js. */
const ENTRIES = [
  // package.json's "exports" and "bin".
  'index',
  'threadpool/index',
  'worker/index',
  'metrics/index',
  'server/index',
  'patch/index',
  'patch/register',
  'cli/main',
  // Loaded by path (packageFile()): by the deferred preload (require of the patches once the
  // application uses greenhub), by worker threads, by `greenhub run`'s child processes.
  'patch/patch-all',
  'patch/blocking',
  'patch/signal',
  'threadpool/worker-entry',
  'threadpool/thread-entry',
  'cli/run-preload',
  'cli/cluster/primary-entry',
  'cli/demo/work',
  // The soak test drives the demo with the load generator `greenhub demo --load` uses.
  'cli/demo/loadgen',
];

/** Shared by both esbuild runs. */
const COMMON = {
  absWorkingDir: root,
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
};

rmSync(path.join(root, 'dist'), { recursive: true, force: true });
await build({
  ...COMMON,
  entryPoints: ENTRIES.map((name) => ({ in: `src/${name}.ts`, out: name })),
  outdir: 'dist',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  // Dependencies stay where npm puts them; only greenhub's own code is bundled.
  packages: 'external',
  // Class and function names are observable (error names, `fn.name` of patched functions).
  keepNames: true,
});
// Piscina's entry is CommonJS and import()s worker-entry.js beside it (worker-shim.cts says why).
await build({
  ...COMMON,
  entryPoints: ['src/threadpool/worker-shim.cts'],
  outfile: 'dist/threadpool/worker-shim.cjs',
  format: 'cjs',
});
chmodSync(path.join(root, 'dist/cli/main.js'), 0o755);
