import { describe, expect, it } from 'vitest';
import { presentStudentEvent, redactHiddenNames } from './student.presenter.js';

describe('student presenter', () => {
  it('redacts hidden VM names as whole names only, also inside driver names', () => {
    expect(redactHiddenNames('Create VM vault', ['vault'])).toBe('Create VM (lab infrastructure)');
    expect(redactHiddenNames('qemu: l0123456789abcdef-vault failed', ['vault'])).toBe(
      'qemu: l0123456789abcdef-(lab infrastructure) failed',
    );
    expect(redactHiddenNames('vaults and myvault stay', ['vault'])).toBe('vaults and myvault stay');
    expect(redactHiddenNames('a.b', ['a.b'])).toBe('(lab infrastructure)');
    expect(redactHiddenNames('axb', ['a.b'])).toBe('axb');
  });

  it('drops staff-only events and events about hidden VMs, redacts the rest', () => {
    const event = (type: string, data: Record<string, unknown>) => ({ id: 1, at: '', type, labId: 'l', data });
    expect(presentStudentEvent(event('vm.status', { name: 'vault', status: 'running' }), ['vault'], false)).toBeNull();
    expect(presentStudentEvent(event('console.watching', { vm: 'vault' }), ['vault'], false)).toBeNull();
    expect(presentStudentEvent(event('task.shared_answer', {}), [], true)).toBeNull();
    expect(presentStudentEvent(event('vm.status', { name: 'attacker' }), ['vault'], false)?.data).toEqual({ name: 'attacker' });
    expect(
      presentStudentEvent(event('lab.progress', { current: 'Revert vault to its initial snapshot', n: 2 }), ['vault'], false)?.data,
    ).toEqual({
      current: 'Revert (lab infrastructure) to its initial snapshot',
      n: 2,
    });
  });
});
