/**
 * The advice rules are one engine under two front ends: `greenhub advise` (src/cli) and the status
 * page (src/server). The library layers below the CLI must not reach up into it, or a service that
 * serves the status page would load the command line's code.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from '../../helpers.js';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

describe('advice layering', () => {
  it('src/metrics and src/server import nothing from src/cli', () => {
    const offenders: string[] = [];
    for (const file of [...sources(join(root, 'src/metrics')), ...sources(join(root, 'src/server'))]) {
      for (const [, spec] of readFileSync(file, 'utf8').matchAll(/(?:from|import\()\s*'([^']+)'/g))
        if (spec!.startsWith('.') && /(^|\/)cli\//.test(spec!))
          offenders.push(`${relative(root, file)} → ${spec}`);
    }
    expect(offenders).toEqual([]);
    // The engine is really there, under metrics: both front ends reach it.
    for (const front of ['src/cli/advise/command.ts', 'src/server/status-advice.ts'])
      expect(readFileSync(join(root, front), 'utf8')).toMatch(/from '(\.\.\/)+metrics\/advice\/rules\.js'/);
  });
});
