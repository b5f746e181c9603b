/** Exit codes scripts can rely on (documented in the README). */
export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  invalid: 3,
  auth: 4,
  unreachable: 5,
  notFound: 6,
  conflict: 7,
} as const;

/** A failure with the exit code it ends the command with. */
export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** The exit code for an HTTP error status from the server. */
export function exitCodeForStatus(status: number): number {
  if (status === 401 || status === 403) return EXIT.auth;
  if (status === 404) return EXIT.notFound;
  if (status === 409) return EXIT.conflict;
  if (status >= 400 && status < 500) return EXIT.invalid;
  return EXIT.error;
}
