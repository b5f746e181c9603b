import { spawn } from 'node:child_process';
import { HypervisorError } from './errors.js';

export interface CommandOptions {
  /** Kill the command after this many milliseconds (default 60 s). */
  timeoutMs?: number;
  /** Written to the command's stdin. */
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Exit codes that are not failures (default `[0]`). */
  okCodes?: number[];
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs one external command given as an argv array (never a shell string). Drivers receive one
 * runner by injection, so tests can substitute a strict fake that asserts the exact argv.
 * A failure throws `HypervisorError('command_failed' | 'timeout')` carrying the command's stderr.
 */
export type CommandRunner = (argv: readonly string[], options?: CommandOptions) => Promise<CommandResult>;

/** The real runner: spawns the process directly, without a shell. */
export const runCommand: CommandRunner = (argv, options = {}) => {
  const [file, ...args] = argv;
  if (!file) return Promise.reject(new HypervisorError('invalid', 'empty command'));
  const timeoutMs = options.timeoutMs ?? 60_000;
  const okCodes = options.okCodes ?? [0];
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new HypervisorError('command_failed', `${file}: ${error.message}`, { cause: error }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const shown = argv.join(' ');
      if (timedOut) {
        reject(new HypervisorError('timeout', `${shown}: timed out after ${timeoutMs} ms`, { stderr }));
      } else if (code === null || !okCodes.includes(code)) {
        const why = code === null ? `killed by ${signal}` : `exit code ${code}`;
        const detail = stderr.trim() ? `: ${stderr.trim()}` : '';
        reject(new HypervisorError('command_failed', `${shown} failed (${why})${detail}`, { stderr }));
      } else {
        resolve({ code, stdout, stderr });
      }
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
};
