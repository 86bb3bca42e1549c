// `npm start`: runs each example in turn and shows what it prints.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const examples = [
  ['switching.js', 'foo/bar: explicit switches with sleep(0)'],
  ['sync-vs-async.js', 'ten tasks, synchronously then as greenlets'],
  ['polling.js', 'three greenlets finishing together in about 2 s'],
  ['loop-exit.js', 'waiting for something that can never happen'],
];

let failed = 0;
for (const [file, title] of examples) {
  console.log(`\n=== examples/${file}: ${title} ===`);
  const { status } = spawnSync(process.execPath, [fileURLToPath(new URL(file, import.meta.url))], {
    stdio: 'inherit',
  });
  if (status !== 0) failed++;
}
process.exitCode = failed === 0 ? 0 : 1;
