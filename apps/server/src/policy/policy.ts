import type { Role } from '@ctp/contracts';
import { forbidden } from '../errors.js';

/** Who is acting: the authenticated user as the policy sees them. */
export interface Actor {
  id: string;
  username: string;
  role: Role;
}

/** What a rule may look at about the target resource. */
export interface Resource {
  /** The user that owns it (a lab's student, a template's author, the user itself). */
  ownerId?: string | null;
  /** Users it is shared with (a lab's members). */
  memberIds?: readonly string[];
  /** Visible to every signed-in user (a published template). */
  published?: boolean;
  /** Students may act on it (a VM's `studentControl`). */
  controllable?: boolean;
}

type Rule = (actor: Actor, resource: Resource) => boolean;

const admin: Rule = (a) => a.role === 'admin';
const staff: Rule = (a) => a.role === 'admin' || a.role === 'instructor';
const anyone: Rule = () => true;
const owner: Rule = (a, r) => r.ownerId === a.id;
const member: Rule = (a, r) => r.ownerId === a.id || (r.memberIds ?? []).includes(a.id);
const either =
  (...rules: Rule[]): Rule =>
  (a, r) =>
    rules.some((rule) => rule(a, r));

/**
 * The one table that answers "may this user do this to that". Every service asks here;
 * nothing else decides access. Roles give breadth, ownership and membership give reach.
 */
const rules = {
  'user.list': admin,
  'user.read': either(admin, owner),
  'user.create': admin,
  'user.update': admin,
  'user.resetPassword': admin,
  'audit.read': admin,
  'system.read': staff,
  'system.backup': admin,
  'system.configure': admin,
  'template.list': anyone,
  'template.read': either(staff, (_a, r) => r.published === true),
  /** The whole config (settings, hidden VMs, answers, checks, secrets); others get the student view. */
  'template.readConfig': staff,
  'template.export': staff,
  'template.verify': staff,
  'template.create': staff,
  'template.update': either(admin, (a, r) => staff(a, r) && owner(a, r)),
  'template.publish': either(admin, (a, r) => staff(a, r) && owner(a, r)),
  'lab.create': anyone,
  'lab.listAll': staff,
  'lab.read': either(staff, member),
  'lab.operate': either(staff, member),
  'lab.delete': either(staff, owner),
  'lab.manageMembers': either(staff, owner),
  'lab.watchConsole': staff,
  /** Hidden VMs, raw steps, every task's answers and the lab's secret values. */
  'lab.readConfig': staff,
  'task.act': member,
  /** Press "Ask for help" on a lab: its own users. */
  'help.ask': member,
  /** See the help queue, take and resolve requests: whoever may watch the lab (as `lab.watchConsole`). */
  'help.answer': staff,
  'vm.operate': either(staff, (a, r) => member(a, r) && r.controllable !== false),
} satisfies Record<string, Rule>;

export type PolicyAction = keyof typeof rules;

/** Every action the policy knows (so a test can hold each one to an expectation). */
export const policyActions = Object.keys(rules) as PolicyAction[];

/** True when the actor may perform the action on the resource. */
export function can(actor: Actor, action: PolicyAction, resource: Resource = {}): boolean {
  return rules[action](actor, resource);
}

/** Throws 403 unless the actor may perform the action on the resource. */
export function authorize(actor: Actor, action: PolicyAction, resource: Resource = {}): void {
  if (!can(actor, action, resource)) throw forbidden(`Your role (${actor.role}) may not ${action}`);
}
