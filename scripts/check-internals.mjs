#!/usr/bin/env node
// Part of `npm run lint`: no folder of src/ reaches into the hub's internals. A `_x` member declared
// in src/greenlet/ (on the hub, a greenlet, a primitive, a wait list) may be used only by
// src/greenlet/ itself; other folders call the facade, src/greenlet/internal.ts. Other folders' own
// `_x` members (threadpool's, server's) are theirs: the check resolves every `.x` access with the
// type checker and looks at where the member is declared, not at its name.
//
// The same holds for imports: another folder imports from src/greenlet/ what the public API (src/index.ts)
// exports, and everything else from the facade — never an internal function or class from the module
// that defines it.
//
// Usage: node scripts/check-internals.mjs [tsconfig] — exits 1 and lists what it found.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/**
 * A test of "inside the guarded folder", and the program's own source files outside it.
 * @param {ts.Program} program
 * @param {string} ownerDir
 */
function outsideOwner(program, ownerDir) {
  const inside = (/** @type {string} */ file) => path.resolve(file).startsWith(ownerDir + path.sep);
  const sources = program
    .getSourceFiles()
    .filter(
      (source) =>
        !source.isDeclarationFile &&
        !inside(source.fileName) &&
        !source.fileName.includes(`${path.sep}node_modules${path.sep}`),
    );
  return { inside, sources };
}

/**
 * The `._x` accesses, outside `ownerDir`, to members declared inside it.
 * @param {ts.Program} program
 * @param {string} ownerDir absolute path of the folder whose internals are guarded
 * @returns {string[]} `file:line: .name (declared in …)`
 */
export function foreignInternalAccesses(program, ownerDir) {
  const checker = program.getTypeChecker();
  const { inside, sources } = outsideOwner(program, ownerDir);
  /** @type {string[]} */
  const found = [];
  for (const source of sources) {
    /** @param {ts.Node} node */
    const visit = (node) => {
      if (ts.isPropertyAccessExpression(node) && node.name.text.startsWith('_')) {
        const declarations = checker.getSymbolAtLocation(node.name)?.declarations ?? [];
        const owner = declarations.find((d) => inside(d.getSourceFile().fileName));
        if (owner !== undefined) {
          const { line } = source.getLineAndCharacterOfPosition(node.name.getStart(source));
          const where = path.relative(process.cwd(), source.fileName);
          const declared = path.relative(process.cwd(), owner.getSourceFile().fileName);
          found.push(`${where}:${line + 1}: .${node.name.text} (declared in ${declared})`);
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return found;
}

/**
 * The imports, outside `ownerDir`, of names from a module inside it other than `facade` that
 * `publicEntry` does not export.
 * @param {ts.Program} program
 * @param {string} ownerDir absolute path of the folder whose internals are guarded
 * @param {string} publicEntry absolute path of the public entry point (src/index.ts)
 * @param {string} facade absolute path of the facade module (src/greenlet/internal.ts)
 * @returns {string[]} `file:line: name from spec`
 */
export function foreignInternalImports(program, ownerDir, publicEntry, facade) {
  const checker = program.getTypeChecker();
  const { inside, sources } = outsideOwner(program, ownerDir);
  const entry = program.getSourceFile(publicEntry);
  const entrySymbol = entry && checker.getSymbolAtLocation(entry);
  const exported = new Set(
    entrySymbol ? checker.getExportsOfModule(entrySymbol).map((e) => e.getName()) : [],
  );
  const facadeModule = facade.replace(/\.ts$/, '');
  /** @type {string[]} */
  const found = [];
  for (const source of sources) {
    for (const statement of source.statements) {
      /** @type {ts.NamedImportBindings | ts.NamedExportBindings | undefined} */
      let bindings;
      /** @type {ts.Expression | undefined} */
      let from;
      if (ts.isImportDeclaration(statement)) {
        bindings = statement.importClause?.namedBindings;
        from = statement.moduleSpecifier;
      } else if (ts.isExportDeclaration(statement)) {
        bindings = statement.exportClause;
        from = statement.moduleSpecifier;
      }
      if (from === undefined || !ts.isStringLiteral(from) || !from.text.startsWith('.')) continue;
      const target = path.resolve(path.dirname(source.fileName), from.text).replace(/\.js$/, '');
      if (!inside(target) || target === facadeModule) continue;
      if (bindings === undefined || ts.isNamespaceImport(bindings) || ts.isNamespaceExport(bindings))
        continue;
      for (const element of bindings.elements) {
        const name = (element.propertyName ?? element.name).text;
        if (exported.has(name)) continue;
        const { line } = source.getLineAndCharacterOfPosition(element.getStart(source));
        found.push(
          `${path.relative(process.cwd(), source.fileName)}:${line + 1}: ${name} from '${from.text}'`,
        );
      }
    }
  }
  return found;
}

/** @param {string} configPath */
function programOf(configPath) {
  const config = ts.getParsedCommandLineOfConfigFile(
    configPath,
    { noEmit: true },
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (config === undefined) throw new Error(`cannot read ${configPath}`);
  return ts.createProgram(config.fileNames, config.options);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const config = path.resolve(process.argv[2] ?? path.join(root, 'tsconfig.build.json'));
  const program = programOf(config);
  const owner = path.join(root, 'src', 'greenlet');
  const found = [
    ...foreignInternalAccesses(program, owner),
    ...foreignInternalImports(
      program,
      owner,
      path.join(root, 'src', 'index.ts'),
      path.join(owner, 'internal.ts'),
    ),
  ];
  if (found.length !== 0) {
    process.stderr.write(
      `check-internals: ${found.length} use${found.length === 1 ? '' : 's'} of greenlet internals ` +
        `from outside src/greenlet/ (use src/greenlet/internal.ts):\n${found.map((f) => `  ${f}\n`).join('')}`,
    );
    process.exit(1);
  }
}
