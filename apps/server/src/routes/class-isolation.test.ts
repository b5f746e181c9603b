import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeLab } from '../test-support/lab-helpers.js';
import { createTestApp, signedIn, teach, type TestContext } from '../test-support/test-app.js';

type Session = Awaited<ReturnType<typeof signedIn>>;

// Two instructors, two classes: each instructor reaches the students, labs, tasks, secrets,
// consoles and events of their own class only; admins reach all.
describe('instructors see only their own classes', () => {
  let ctx: TestContext;
  let alice: Session;
  let bob: Session;
  let admin: Session;
  let sam: Session;
  let tina: Session;
  const labOf: Record<string, { labId: string; vmId: string }> = {};

  beforeAll(async () => {
    ctx = await createTestApp({}, { background: true });
    alice = await signedIn(ctx, 'instructor');
    bob = await signedIn(ctx, 'instructor');
    admin = await signedIn(ctx, 'admin');
    sam = await signedIn(ctx, 'student');
    tina = await signedIn(ctx, 'student');
    await teach(ctx, alice.user.id, [sam.user.id], 'Alice’s class');
    await teach(ctx, bob.user.id, [tina.user.id], 'Bob’s class');
    for (const [name, who] of [
      ['sam', sam],
      ['tina', tina],
      ['alice', alice],
    ] as const) {
      const { lab, vm } = await makeLab(ctx, who.user.id);
      labOf[name] = { labId: lab.id, vmId: vm.id };
    }
  });
  afterAll(() => ctx.close());

  const status = async (who: Session, url: string, method: 'GET' | 'POST' = 'GET', payload?: object) =>
    (await ctx.app.inject({ method, url, headers: who.headers, ...(payload ? { payload } : {}) })).statusCode;

  it('lists only the labs of their own students (and their own) with all=true; admins list all', async () => {
    const ids = async (who: Session) =>
      ((await ctx.app.inject({ url: '/api/v1/labs?all=true', headers: who.headers })).json().items as { id: string }[])
        .map((l) => l.id)
        .sort();
    expect(await ids(alice)).toEqual([labOf.sam!.labId, labOf.alice!.labId].sort());
    expect(await ids(bob)).toEqual([labOf.tina!.labId]);
    expect(await ids(admin)).toEqual(
      Object.values(labOf)
        .map((l) => l.labId)
        .sort(),
    );
    // Asking for a student of another class by owner gives nothing, not their labs.
    const byOwner = await ctx.app.inject({ url: `/api/v1/labs?all=true&ownerId=${tina.user.id}`, headers: alice.headers });
    expect(byOwner.json().items).toEqual([]);
    expect(await status(sam, '/api/v1/labs?all=true')).toBe(403);
  });

  it('reads and acts on their own students’ labs, tasks, secrets and consoles; 404 across classes', async () => {
    for (const [who, mine, theirs] of [
      [alice, labOf.sam!, labOf.tina!],
      [bob, labOf.tina!, labOf.sam!],
    ] as const) {
      expect(await status(who, `/api/v1/labs/${mine.labId}`)).toBe(200);
      expect(await status(who, `/api/v1/labs/${theirs.labId}`)).toBe(404);
      expect(await status(who, `/api/v1/labs/${mine.labId}/tasks`)).toBe(200);
      expect(await status(who, `/api/v1/labs/${theirs.labId}/tasks`)).toBe(404);
      expect(await status(who, `/api/v1/labs/${mine.labId}/secrets`)).toBe(200);
      expect(await status(who, `/api/v1/labs/${theirs.labId}/secrets`)).toBe(404);
      expect(await status(who, `/api/v1/labs/${mine.labId}/task-activity`)).toBe(200);
      expect(await status(who, `/api/v1/labs/${theirs.labId}/task-activity`)).toBe(404);
      expect(await status(who, `/api/v1/vms/${mine.vmId}/console-tickets`, 'POST', { kind: 'serial' })).toBe(201);
      expect(await status(who, `/api/v1/vms/${theirs.vmId}/console-tickets`, 'POST', { kind: 'serial' })).toBe(404);
      expect(await status(who, `/api/v1/labs/${theirs.labId}/extend`, 'POST', { minutes: 5 })).toBe(404);
      expect(await status(who, `/api/v1/labs/${mine.labId}/extend`, 'POST', { minutes: 5 })).toBe(200);
    }
    // An instructor's own lab is theirs; the other instructor does not see it.
    expect(await status(alice, `/api/v1/labs/${labOf.alice!.labId}`)).toBe(200);
    expect(await status(bob, `/api/v1/labs/${labOf.alice!.labId}`)).toBe(404);
    expect(await status(admin, `/api/v1/labs/${labOf.tina!.labId}/secrets`)).toBe(200);
  });

  it('replays only the events of their own students’ labs', async () => {
    for (const [name, ids] of Object.entries(labOf))
      await ctx.services.eventBus.publish(
        ids.labId,
        'lab.status',
        { status: 'running', marker: name },
        { ownerId: name === 'sam' ? sam.user.id : name === 'tina' ? tina.user.id : alice.user.id, memberIds: [] },
      );
    const labsSeen = async (who: Session) =>
      [
        ...new Set(
          (
            (await ctx.app.inject({ url: '/api/v1/events?since=0&limit=1000', headers: who.headers })).json().items as { labId: string }[]
          ).map((e) => e.labId),
        ),
      ].sort();
    expect(await labsSeen(alice)).toEqual([labOf.sam!.labId, labOf.alice!.labId].sort());
    expect(await labsSeen(bob)).toEqual([labOf.tina!.labId]);
    expect(await labsSeen(admin)).toEqual(
      Object.values(labOf)
        .map((l) => l.labId)
        .sort(),
    );
  });

  it('sees each class’s roster only as its instructor', async () => {
    const classes = (await ctx.app.inject({ url: '/api/v1/classes', headers: alice.headers })).json().items as { id: string }[];
    expect(classes).toHaveLength(1);
    const detail = (await ctx.app.inject({ url: `/api/v1/classes/${classes[0]!.id}`, headers: alice.headers })).json();
    expect(detail.students.map((s: { username: string }) => s.username)).toEqual([sam.user.username]);
    expect(await status(bob, `/api/v1/classes/${classes[0]!.id}`)).toBe(404);
  });

  it('stops watching a student once the class is archived', async () => {
    const [own] = (await ctx.app.inject({ url: '/api/v1/classes', headers: bob.headers })).json().items as { id: string }[];
    await ctx.app.inject({ method: 'PATCH', url: `/api/v1/classes/${own!.id}`, headers: bob.headers, payload: { archived: true } });
    expect(await status(bob, `/api/v1/labs/${labOf.tina!.labId}`)).toBe(404);
    await ctx.app.inject({ method: 'PATCH', url: `/api/v1/classes/${own!.id}`, headers: bob.headers, payload: { archived: false } });
    expect(await status(bob, `/api/v1/labs/${labOf.tina!.labId}`)).toBe(200);
  });

  it('tells the web app the signed-in user’s permissions', async () => {
    const me = async (who: Session) =>
      (await ctx.app.inject({ url: '/api/v1/auth/me', headers: who.headers })).json().permissions as string[];
    expect(await me(sam)).toEqual([]);
    expect(await me(alice)).toEqual(expect.arrayContaining(['class.teach', 'lab.watch', 'vm.seeHidden', 'lab.quotaExempt']));
    expect(await me(alice)).not.toContain('lab.manageAll');
    expect(await me(admin)).toEqual(expect.arrayContaining(['lab.manageAll', 'user.manage', 'class.manageAll']));
  });
});
