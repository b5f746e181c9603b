import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Role } from '@ctp/contracts';
import { AppError } from '../errors.js';
import type { Actor } from '../policy/policy.js';
import { concernsSession, consoleAccess, ConsoleSlots, endedByRevocation, forwardInput, type ConsoleTarget } from './console-rules.js';

// The console session rules without a database: who opens a console and how, the session
// limits, and the read-only guard. consoles.routes.test.ts holds the same rules through HTTP.

const owner = 'owner-id';
const member = 'member-id';
const actor = (id: string, role: Role): Actor => ({ id, username: id, role });
const target = (over: { status?: string; studentVisible?: boolean; memberIds?: string[] } = {}): ConsoleTarget => ({
  lab: { userId: owner, status: over.status ?? 'running' },
  // 'teacher' teaches the owner in a class.
  resource: { ownerId: owner, memberIds: over.memberIds ?? [member], teacherIds: ['teacher'] },
  vm: { studentVisible: over.studentVisible ?? true },
});

/** The HTTP status and code an access check throws, or 'ro'/'rw' when it lets the actor in. */
function outcome(who: Actor, t: ConsoleTarget): string {
  try {
    return consoleAccess(who, t).readOnly ? 'ro' : 'rw';
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    return `${error.status} ${error.code}`;
  }
}

describe('console access', () => {
  it("lets the lab's owner and members type, staff outside the lab watch read-only, and hides the VM from other students", () => {
    const t = target();
    expect(outcome(actor(owner, 'student'), t)).toBe('rw');
    expect(outcome(actor(member, 'student'), t)).toBe('rw');
    expect(outcome(actor('stranger', 'student'), t)).toBe('404 not_found');
    expect(outcome(actor('teacher', 'instructor'), t)).toBe('ro');
    expect(outcome(actor('root', 'admin'), t)).toBe('ro');
    // An instructor who does not teach the lab's owner sees nothing of it.
    expect(outcome(actor('other-teacher', 'instructor'), t)).toBe('404 not_found');
  });

  it('lets staff who are in the lab type, like any member', () => {
    expect(outcome(actor(owner, 'instructor'), target())).toBe('rw');
    expect(outcome(actor(member, 'admin'), target())).toBe('rw');
    expect(outcome(actor('teacher', 'instructor'), target({ memberIds: ['teacher'] }))).toBe('rw');
  });

  it("hides a VM students may not see from the lab's students, not from staff", () => {
    const hidden = target({ studentVisible: false });
    expect(outcome(actor(owner, 'student'), hidden)).toBe('404 not_found');
    expect(outcome(actor(member, 'student'), hidden)).toBe('404 not_found');
    expect(outcome(actor('teacher', 'instructor'), hidden)).toBe('ro');
    expect(outcome(actor(owner, 'instructor'), hidden)).toBe('rw');
  });

  it('opens consoles of running and stopped labs only, and says why not', () => {
    expect(outcome(actor(owner, 'student'), target({ status: 'stopped' }))).toBe('rw');
    for (const status of ['provisioning', 'failed', 'deleting', 'resetting']) {
      expect(outcome(actor(owner, 'student'), target({ status }))).toBe('409 conflict');
      expect(outcome(actor('teacher', 'instructor'), target({ status }))).toBe('409 conflict');
      expect(() => consoleAccess(actor(owner, 'student'), target({ status }))).toThrow(`The lab is ${status}`);
    }
    // A stranger learns nothing about the lab's state.
    expect(outcome(actor('stranger', 'student'), target({ status: 'failed' }))).toBe('404 not_found');
    expect(() => consoleAccess(actor('stranger', 'student'), target())).toThrow('VM not found');
  });
});

