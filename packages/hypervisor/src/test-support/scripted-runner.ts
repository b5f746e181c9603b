import type { CommandOptions, CommandResult, CommandRunner } from '../command-runner.js';
import { HypervisorError } from '../errors.js';

export interface Expected {
  argv: string[];
  stdout?: string;
  stderr?: string;
  code?: number;
}

/**
 * A strict fake command runner: it expects exactly the scripted commands, in order, answers with
 * the scripted output, and fails like the real runner on a non-zero exit. Anything unexpected
 * fails the test, so a test states every command a driver runs.
 */
export class ScriptedRunner {
  readonly calls: string[][] = [];
  private readonly script: Expected[];

  constructor(script: Expected[]) {
    this.script = [...script];
  }

  readonly run: CommandRunner = async (argv: readonly string[], options?: CommandOptions): Promise<CommandResult> => {
    this.calls.push([...argv]);
    const next = this.script.shift();
    if (!next) throw new Error(`unexpected command: ${JSON.stringify(argv)}`);
    if (JSON.stringify(next.argv) !== JSON.stringify(argv)) {
      throw new Error(`expected command ${JSON.stringify(next.argv)}\n         but got ${JSON.stringify(argv)}`);
    }
    const code = next.code ?? 0;
    const result = { code, stdout: next.stdout ?? '', stderr: next.stderr ?? '' };
    if (!(options?.okCodes ?? [0]).includes(code)) {
      throw new HypervisorError('command_failed', `${argv.join(' ')} failed (exit code ${code}): ${result.stderr.trim()}`, {
        stderr: result.stderr,
      });
    }
    return result;
  };

  /** Commands scripted but never run. */
  remaining(): Expected[] {
    return this.script;
  }
}
