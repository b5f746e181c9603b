import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HypervisorError } from './errors.js';
import { runCommand } from './command-runner.js';

describe('runCommand (through the command helper)', () => {
  it('returns the output of a command, with its input on stdin and the given environment', async () => {
    await expect(runCommand(['cat'], { input: 'from stdin' })).resolves.toEqual({ code: 0, stdout: 'from stdin', stderr: '' });
    const { stdout } = await runCommand(['sh', '-c', 'printf "%s|%s" "$CTP_PROBE" "$PWD"'], {
      env: { ...process.env, CTP_PROBE: 'set' },
      cwd: '/tmp',
    });
    expect(stdout).toBe('set|/tmp');
  });

  it('starts commands from a helper process, not from this one (forking this process stalls it)', async () => {
    const { stdout } = await runCommand(['sh', '-c', 'echo $PPID']);
    const helperPid = Number(stdout.trim());
    expect(helperPid).not.toBe(process.pid);
    // The helper is this process's child.
    const stat = readFileSync(`/proc/${helperPid}/stat`, 'utf8');
    expect(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])).toBe(process.pid);
  });

  it('fails with the exit code and stderr, accepts listed exit codes, and times out', async () => {
    const failed = await runCommand(['sh', '-c', 'echo broken >&2; exit 3']).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(HypervisorError);
    expect(failed).toMatchObject({ code: 'command_failed', stderr: 'broken\n' });
    expect((failed as Error).message).toBe('sh -c echo broken >&2; exit 3 failed (exit code 3): broken');
    await expect(runCommand(['sh', '-c', 'exit 2'], { okCodes: [0, 2] })).resolves.toMatchObject({ code: 2 });
    const slow = await runCommand(['sleep', '5'], { timeoutMs: 100 }).catch((error: unknown) => error);
    expect(slow).toMatchObject({ code: 'timeout', message: 'sleep 5: timed out after 100 ms' });
    await expect(runCommand(['/nonexistent/program'])).rejects.toMatchObject({
      code: 'command_failed',
      message: expect.stringContaining('ENOENT'),
    });
    await expect(runCommand([])).rejects.toMatchObject({ code: 'invalid' });
  });

  it('runs many commands at once, and starts a new helper when the old one is gone', async () => {
    const outputs = await Promise.all(Array.from({ length: 40 }, (_, i) => runCommand(['echo', String(i)])));
    expect(outputs.map((o) => Number(o.stdout))).toEqual(Array.from({ length: 40 }, (_, i) => i));
    const helperPid = Number((await runCommand(['sh', '-c', 'echo $PPID'])).stdout);
    // A command that kills its own helper fails, and the next command gets a new helper.
    const killed = await runCommand(['sh', '-c', `kill -9 ${helperPid}; sleep 5`]).catch((error: unknown) => error);
    expect(killed).toMatchObject({ code: 'command_failed', message: expect.stringContaining('command helper exited') });
    const next = Number((await runCommand(['sh', '-c', 'echo $PPID'])).stdout);
    expect(next).not.toBe(helperPid);
    expect(next).toBeGreaterThan(0);
  });
});