describe('console sessions', () => {
  it('calls the end of a stream a revocation when the lab is gone or going, or the viewer lost it, not when it stops', () => {
    for (const status of ['running', 'stopping', 'stopped', 'resetting']) {
      expect(endedByRevocation(actor(owner, 'student'), target({ status }))).toBe(false);
      expect(endedByRevocation(actor('teacher', 'instructor'), target({ status }))).toBe(false);
    }
    for (const status of ['deleting', 'deleted']) expect(endedByRevocation(actor(owner, 'student'), target({ status }))).toBe(true);
    expect(endedByRevocation(actor(owner, 'student'), undefined)).toBe(true);
    // Removed from the lab, or the VM hidden from students meanwhile.
    expect(endedByRevocation(actor(member, 'student'), target({ memberIds: [] }))).toBe(true);
    expect(endedByRevocation(actor(member, 'student'), target({ studentVisible: false }))).toBe(true);
    expect(endedByRevocation(actor('teacher', 'instructor'), target({ studentVisible: false }))).toBe(false);
  });

  it('re-checks a session when its user or its own lab changes, not for another lab', () => {
    expect(concernsSession(undefined, 'lab-a')).toBe(true);
    expect(concernsSession('lab-a', 'lab-a')).toBe(true);
    expect(concernsSession('lab-b', 'lab-a')).toBe(false);
  });

  it("forwards a typist's bytes to the console and drops a watcher's", () => {
    const console = new PassThrough();
    const written: string[] = [];
    console.on('data', (chunk: Buffer) => written.push(chunk.toString()));
    expect(forwardInput({ readOnly: false }, console, Buffer.from('ls\n'))).toBe(true);
    expect(forwardInput({ readOnly: true }, console, Buffer.from('rm -rf /\n'))).toBe(false);
    expect(written).toEqual(['ls\n']);
  });
});

describe('console slots', () => {
  /** The 429 message `take` throws, or 'ok'. */
  const take = (slots: ConsoleSlots, user: string, vm: string): string => {
    try {
      slots.take(user, vm);
      return 'ok';
    } catch (error) {
      if (!(error instanceof AppError) || error.status !== 429 || error.code !== 'too_many_consoles') throw error;
      return error.message;
    }
  };

  it("holds a user to their number of sessions, across VMs, and counts each VM's", () => {
    const slots = new ConsoleSlots({ sessionsPerUser: 2, sessionsPerVm: 5 });
    expect(take(slots, 'u1', 'vm1')).toBe('ok');
    expect(take(slots, 'u1', 'vm2')).toBe('ok');
    expect(take(slots, 'u1', 'vm3')).toBe('You have 2 consoles open already; close one first');
    expect(slots.forUser('u1')).toBe(2);
    expect([slots.forVm('vm1'), slots.forVm('vm2'), slots.forVm('vm3')]).toEqual([1, 1, 0]);
    // Another user is not held to u1's count.
    expect(take(slots, 'u2', 'vm1')).toBe('ok');
    expect(slots.forVm('vm1')).toBe(2);
  });

  it('holds a VM to its number of sessions, whoever opens them', () => {
    const slots = new ConsoleSlots({ sessionsPerUser: 5, sessionsPerVm: 2 });
    expect(take(slots, 'u1', 'vm1')).toBe('ok');
    expect(take(slots, 'u2', 'vm1')).toBe('ok');
    expect(take(slots, 'u3', 'vm1')).toBe('This VM has 2 consoles open already');
    expect(slots.forUser('u3')).toBe(0);
    expect(take(slots, 'u3', 'vm2')).toBe('ok');
  });

  it('checks without taking, and gives slots back on release', () => {
    const slots = new ConsoleSlots({ sessionsPerUser: 1, sessionsPerVm: 1 });
    slots.check('u1', 'vm1');
    slots.check('u1', 'vm1');
    expect(slots.forUser('u1')).toBe(0);
    expect(take(slots, 'u1', 'vm1')).toBe('ok');
    expect(() => slots.check('u1', 'vm2')).toThrow('You have 1 consoles open already');
    expect(() => slots.check('u2', 'vm1')).toThrow('This VM has 1 consoles open already');
    slots.release('u1', 'vm1');
    expect([slots.forUser('u1'), slots.forVm('vm1')]).toEqual([0, 0]);
    // Closed users and VMs are forgotten: memory stays bounded by the sessions open now.
    expect(slots.holders).toBe(0);
    expect(take(slots, 'u2', 'vm1')).toBe('ok');
    expect(slots.holders).toBe(2);
    // Releasing more than was taken never leaves a negative count that would lift the limit.
    slots.release('u1', 'vm2');
    slots.release('u1', 'vm2');
    expect([slots.forUser('u1'), slots.forVm('vm2')]).toEqual([0, 0]);
    expect(take(slots, 'u1', 'vm2')).toBe('ok');
    expect(take(slots, 'u1', 'vm3')).toBe('You have 1 consoles open already; close one first');
  });
});
