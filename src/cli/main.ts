#!/usr/bin/env node
/**
 * The `greenhub` command: `greenhub run <entry>`, `greenhub demo` and `greenhub advise <url>`. A bad command line prints
 * what is wrong (the flag, the expected form, what came) and exits with status 2.
 */
import { readFileSync } from 'node:fs';
import { packageFile } from '../internal/own-files.js';
import { UsageError } from './usage-error.js';

const HELP = `Usage: greenhub <command> [options]

Commands:
  run <entry> [args…]   run an unmodified Node application with patching, metrics and graceful shutdown
  demo                  the mixed I/O/CPU demo service with its live status page (npm start)
  advise <url>          read a running service's /metrics twice and print what to change

greenhub <command> --help shows a command's options. greenhub --version prints the version.
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run':
      return (await import('./run.js')).run(rest);
    case 'demo':
      return (await import('./demo/command.js')).demo(rest);
    case 'advise':
      return (await import('./advise/command.js')).advise(rest);
    case undefined:
      process.stderr.write(HELP);
      return 2;
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return 0;
    case '--version':
    case '-v': {
      const pkg = JSON.parse(readFileSync(packageFile('package.json'), 'utf8'));
      process.stdout.write(`${pkg.version}\n`);
      return 0;
    }
    default:
      throw new UsageError(
        `greenhub: unknown command ${JSON.stringify(command)}; expected one of run, demo, advise, help (see greenhub --help)`,
        '<command>',
      );
  }
}

main(process.argv.slice(2)).then(
  // Exit now: the command is done, and a pool thread still inside a native call that termination
  // cannot interrupt (a long pbkdf2Sync) must not hold the process after the pool was closed.
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
