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
  /** Instructors who teach it: a class's instructors, or those teaching a lab's owner in a class. */
  teacherIds?: readonly string[];
  /** Students may act on it (a VM's `studentControl`). */
  controllable?: boolean;
}

/**
 * Named permissions: what a role may do in general. Rules below combine them with the actor's
 * relation to the resource (owner, member, teacher); the web app gets the list (GET /auth/me).
 */
export const PERMISSIONS = [
  /** Manage user accounts. */
  'user.manage',
  'audit.read',
  /** Host, capacity and platform statistics. */
  'system.read',
  'system.backup',
  /** List the image library, upload images and edit their metadata. */
  'image.upload',
  /** Delete library images. */
  'image.delete',
  /** Platform settings (admission control's overcommit ratios). */
  'system.configure',
  /** See hypervisor hosts: capacity, use, state, heartbeats; a lab's host. */
  'host.read',
  /** Drain and undrain hypervisor hosts. */
  'host.manage',
  /** Write templates and read their whole config (answers, checks, hidden VMs). */
  'template.author',
  /** Change and publish any author's templates. */
  'template.manageAll',
  /** Create classes and teach those one is an instructor of. */
  'class.teach',
  /** See and teach every class. */
  'class.manageAll',
  /** See and act on the labs, consoles, tasks and answers of the students one teaches. */
  'lab.watch',
  /** See and act on every lab. */
  'lab.manageAll',
  /** Set quotas (labs, vCPUs, memory) per role, user and class. */
  'quota.manage',
  /** The default concurrent-lab limit (no quota row) is ten times higher. */
  'lab.quotaExempt',
  /** See hidden VMs, raw steps, answers and secret values of the labs one may watch (or is in). */
  'vm.seeHidden',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  admin: PERMISSIONS,
  instructor: ['system.read', 'image.upload', 'template.author', 'class.teach', 'lab.watch', 'lab.quotaExempt', 'vm.seeHidden'],
  student: [],
};

/** The named permissions of a user (by role). */
export function permissionsOf(actor: Pick<Actor, 'role'>): Permission[] {
  return [...(ROLE_PERMISSIONS[actor.role] ?? [])];
}

type Rule = (actor: Actor, resource: Resource) => boolean;

const has =
  (permission: Permission): Rule =>
  (a) =>
    (ROLE_PERMISSIONS[a.role] ?? []).includes(permission);
const anyone: Rule = () => true;
const owner: Rule = (a, r) => r.ownerId === a.id;
const member: Rule = (a, r) => r.ownerId === a.id || (r.memberIds ?? []).includes(a.id);
/** A class's students are its members. */
const enrolled: Rule = (a, r) => (r.memberIds ?? []).includes(a.id);
const teacher: Rule = (a, r) => (r.teacherIds ?? []).includes(a.id);
const either =
  (...rules: Rule[]): Rule =>
  (a, r) =>
    rules.some((rule) => rule(a, r));
const both =
  (...rules: Rule[]): Rule =>
  (a, r) =>
    rules.every((rule) => rule(a, r));

/** Every lab for admins; for instructors the labs of the students they teach. */
const watcher = either(has('lab.manageAll'), both(has('lab.watch'), teacher));
const teaches = either(has('class.manageAll'), both(has('class.teach'), teacher));

/**
 * The one table that answers "may this user do this to that". Every service asks here;
 * nothing else decides access. Permissions give breadth, ownership, membership and teaching give reach.
 */
const rules = {
  'user.list': has('user.manage'),
  'user.read': either(has('user.manage'), owner),
  'user.create': has('user.manage'),
  'user.update': has('user.manage'),
  'user.resetPassword': has('user.manage'),
  'audit.read': has('audit.read'),
  'system.read': has('system.read'),
  'system.backup': has('system.backup'),
  'image.list': has('image.upload'),
  'image.create': has('image.upload'),
  'image.update': has('image.upload'),
  'image.delete': has('image.delete'),
  'system.configure': has('system.configure'),
  'host.read': has('host.read'),
  'host.manage': has('host.manage'),
  'template.list': anyone,
  /** Authors read their own drafts and every published template; admins every template. */
  'template.read': either(has('template.manageAll'), both(has('template.author'), owner), (_a, r) => r.published === true),
  /** The template list holds other authors' drafts too. */
  'template.listAll': has('template.manageAll'),
  /** The whole config (settings, hidden VMs, answers, checks, secrets); others get the student view. */
  'template.readConfig': has('template.author'),
  'template.export': has('template.author'),
  /** Pre-class verification: runs a template's reference solutions in a fresh lab. */
  'template.verify': has('template.author'),
  'template.create': has('template.author'),
  'template.update': either(has('template.manageAll'), both(has('template.author'), owner)),
  'template.publish': either(has('template.manageAll'), both(has('template.author'), owner)),
  'lab.create': anyone,
  /** Every lab on the platform, whoever owns it. */
  'lab.listAll': has('lab.manageAll'),
  /** Labs of the students one teaches (`GET /labs?all=true` for instructors; admins hold `lab.watch` too). */
  'lab.listTaught': has('lab.watch'),
  'lab.read': either(watcher, member),
  'lab.operate': either(watcher, member),
  'lab.delete': either(watcher, owner),
  'lab.manageMembers': either(watcher, owner),
  'lab.watchConsole': watcher,
  'lab.quotaExempt': has('lab.quotaExempt'),
  'quota.manage': has('quota.manage'),
  /** Hidden VMs, raw steps, every task's answers and the lab's secret values. */
  'lab.readConfig': either(has('lab.manageAll'), both(has('vm.seeHidden'), either(teacher, member))),
  'vm.seeHidden': either(has('lab.manageAll'), both(has('vm.seeHidden'), either(teacher, member))),
  'task.act': member,
  /** Press "Ask for help" on a lab: its own users. */
  'help.ask': member,
  /** See the help queue (of the labs one may watch). */
  'help.queue': has('lab.watch'),
  /** Take and resolve a lab's help request: whoever may watch the lab. */
  'help.answer': watcher,
  'vm.operate': either(watcher, (a, r) => member(a, r) && r.controllable !== false),
  'class.create': has('class.teach'),
  'class.listAll': has('class.manageAll'),
  /** Teachers and admins; an enrolled student (a member) sees its name and teachers. */
  'class.read': either(teaches, enrolled),
  /** Enrol, co-teach, archive, assign, provision, grade. */
  'class.teach': teaches,
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
