import { describe, expect, it } from 'vitest';
import type { Role } from '@ctp/contracts';
import { AppError } from '../errors.js';
import { authorize, can, PERMISSIONS, permissionsOf, policyActions, type Actor, type PolicyAction, type Resource } from './policy.js';

// Every rule of the policy, for every role, against every kind of relation between the actor and
// the resource. The expectations are written out (not derived), so a change of any rule fails here.

const me = '11111111-1111-4111-8111-111111111111';
const other = '22222222-2222-4222-8222-222222222222';
const third = '33333333-3333-4333-8333-333333333333';

const relations = {
  own: { ownerId: me },
  ownControllable: { ownerId: me, controllable: true },
  ownLocked: { ownerId: me, controllable: false },
  member: { ownerId: other, memberIds: [third, me] },
  memberLocked: { ownerId: other, memberIds: [me], controllable: false },
  stranger: { ownerId: other, memberIds: [third] },
  strangerNoMembers: { ownerId: other },
  strangerUnowned: { ownerId: null, memberIds: [] },
  nothing: {},
  published: { ownerId: other, published: true },
  unpublished: { ownerId: other, published: false },
  strangerControllable: { ownerId: other, memberIds: [third], controllable: true },
  /** A class the actor teaches (or a lab of a student in it). */
  teaching: { ownerId: other, teacherIds: [third, me] },
  /** Taught by someone else. */
  othersClass: { ownerId: other, teacherIds: [third] },
} satisfies Record<string, Resource>;
type Relation = keyof typeof relations;

const ALL = Object.keys(relations) as Relation[];
const NONE: Relation[] = [];
const OWNED: Relation[] = ['own', 'ownControllable', 'ownLocked'];
const IN_LAB: Relation[] = [...OWNED, 'member', 'memberLocked'];

type Expectation = Record<Role, Relation[]>;
const adminOnly: Expectation = { admin: ALL, instructor: NONE, student: NONE };
const staffOnly: Expectation = { admin: ALL, instructor: ALL, student: NONE };
const everyone: Expectation = { admin: ALL, instructor: ALL, student: ALL };

/** Where each role may act, per action. */
const expected: Record<PolicyAction, Expectation> = {
  'user.list': adminOnly,
  'user.read': { admin: ALL, instructor: OWNED, student: OWNED },
  'user.create': adminOnly,
  'user.update': adminOnly,
  'user.resetPassword': adminOnly,
  'audit.read': adminOnly,
  'system.read': staffOnly,
  'image.list': staffOnly,
  'image.create': staffOnly,
  'image.update': staffOnly,
  'image.delete': adminOnly,
  'system.backup': adminOnly,
  'system.configure': adminOnly,
  'host.read': adminOnly,
  'host.manage': adminOnly,
  'template.list': everyone,
  // Instructors read their own templates and published ones, not other authors' drafts.
  'template.read': { admin: ALL, instructor: [...OWNED, 'published'], student: ['published'] },
  'template.listAll': adminOnly,
  'template.readConfig': staffOnly,
  'template.export': staffOnly,
  'template.verify': staffOnly,
  'template.create': staffOnly,
  'template.update': { admin: ALL, instructor: OWNED, student: NONE },
  'template.publish': { admin: ALL, instructor: OWNED, student: NONE },
  'lab.create': everyone,
  // Instructors reach the labs of the students they teach ('teaching'), their own and shared ones; admins all.
  'lab.listAll': adminOnly,
  'lab.listTaught': staffOnly,
  'lab.read': { admin: ALL, instructor: [...IN_LAB, 'teaching'], student: IN_LAB },
  'lab.operate': { admin: ALL, instructor: [...IN_LAB, 'teaching'], student: IN_LAB },
  'lab.delete': { admin: ALL, instructor: [...OWNED, 'teaching'], student: OWNED },
  'lab.manageMembers': { admin: ALL, instructor: [...OWNED, 'teaching'], student: OWNED },
  'lab.watchConsole': { admin: ALL, instructor: ['teaching'], student: NONE },
  'lab.quotaExempt': staffOnly,
  'quota.manage': adminOnly,
  'lab.readConfig': { admin: ALL, instructor: [...IN_LAB, 'teaching'], student: NONE },
  'vm.seeHidden': { admin: ALL, instructor: [...IN_LAB, 'teaching'], student: NONE },
  // Only the lab's own users answer its tasks: staff look, they do not answer for students.
  'task.act': { admin: IN_LAB, instructor: IN_LAB, student: IN_LAB },
  'help.ask': { admin: IN_LAB, instructor: IN_LAB, student: IN_LAB },
  'help.queue': staffOnly,
  'help.answer': { admin: ALL, instructor: ['teaching'], student: NONE },
  'vm.operate': { admin: ALL, instructor: ['own', 'ownControllable', 'member', 'teaching'], student: ['own', 'ownControllable', 'member'] },
  'class.create': staffOnly,
  'class.listAll': adminOnly,
  // Members of a class are its students: they see it; only its teachers (and admins) teach it.
  'class.read': {
    admin: ALL,
    instructor: [...IN_LAB.filter((r) => r.startsWith('member')), 'teaching'],
    student: IN_LAB.filter((r) => r.startsWith('member')),
  },
  'class.teach': { admin: ALL, instructor: ['teaching'], student: NONE },
};

const actor = (role: Role): Actor => ({ id: me, username: `the-${role}`, role });
const roles: Role[] = ['admin', 'instructor', 'student'];

describe('policy', () => {
  it('has an expectation for every action it knows, and knows every expected action', () => {
    expect([...policyActions].sort()).toEqual(Object.keys(expected).sort());
  });

  for (const action of Object.keys(expected) as PolicyAction[]) {
    it(`decides ${action} for every role and relation`, () => {
      const answers = roles.map((role) => ({ role, allowed: ALL.filter((relation) => can(actor(role), action, relations[relation])) }));
      expect(answers).toEqual(roles.map((role) => ({ role, allowed: expected[action][role] })));
    });
  }

  it('treats a missing resource as one nobody owns', () => {
    expect(can(actor('student'), 'lab.create')).toBe(true);
    expect(can(actor('student'), 'user.read')).toBe(false);
    expect(can(actor('admin'), 'user.read')).toBe(true);
    expect(can(actor('student'), 'vm.operate')).toBe(false);
  });

  it('gives each role its named permissions', () => {
    expect(permissionsOf({ role: 'student' })).toEqual([]);
    expect(permissionsOf({ role: 'instructor' }).sort()).toEqual(
      ['class.teach', 'image.upload', 'lab.quotaExempt', 'lab.watch', 'system.read', 'template.author', 'vm.seeHidden'].sort(),
    );
    expect(permissionsOf({ role: 'admin' })).toEqual([...PERMISSIONS]);
    // A role the policy does not know has nothing.
    expect(permissionsOf({ role: 'ghost' as Role })).toEqual([]);
  });

  it('authorizes silently, or refuses with a 403 that names the role and the action', () => {
    expect(() => authorize(actor('instructor'), 'template.create')).not.toThrow();
    expect(() => authorize(actor('student'), 'lab.read', relations.member)).not.toThrow();
    let error: unknown;
    try {
      authorize(actor('student'), 'audit.read');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ status: 403, code: 'forbidden', message: 'Your role (student) may not audit.read' });
  });
});
