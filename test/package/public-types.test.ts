/**
 * The declarations `greenhub` publishes (dist, built with `stripInternal`): its classes show their
 * API and nothing else — no `_` member, no list machinery inherited from an internal base class —
 * and a program that reaches for an internal does not compile.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { root } from '../helpers.js';

const entry = join(root, 'dist/index.d.ts');
/** Every entry point of package.json's `exports`, as built. */
const entries = Object.values(
  JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).exports as Record<string, { types?: string }>,
).flatMap((target) =>
  typeof target === 'object' && target.types !== undefined ? [join(root, target.types)] : [],
);
/** The methods of the internal wait list that Greenlet, Event, AsyncResult and Semaphore once inherited. */
const WAIT_LIST_METHODS = ['push', 'shift', 'remove', 'detachAll', 'fireAll'];

function program(files: string[]): ts.Program {
  return ts.createProgram(files, {
    strict: true,
    noEmit: true,
    skipLibCheck: false,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2023.d.ts', 'lib.esnext.disposable.d.ts'],
    types: ['node'],
    typeRoots: [join(root, 'node_modules/@types')],
    paths: { greenhub: [entry] },
  });
}

describe("greenhub's published types", () => {
  const built = program(entries);
  const checker = built.getTypeChecker();

  it('no class or interface exported by any entry point has a `_` member or a wait-list method', () => {
    const found: string[] = [];
    let classes = 0;
    const exports = entries.flatMap((file) =>
      checker.getExportsOfModule(checker.getSymbolAtLocation(built.getSourceFile(file)!)!),
    );
    expect(entries.length).toBeGreaterThanOrEqual(7); // ., threadpool, worker, metrics, server, patch, register
    for (const exported of exports) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      if (!(symbol.flags & (ts.SymbolFlags.Class | ts.SymbolFlags.Interface))) continue;
      if (symbol.flags & ts.SymbolFlags.Class) classes++;
      const sides = [checker.getDeclaredTypeOfSymbol(symbol)];
      if (symbol.flags & ts.SymbolFlags.Class) sides.push(checker.getTypeOfSymbol(symbol));
      for (const side of sides) {
        for (const member of checker.getPropertiesOfType(side)) {
          const name = member.getName();
          // Symbol-keyed members (`[Symbol.iterator]`) are named `__@iterator@…` here.
          const internal = name.startsWith('_') && !name.startsWith('__@');
          if (internal || WAIT_LIST_METHODS.includes(name)) found.push(`${symbol.getName()}.${name}`);
        }
      }
    }
    expect(classes).toBeGreaterThan(15); // Greenlet, Hub, Event, Queue, Pool, Timeout, the errors…
    expect(found).toEqual([]);
  });

  it('the declaration files of every entry point type-check without skipLibCheck', () => {
    const ours = (file: string | undefined) => file?.startsWith(join(root, 'dist/')) === true;
    const errors = built
      .getSourceFiles()
      .filter((f) => ours(f.fileName))
      .flatMap((f) => built.getSemanticDiagnostics(f))
      .map((d) => `${d.file!.fileName}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    expect(errors).toEqual([]);
  });

  it('a program that uses a greenlet internal does not compile', () => {
    const uses = [
      'g.shift();',
      'new Event().detachAll();',
      'new AsyncResult().fireAll(1);',
      'new Semaphore().push(null as never);',
      'g._throw(new Error(), true);',
      'getHub()._checkpoint();',
      'getHub()._liveGreenlets();',
    ];
    const file = join(root, 'test/package/uses-internals.ts');
    const source = [
      "import { AsyncResult, Event, getHub, Semaphore, spawn } from 'greenhub';",
      'const g = spawn(() => 1);',
      ...uses,
    ].join('\n');
    const host = ts.createCompilerHost({});
    const read = host.getSourceFile;
    host.getSourceFile = (name, version, ...rest) =>
      name === file ? ts.createSourceFile(name, source, version) : read.call(host, name, version, ...rest);
    const checked = ts.createProgram({
      rootNames: [file],
      options: built.getCompilerOptions(),
      host,
      oldProgram: built,
    });
    const lines = new Set(
      checked
        .getSemanticDiagnostics(checked.getSourceFile(file))
        .map((d) => d.file!.getLineAndCharacterOfPosition(d.start!).line),
    );
    // Every line after the two of set-up is an error; the set-up itself compiles.
    expect([...lines].sort((a, b) => a - b)).toEqual(uses.map((_, i) => i + 2));
  });
});
