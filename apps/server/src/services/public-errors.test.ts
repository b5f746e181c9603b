import { HypervisorError } from '@ctp/hypervisor';
import { describe, expect, it } from 'vitest';
import { publicStepError, redactInternals } from './public-errors.js';

describe('public error messages', () => {
  it('replaces driver names by the VM name and hides paths and control characters', () => {
    expect(redactInternals('VM l5accdb638da3426b-attacker is paused')).toBe('VM "attacker" is paused');
    expect(redactInternals('group l5accdb638da3426b missing')).toBe('group the lab missing');
    expect(redactInternals('qemu: could not open /var/lib/ctp/vms/x/disk.qcow2: denied')).toBe('qemu: could not open [path]: denied');
    expect(redactInternals('line one\nline\u0000two')).toBe('line one line two');
    expect(redactInternals('x'.repeat(400))).toHaveLength(301);
  });

  it('keeps the hypervisor code meaning and redacts its detail for lab steps', () => {
    const error = new HypervisorError('timeout', 'QMP of l5accdb638da3426b-target at /tmp/ctp/q.sock did not answer');
    expect(publicStepError(error)).toBe('The hypervisor did not answer in time: QMP of "target" at [path] did not answer');
    expect(publicStepError(new Error('base image "x" is not available on this host'))).toBe('base image "x" is not available on this host');
    expect(publicStepError('plain')).toBe('plain');
  });
});
