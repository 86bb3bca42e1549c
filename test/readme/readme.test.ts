/**
 * A README example is a test: every `js`/`ts` block of README.md runs, in a process of its own, on
 * the Node that runs the suite (CI runs it on Node 20 and 24).
 *
 * Each block runs as it is written. What a block leaves to the reader (`photo`, `loadUser`…) is
 * defined in CONTEXT below, keyed by the section the block stands in and its place there, in plain
 * sight; a block that starts a server gets an epilogue that stops it. The modules the thread-pool
 * examples load (`./tasks.js`, `./md.js`, `./indexer.js`) are in `fixtures/`, next to where the
 * block is written, so `new URL('./tasks.js', import.meta.url)` resolves as in the README.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { root, runNode } from '../helpers.js';

interface Block {
  /** `Section#n`: the nearest heading above the block and the block's place under it. */
  key: string;
  line: number;
  lang: 'js' | 'ts';
  code: string;
}

function readmeBlocks(): Block[] {
  const lines = readFileSync(join(root, 'README.md'), 'utf8').split('\n');
  const blocks: Block[] = [];
  let heading = '(top)';
  let perHeading = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const h = /^#{1,4} (.*)$/.exec(line);
    if (h) {
      heading = h[1]!;
      perHeading = 0;
      continue;
    }
    // A fence may be indented (a block inside a list item): its lines lose that indentation.
    const open = /^( *)```(\w+)/.exec(line);
    if (!open) continue;
    const indent = open[1]!.length;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !lines[j]!.trimStart().startsWith('```'); j++)
      body.push(lines[j]!.slice(indent));
    if (open[2] === 'js' || open[2] === 'ts')
      blocks.push({ key: `${heading}#${++perHeading}`, line: i + 1, lang: open[2], code: body.join('\n') });
    i = j;
  }
  return blocks;
}

interface Context {
  /** Code run before the block: the names it leaves to the reader. */
  prelude?: string;
  /** Code run after it: stop what it started. */
  epilogue?: string;
  /** The block is a module of task functions; this driver runs it on a thread pool. */
  driver?: string;
  /** Something the block must print. */
  prints?: RegExp;
}

