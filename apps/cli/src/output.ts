/** Whether `--json` was given anywhere on the command line (read once, before parsing). */
export const jsonMode = process.argv.includes('--json');

/** Prints a command's result: the JSON document with `--json`, else the human text. */
export function emit(result: unknown, human: () => string): void {
  process.stdout.write(jsonMode ? `${JSON.stringify(result, null, 2)}\n` : `${human()}\n`);
}
