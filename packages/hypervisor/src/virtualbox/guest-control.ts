import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CommandRunner } from '../command-runner.js';
import type { GuestCommand, GuestExecResult, GuestFile } from '../driver.js';
import { HypervisorError } from '../errors.js';
import { writePlan } from '../guest-file.js';
import { parseMachineReadable } from './machine-readable.parser.js';
import { vbox } from './vbox-cli.js';

/** How VBoxManage `guestcontrol run` (5.0 and later, 6.1 and 7.x alike) reports how the guest process ended. */
const EXEC_FAILED = 1;
const EXEC_TERM_SIGNAL = 18;
const EXEC_TERM_ABEND = 19;
const EXEC_TIMEOUT = 20;
/** Guest exit codes 1..93 come back displaced by 32; larger ones all as 126. */
const MAPPED_FIRST = 33;
const MAPPED_LAST = 125;
const MAPPED_BIG = 126;
const ALL_EXIT_CODES = Array.from({ length: 256 }, (_, i) => i);

/**
 * The private guest channel of VirtualBox VMs: the Guest Additions' guest control service, driven
 * by `VBoxManage guestcontrol` with the VM's guest account. The password goes in a file (0600)
 * beside the driver's state, never on a command line. `run` has no stdin, so input is copied into
 * the guest as a file and redirected. Same argv for VirtualBox 6.1 and 7.x.
 */
export class VBoxGuestControl {
  constructor(
    private readonly run: CommandRunner,
    private readonly stateDir: string,
    private readonly pollMs = 1000,
    /** Names of temporary files (random; tests fix them to assert exact argv). */
    private readonly tempName = () => randomBytes(6).toString('hex'),
  ) {}

  /** The file holding a VM's guest password (written at create, removed at destroy). */
  passwordFile(vmName: string): string {
    return path.join(this.stateDir, `${vmName}.guest-password`);
  }

  /** Polls until the Guest Additions run at userland level and a trivial command runs with the VM's account. */
  async waitForAdditions(vmName: string, username: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = 'Guest Additions not running';
    while (Date.now() < deadline) {
      const info = parseMachineReadable((await vbox(this.run, ['showvminfo', vmName, '--machinereadable'])).stdout);
      if (Number(info.get('GuestAdditionsRunLevel') ?? 0) >= 2) {
        const probe = await this.exec(vmName, username, { argv: ['/bin/true'], timeoutMs: 10_000 }).catch((error: Error) => error);
        if (!(probe instanceof Error) && probe.exitCode === 0) return;
        last = probe instanceof Error ? probe.message : `probe exited ${probe.exitCode}: ${probe.stderr.trim()}`;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(this.pollMs, Math.max(0, deadline - Date.now()))));
    }
    throw new HypervisorError('timeout', `the Guest Additions of ${vmName} did not answer within ${timeoutMs} ms (${last})`);
  }

  /** Runs a command with `guestcontrol run`, turning VBoxManage's exit code back into the guest's. */
  async exec(vmName: string, username: string, command: GuestCommand): Promise<GuestExecResult> {
    const [program] = command.argv;
    if (!program) throw new HypervisorError('invalid', 'guestExec needs a program (argv[0])');
    if (command.input === undefined) return this.runInGuest(vmName, username, command.argv, command.timeoutMs);
    const inputFile = `/tmp/.ctp-${this.tempName()}.in`;
    await this.copyIn(vmName, username, inputFile, Buffer.from(command.input, 'utf8'));
    const script = 'f=$1; shift; "$@" < "$f"; s=$?; rm -f -- "$f"; exit $s';
    return this.runInGuest(vmName, username, ['/bin/sh', '-c', script, 'sh', inputFile, ...command.argv], command.timeoutMs);
  }

  /** Writes a file the way `writePlan` describes, the content copied in with `copyto`. */
  async writeFile(vmName: string, username: string, file: GuestFile): Promise<void> {
    const plan = writePlan(file, this.tempName());
    await this.mustRun(vmName, username, ['/bin/sh', '-c', ...plan.prepare]);
    try {
      const content = typeof file.content === 'string' ? Buffer.from(file.content, 'utf8') : file.content;
      await this.copyIn(vmName, username, plan.temporary, content);
      await this.mustRun(vmName, username, ['/bin/sh', '-c', ...plan.finish]);
    } catch (error) {
      await this.runInGuest(vmName, username, ['/bin/rm', '-f', '--', plan.temporary]).catch(() => {});
      throw error;
    }
  }

  /**
   * Copies bytes to `guestPath` through a host file of the same name that only the driver can
   * read (`--target-directory` keeps the name: the one form 6.1 and 7.x both accept).
   */
  private async copyIn(vmName: string, username: string, guestPath: string, content: Buffer): Promise<void> {
    const hostDir = path.join(this.stateDir, 'guest-copy');
    const hostFile = path.join(hostDir, path.posix.basename(guestPath));
    try {
      mkdirSync(hostDir, { recursive: true, mode: 0o700 });
      writeFileSync(hostFile, content, { mode: 0o600 });
      await vbox(this.run, [
        'guestcontrol',
        vmName,
        'copyto',
        ...this.login(vmName, username),
        '--target-directory',
        path.posix.dirname(guestPath),
        hostFile,
      ]);
    } finally {
      rmSync(hostFile, { force: true });
    }
  }

  private async mustRun(vmName: string, username: string, argv: string[]): Promise<void> {
    const result = await this.runInGuest(vmName, username, argv, 15_000);
    if (result.exitCode !== 0)
      throw new HypervisorError('command_failed', `guest command failed (${result.exitCode}): ${result.stderr.trim()}`, {
        stderr: result.stderr,
      });
  }

  private async runInGuest(vmName: string, username: string, argv: string[], timeoutMs = 30_000): Promise<GuestExecResult> {
    const args = ['guestcontrol', vmName, 'run', ...this.login(vmName, username), '--timeout', String(timeoutMs), '--exe', argv[0]!];
    const { code, stdout, stderr } = await vbox(this.run, [...args, '--', ...argv], timeoutMs + 30_000, ALL_EXIT_CODES);
    if (code === 0) return { exitCode: 0, stdout, stderr };
    if (code >= MAPPED_FIRST && code <= MAPPED_LAST) return { exitCode: code - (MAPPED_FIRST - 1), stdout, stderr };
    if (code === MAPPED_BIG) return { exitCode: 126, stdout, stderr };
    if (code === EXEC_TIMEOUT) return { exitCode: 124, stdout, stderr, timedOut: true };
    // The guest only says "killed by a signal" or "ended abnormally", not which signal.
    if (code === EXEC_TERM_SIGNAL || code === EXEC_TERM_ABEND) return { exitCode: 128, stdout, stderr };
    if (code === EXEC_FAILED && /VERR_FILE_NOT_FOUND|VERR_PATH_NOT_FOUND|not found/i.test(stderr)) return { exitCode: 127, stdout, stderr };
    if (/VERR_AUTHENTICATION_FAILURE|VERR_ACCOUNT_RESTRICTED|password/i.test(stderr))
      throw new HypervisorError('command_failed', `guest login as ${username} on ${vmName} failed: check guestCredentials`, { stderr });
    throw new HypervisorError('command_failed', `VBoxManage guestcontrol run failed (exit code ${code}): ${stderr.trim()}`, { stderr });
  }

  private login(vmName: string, username: string): string[] {
    return ['--username', username, '--passwordfile', this.passwordFile(vmName)];
  }
}
