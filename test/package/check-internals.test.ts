/**
 * The lint check that keeps the hub's internals inside src/greenlet/ (scripts/check-internals.mjs,
 * run by `npm run lint`): it resolves each `._x` access and flags those that reach a member declared
 * in the guarded folder from outside it — and only those.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { foreignInternalAccesses, foreignInternalImports } from '../../scripts/check-internals.mjs';

describe('scripts/check-internals.mjs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'greenhub-internals-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (file: string, lines: string[]): string => {
    const at = join(dir, file);
    mkdirSync(join(at, '..'), { recursive: true });
    writeFileSync(at, lines.join('\n'));
    return at;
  };

  it("flags another folder's `._x` access to a greenlet member, not its own `_x` members nor public ones", () => {
    const files = [
      write('src/greenlet/hub.ts', [
        'export class Hub {',
        '  _checkpoint(): number { return 1; }',
        '  stats(): number { return 2; }',
        '}',
        'export function facade(hub: Hub): number { return hub._checkpoint(); }',
      ]),
      write('src/threadpool/use.ts', [
        "import { facade, Hub } from '../greenlet/hub.js';",
        'class Own { _cell = 3; }',
        'const hub = new Hub();',
        'export const ok = [hub.stats(), facade(hub), new Own()._cell];',
        'export const bad = hub._checkpoint();',
      ]),
    ];
    const program = ts.createProgram(files, { strict: true, noEmit: true, types: [] });
    const found = foreignInternalAccesses(program, join(dir, 'src', 'greenlet'));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(
      /src\/threadpool\/use\.ts:5: \._checkpoint \(declared in .*src\/greenlet\/hub\.ts\)$/,
    );
  });

  it('flags an import of a non-public name from a greenlet module other than the facade', () => {
    const files = [
      write('src/greenlet/hub.ts', [
        'export function getHub(): number { return 1; }',
        'export function runAs(): number { return 2; }',
      ]),
      write('src/greenlet/internal.ts', ["export { runAs } from './hub.js';"]),
      write('src/index.ts', ["export { getHub } from './greenlet/hub.js';"]),
      write('src/patch/ok.ts', [
        "import { getHub } from '../greenlet/hub.js';",
        "import { runAs } from '../greenlet/internal.js';",
        'export const ok = getHub() + runAs();',
      ]),
      write('src/patch/bad.ts', [
        "import { getHub, runAs } from '../greenlet/hub.js';",
        'export const bad = getHub() + runAs();',
      ]),
    ];
    const program = ts.createProgram(files, { strict: true, noEmit: true, types: [] });
    const found = foreignInternalImports(
      program,
      join(dir, 'src', 'greenlet'),
      join(dir, 'src', 'index.ts'),
      join(dir, 'src', 'greenlet', 'internal.ts'),
    );
    expect(found).toEqual([
      expect.stringMatching(/src\/patch\/bad\.ts:1: runAs from '\.\.\/greenlet\/hub\.js'$/),
    ]);
  });
});
