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

/**
 * Modules the pool worker's CommonJS entry (below) import()s by path from the ES build, when a task
 * needs them: entries of their own there, left external in the entry's bundle.
 */
const WORKER_ESM_IMPORTS = ['wire-errors', 'shared', 'module-worker'];

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
  'threadpool/thread-entry',
  ...WORKER_ESM_IMPORTS.map((name) => `threadpool/${name}`),
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
  bundle: true,
  // Dependencies stay where npm puts them; only greenhub's own code is bundled.
  packages: 'external',
  // Class and function names are observable (error names, `fn.name` of patched functions).
  keepNames: true,
};

rmSync(path.join(root, 'dist'), { recursive: true, force: true });
await build({
  ...COMMON,
  entryPoints: ENTRIES.map((name) => ({ in: `src/${name}.ts`, out: name })),
  outdir: 'dist',
  chunkNames: 'chunks/[name]-[hash]',
  splitting: true,
  format: 'esm',
});
// The pool worker's entry, as piscina loads it in every new thread: one CommonJS file with what a
// task's hot path needs. Node's ES-module loader took 11-16 ms of a new thread to read the ES entry
// and its 6 chunks; this file loads in about 4 (Node 20). It holds a second copy of those modules
// (errors, the task context, the protocol): the context's registry is a global-symbol object, and
// errors a task sees are made with the task's own copy of the classes (worker/context.ts). What
// only failures, Shared primitives and module proxies need stays in the ES build, import()ed by
// path: one copy of their state.
const ESM_SIBLINGS = new RegExp(`^\\./(${WORKER_ESM_IMPORTS.join('|')})\\.js$`);
await build({
  ...COMMON,
  entryPoints: ['src/threadpool/worker-entry.ts'],
  outfile: 'dist/threadpool/worker-entry.cjs',
  format: 'cjs',
  plugins: [
    {
      name: 'esm-siblings',
      setup(b) {
        b.onResolve({ filter: ESM_SIBLINGS }, (args) =>
          args.kind === 'dynamic-import' ? { path: args.path, external: true } : undefined,
        );
      },
    },
  ],
});
chmodSync(path.join(root, 'dist/cli/main.js'), 0o755);
