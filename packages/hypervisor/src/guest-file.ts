import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { GuestFile } from './driver.js';
import { HypervisorError } from './errors.js';

/** Guest paths must be absolute file paths: no NUL or newline, no `..` segment, no trailing slash. */
export function checkGuestPath(guestPath: string): void {
  if (!guestPath.startsWith('/') || /[\0\n\r]/.test(guestPath) || guestPath.split('/').includes('..') || guestPath.endsWith('/'))
    throw new HypervisorError('invalid', `guest path "${guestPath}" must be an absolute file path`);
}

/** Owners are `user` or `user:group`, by name or number. */
export function checkOwner(owner: string | undefined): void {
  if (owner !== undefined && !/^[a-z_][a-z0-9_.-]*(:[a-z_][a-z0-9_.-]*)?$|^\d+(:\d+)?$/i.test(owner))
    throw new HypervisorError('invalid', `owner "${owner}" is not user or user:group`);
}

/** The guest shell steps of writing a file, as fixed scripts whose arguments are never spliced into them. */
export interface WritePlan {
  /** The private temporary file beside the target that the content goes to. */
  temporary: string;
  /** argv (after `sh -c`) creating the parent directories and an empty temporary file only root can read. */
  prepare: string[];
  /** argv (after `sh -c`) giving the temporary file its mode and owner and renaming it over the target. */
  finish: string[];
  /** argv (after `sh -c`) doing all of it in one command, the content read from stdin (small text files). */
  fromStdin: string[];
}

/**
 * How every driver writes a guest file: parent directories are created, the content goes to a
 * private temporary file beside the target (mode 0600 while written), which then gets its mode
 * (default 0644) and owner and is renamed over the target, so no reader ever sees a partial file
 * or a looser mode. `id` names the temporary file (random unless a test fixes it).
 */
export function writePlan(file: GuestFile, id = randomBytes(6).toString('hex')): WritePlan {
  checkGuestPath(file.path);
  checkOwner(file.owner);
  const mode = file.mode ?? 0o644;
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) throw new HypervisorError('invalid', `mode ${mode} is not a file mode`);
  const dir = path.posix.dirname(file.path);
  const temporary = path.posix.join(dir, `.ctp-${id}.tmp`);
  const chown = file.owner !== undefined ? ' && chown -- "$3" "$1"' : '';
  return {
    temporary,
    prepare: ['mkdir -p -- "$1" && umask 077 && : > "$2"', 'sh', dir, temporary],
    finish: [
      `chmod ${mode.toString(8)} "$1"${chown} && mv -f -- "$1" "$2"`,
      'sh',
      temporary,
      file.path,
      ...(file.owner !== undefined ? [file.owner] : []),
    ],
    fromStdin: [
      `mkdir -p -- "$1" && umask 077 && { cat > "$2" && chmod ${mode.toString(8)} "$2"${file.owner !== undefined ? ' && chown -- "$4" "$2"' : ''} && mv -f -- "$2" "$3" || { rm -f -- "$2"; exit 1; }; }`,
      'sh',
      dir,
      temporary,
      file.path,
      ...(file.owner !== undefined ? [file.owner] : []),
    ],
  };
}
