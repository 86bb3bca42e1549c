/**
 * The CLI's one error: a command line it cannot run. Not part of the library's API (`greenhub`
 * exports the library's errors; this one never leaves the `greenhub` command).
 */

/**
 * A command line the `greenhub` CLI cannot run: an unknown flag, a flag without its value, a value
 * of the wrong form, a missing argument. The message names the flag, the expected form and what
 * came; the CLI prints it and exits with status 2 (the shell's convention for usage errors).
 *
 * Whose fault: the caller's.
 *
 * @example
 * ```ts
 * new UsageError('greenhub demo: expected --mode to be one of inline, offload, hybrid, got "fast"', '--mode');
 * ```
 */
export class UsageError extends Error {
  readonly code = 'ERR_GREENHUB_USAGE';
  /** The flag or argument at fault, e.g. `--mode` or `<entry>`. */
  readonly argument: string;
  constructor(message: string, argument: string) {
    super(message);
    this.argument = argument;
  }
}
Object.defineProperty(UsageError.prototype, 'name', {
  value: 'UsageError',
  writable: true,
  configurable: true,
});