const CONTEXT: Record<string, Context> = {
  'Greenlets#1': { prints: /fetcher fetched http:\/\/127\.0\.0\.1:8080\// },
  'Greenlets#2': {
    prelude: `
      import { readFile } from 'node:fs/promises';
      const loadConfig = async () => JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8'));
      const res = { end: (text) => console.log('answered', text.length, 'bytes') };`,
    epilogue: 'await handler({}, res); await handler({}, res);',
    prints: /answered \d+ bytes\nanswered \d+ bytes/,
  },
  'Timeouts#1': {
    prelude: `
      const url = 'http://127.0.0.1:1/never';
      const fetchBody = () => new Promise(() => {}); // a body that never comes: the deadline holds
      const slowOperation = () => new Promise((resolve) => setTimeout(resolve, 1_000));`,
    epilogue: "if (body !== null) throw new Error('expected the fallback');",
  },
  'Synchronisation and queues#1': {
    prelude: `
      const download = () => new Promise((resolve) => setTimeout(resolve, 5));
      const handle = (job) => console.log('handled', job.id);`,
    prints: /handled 1/,
  },
  'Groups and pools#1': {
    prelude: `
      import { stat } from 'node:fs/promises';
      const ids = [1, 2, 3];
      const processRecord = async (id) => id * 2;
      const images = ['a.png', 'b.png'];
      const makeThumbnail = async (image) => 'thumb of ' + image;
      const save = (thumb) => console.log(thumb);
      const files = [new URL('../../../package.json', import.meta.url)];`,
    epilogue: "if (!(sizes[0] > 0)) throw new Error('expected a size, got ' + sizes[0]);",
    prints: /thumb of a\.png\nthumb of b\.png/,
  },
  'Deadlocks, run info, stats#1': { prints: /^Deadlock: "a" \(Greenlet-1\) joins Greenlet-2/m },
  'Thread pool#1': {
    prelude: `
      const photo = { name: 'cat.png', width: 1600, height: 1200 };
      const photos = [photo, { name: 'dog.png', width: 800, height: 800 }];`,
    epilogue: `
      if (small.width !== 200 || thumbs.length !== 2 || n !== 42) throw new Error('unexpected results');`,
  },
  'Thread pool#2': {
    prelude: `
      import { ThreadPool, task } from 'greenhub/threadpool';
      const pool = new ThreadPool({ maxThreads: 1 });
      const request = { signal: new AbortController().signal }; // a disconnect signal
      const sha256 = task(new URL('./tasks.js', import.meta.url), 'sha256');
      const render = task(new URL('./md.js', import.meta.url), 'render');
      const body = 'hello';
      const pages = ['# one', '# two'];
      const res = { write: (page) => console.log(page) };`,
    epilogue: 'console.log(digest); await pool.close();',
    prints: /<h1>one<\/h1>\n<h1>two<\/h1>\n2cf24dba5fb0a30e/,
  },
  'Thread pool#3': {
    prelude: `
      import { ThreadPool, task } from 'greenhub/threadpool';
      const pool = new ThreadPool({ maxThreads: 2 });
      const reindex = task(new URL('./tasks.js', import.meta.url), 'reindex');
      const render = task(new URL('./md.js', import.meta.url), 'render');
      const documents = Array.from({ length: 20 }, (_, i) => 'document ' + i);
      const page = '# welcome';`,
    epilogue: 'console.log(html); await pool.close();',
    prints: /<h1>welcome<\/h1>/,
  },
  'Thread pool#4': { prints: /^150 10$/m },
  'Inside a task: `greenhub/worker`#1': {
    driver: `
      import { ThreadPool, task } from 'greenhub/threadpool';
      const pool = new ThreadPool({ maxThreads: 1 });
      const module = new URL('./BLOCK', import.meta.url);
      const pixels = await pool.apply(task(module, 'render'), 2, 2);
      await pool.apply(task(module, 'crunch'), []);
      await pool.close();
      console.log('rendered', pixels.length);`,
    prints: /rendered 16/,
  },
  '`hybrid()`: inline or thread, by measured cost#1': {
    prelude: `
      const comment = 'a short comment';
      const book = Array.from({ length: 20_000 }, (_, i) => (i % 50 === 0 ? '# chapter ' + i : 'line ' + i)).join('\\n');`,
    epilogue: 'await getHub().threadpool.close();',
  },
  '`Thread`: the two modes#1': {
    prelude: `
      import { getHub } from 'greenhub';
      const dir = new URL('.', import.meta.url).pathname;`,
    epilogue: 'await getHub().threadpool.close();',
  },
  '`/metrics`#1': { epilogue: 'await metrics.close();' },
  'Servers#1': {
    prelude: `
      const loadUser = async (url) => ({ url });
      // serveForever() returns once stopped: stop both servers after a request went through.
      setTimeout(async () => {
        const res = await fetch('http://127.0.0.1:8080/alice');
        console.log('served', await res.text());
        await echo.stop();
        await http.stop(1_000);
      }, 50);`,
    prints: /served \{"url":"\/alice"\}/,
  },
};

/** Blocks whose section needs a `getHub` the block does not import (hybrid's pool). */
function withImports(key: string, code: string): string {
  return key.startsWith('`hybrid()`') ? `import { getHub } from 'greenhub';\n${code}` : code;
}

const fixtures = join(root, 'test/readme/fixtures');
const written: string[] = [];
afterAll(() => {
  for (const file of written) rmSync(file, { force: true });
});

describe('README examples run', () => {
  const blocks = readmeBlocks();

  it('finds the README code blocks, and every block with context still exists', () => {
    expect(blocks.length).toBeGreaterThan(10);
    const keys = new Set(blocks.map((b) => b.key));
    expect(Object.keys(CONTEXT).filter((k) => !keys.has(k))).toEqual([]);
  });

  for (const [n, block] of blocks.entries()) {
    it(`${block.key} (README.md line ${block.line})`, async () => {
      const context = CONTEXT[block.key] ?? {};
      let code = block.code;
      if (block.lang === 'ts')
        code = ts.transpileModule(code, {
          compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
        }).outputText;
      const name = `block-${n}.mjs`;
      const file = join(fixtures, name);
      written.push(file);
      let entry = file;
      if (context.driver) {
        writeFileSync(file, code);
        entry = join(fixtures, `block-${n}-driver.mjs`);
        written.push(entry);
        writeFileSync(entry, context.driver.replace('BLOCK', name));
      } else {
        writeFileSync(
          file,
          `${context.prelude ?? ''}\n${withImports(block.key, code)}\n${context.epilogue ?? ''}\n`,
        );
      }
      const { code: status, stdout, stderr } = await runNode({ file: entry, timeoutMs: 30_000 });
      expect({ status, stderr }).toEqual({ status: 0, stderr: '' });
      if (context.prints) expect(stdout).toMatch(context.prints);
    });
  }
});
