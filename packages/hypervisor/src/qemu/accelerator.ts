import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface AcceleratorChoice {
  accelerator: 'kvm' | 'tcg';
  notes: string[];
}

const PROBE_MS = 4000;

/** Starts a probe VM with KVM and resolves with what it showed before `PROBE_MS` (or it exited). */
function tryKvm(qemu: string, probeKernel: string | undefined): Promise<{ ok: boolean; why: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ctp-kvm-probe-'));
  const out = path.join(dir, 'out');
  // With a kernel: wait for Linux to print its banner. Without: wait for SeaBIOS on its debug port.
  const args = probeKernel
    ? ['-kernel', probeKernel, '-append', 'console=ttyS0 panic=-1', '-serial', `file:${out}`]
    : ['-debugcon', `file:${out}`, '-global', 'isa-debugcon.iobase=0x402'];
  const expected = probeKernel ? 'Linux version' : 'SeaBIOS';
  return new Promise((resolve) => {
    const child = spawn(qemu, ['-accel', 'kvm', '-machine', 'pc', '-m', '128', '-nodefaults', '-display', 'none', '-no-reboot', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    let done = false;
    const finish = (ok: boolean, why: string) => {
      if (done) return;
      done = true;
      clearInterval(poll);
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      resolve({ ok, why });
    };
    const seen = () => existsSync(out) && readFileSync(out, 'latin1').includes(expected);
    const started = Date.now();
    const poll = setInterval(() => {
      if (seen()) finish(true, `the probe VM printed "${expected}"`);
      else if (Date.now() - started > PROBE_MS) finish(false, `the probe VM printed nothing in ${PROBE_MS / 1000} s (it hangs)`);
    }, 100);
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('exit', () => finish(seen(), stderr.trim().split('\n').slice(-1)[0] || 'it exited at once'));
    child.on('error', (error) => finish(false, error.message));
  });
}

/**
 * Whether KVM really works: `/dev/kvm` can exist while QEMU aborts on it (nested virtualisation
 * failing on an MSR) or its guests hang, so boot a probe VM with KVM and check that it runs.
 */
export async function probeAccelerator(qemu: string, wanted: 'auto' | 'kvm' | 'tcg', probeKernel?: string): Promise<AcceleratorChoice> {
  if (wanted === 'tcg') return { accelerator: 'tcg', notes: ['TCG chosen by configuration'] };
  if (!existsSync('/dev/kvm')) return { accelerator: 'tcg', notes: ['/dev/kvm does not exist: using TCG (software emulation)'] };
  const result = await tryKvm(qemu, probeKernel && existsSync(probeKernel) ? probeKernel : undefined);
  if (result.ok) return { accelerator: 'kvm', notes: [`KVM works: ${result.why}`] };
  if (wanted === 'kvm') return { accelerator: 'kvm', notes: [`KVM forced by configuration although the probe failed: ${result.why}`] };
  return { accelerator: 'tcg', notes: [`/dev/kvm exists but KVM does not work here (${result.why}): using TCG (software emulation)`] };
}
