// The thread boundary has one protocol: both sides import src/threadpool/protocol.ts, and the
// worker side (src/worker/) reaches nothing else of src/threadpool/, so the two folders cannot
// import each other in a loop. Read from the sources, as a dependency linter would.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const SRC = new URL('../../src/', import.meta.url);

function imports(file: URL): { specifier: string; typeOnly: boolean }[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^(?:import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)';/gms)].map((m) => ({
    specifier: m[2]!,
    typeOnly: m[1] !== undefined,
  }));
}

describe('the thread protocol', () => {
  it('src/worker imports nothing from src/threadpool but protocol.ts', () => {
    const reached: string[] = [];
    for (const name of readdirSync(new URL('worker/', SRC))) {
      for (const { specifier } of imports(new URL(`worker/${name}`, SRC))) {
        if (specifier.startsWith('../threadpool/')) reached.push(`${name} → ${specifier}`);
      }
    }
    expect(reached.length).toBeGreaterThan(0); // the worker side does use the protocol
    expect(reached.filter((edge) => !edge.endsWith('../threadpool/protocol.js'))).toEqual([]);
  });

  it('protocol.ts imports nothing at run time (the worker side loads it alone)', () => {
    const runtime = imports(new URL('threadpool/protocol.ts', SRC)).filter((i) => !i.typeOnly);
    expect(runtime).toEqual([]);
  });

  it('no other file declares its own message kinds or cancellation codes', () => {
    const declared: string[] = [];
    const walk = (dir: URL): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.isDirectory()) walk(new URL(`${entry.name}/`, dir));
        else if (
          entry.name.endsWith('.ts') &&
          !(dir.href.endsWith('threadpool/') && entry.name === 'protocol.ts')
        ) {
          const text = readFileSync(new URL(entry.name, dir), 'utf8');
          for (const m of text.matchAll(/export const ((?:MSG|KIND|CANCEL|STATE)_[A-Z_]+)/g))
            declared.push(`${entry.name}: ${m[1]}`);
        }
      }
    };
    walk(SRC);
    expect(declared).toEqual([]);
  });
});
