import type { Writable } from 'node:stream';
import { AppError, conflict, notFound } from '../errors.js';
import { can, type Actor, type Resource } from '../policy/policy.js';

// The console session rules, free of the database and of Fastify so that they are unit-tested
// (and mutation-tested) on their own: who may open a VM's console and whether read-only, how
// many sessions a user and a VM may hold, and that a watcher's keystrokes never reach the guest.

export interface ConsoleLimits {
  sessionsPerUser: number;
  sessionsPerVm: number;
}

/** What the access rule looks at: the VM's lab, the lab as the policy sees it, and whether students see the VM. */
export interface ConsoleTarget {
  lab: { userId: string; status: string };
  /** The lab's owner, members and the instructors who teach its owner (services/lab-access.ts). */
  resource: Resource;
  vm: { studentVisible: boolean };
}

/**
 * Whether the actor may open the VM's console: the lab's owner and members type into it, staff
 * who may watch the lab (admins, the instructors teaching its owner) watch read-only; anyone else, or a student on a hidden VM, gets 404 (the VM's
 * existence is not revealed); a lab that is neither running nor stopped gets 409.
 */
export function consoleAccess(actor: Actor, target: ConsoleTarget): { readOnly: boolean } {
  const { lab } = target;
  if (!seesConsole(actor, target)) throw notFound('VM');
  if (lab.status !== 'running' && lab.status !== 'stopped') throw conflict(`The lab is ${lab.status}`);
  return { readOnly: !inLab(actor, target) };
}

/**
 * Whether a console whose stream the VM ended was ended by a revocation: its lab is gone or going,
 * or the actor may no longer see the VM. A lab merely stopping or resetting is not one.
 */
export function endedByRevocation(actor: Actor, target: ConsoleTarget | undefined): boolean {
  if (!target || target.lab.status === 'deleting' || target.lab.status === 'deleted') return true;
  return !seesConsole(actor, target);
}

function inLab(actor: Actor, { lab, resource }: ConsoleTarget): boolean {
  return lab.userId === actor.id || (resource.memberIds ?? []).includes(actor.id);
}

function seesConsole(actor: Actor, target: ConsoleTarget): boolean {
  const { resource, vm } = target;
  const staff = can(actor, 'lab.watchConsole', resource);
  return (inLab(actor, target) || staff) && (vm.studentVisible || can(actor, 'vm.seeHidden', resource));
}

/** Whether a change to `changedLabId` (undefined: the user changed) concerns a session on `labId`. */
export function concernsSession(changedLabId: string | undefined, labId: string): boolean {
  return changedLabId === undefined || changedLabId === labId;
}

/** Writes the viewer's bytes to the console unless the session is read-only; true when written. */
export function forwardInput(session: { readOnly: boolean }, console: Writable, bytes: Buffer): boolean {
  // Watchers see, they do not type.
  if (session.readOnly) return false;
  console.write(bytes);
  return true;
}

/** Console sessions open on this instance, per user and per VM, held to their limits. */
export class ConsoleSlots {
  private readonly perUser = new Map<string, number>();
  private readonly perVm = new Map<string, number>();

  constructor(private readonly limits: ConsoleLimits) {}

  /** Throws 429 when the user, or the VM, already holds as many sessions as allowed. */
  check(userId: string, vmId: string): void {
    if (this.forUser(userId) >= this.limits.sessionsPerUser) {
      throw new AppError(429, 'too_many_consoles', `You have ${this.limits.sessionsPerUser} consoles open already; close one first`);
    }
    if (this.forVm(vmId) >= this.limits.sessionsPerVm) {
      throw new AppError(429, 'too_many_consoles', `This VM has ${this.limits.sessionsPerVm} consoles open already`);
    }
  }

  /** Takes a slot of the user and of the VM, or throws 429 when either has none left. */
  take(userId: string, vmId: string): void {
    this.check(userId, vmId);
    bump(this.perUser, userId, 1);
    bump(this.perVm, vmId, 1);
  }

  /** Gives back a slot taken by `take`. */
  release(userId: string, vmId: string): void {
    bump(this.perUser, userId, -1);
    bump(this.perVm, vmId, -1);
  }

  /** Sessions the user holds. */
  forUser(userId: string): number {
    return this.perUser.get(userId) ?? 0;
  }

  /** Users and VMs holding sessions now (one whose sessions all closed is forgotten). */
  get holders(): number {
    return this.perUser.size + this.perVm.size;
  }

  /** Sessions open on the VM. */
  forVm(vmId: string): number {
    return this.perVm.get(vmId) ?? 0;
  }
}

function bump(map: Map<string, number>, key: string, by: number): void {
  const next = (map.get(key) ?? 0) + by;
  if (next <= 0) map.delete(key);
  else map.set(key, next);
}
