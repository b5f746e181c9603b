import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, createUser, login, signedIn, type TestContext } from '../test-support/test-app.js';

type Session = Awaited<ReturnType<typeof signedIn>>;

describe('classes', () => {
  let ctx: TestContext;
  let alice: Session;
  let bob: Session;
  const post = (who: Session, url: string, payload?: object) =>
    ctx.app.inject({ method: 'POST', url, headers: who.headers, ...(payload ? { payload } : {}) });
  const get = (who: Session, url: string) => ctx.app.inject({ method: 'GET', url, headers: who.headers });
  const csv = (who: Session, classId: string, text: string) =>
    ctx.app.inject({
      method: 'POST',
      url: `/api/v1/classes/${classId}/students`,
      headers: { ...who.headers, 'content-type': 'text/csv' },
      payload: text,
    });
  const newClass = async (who: Session, name: string) => {
    const response = await post(who, '/api/v1/classes', { name, description: `${name} description` });
    expect(response.statusCode, response.body).toBe(201);
    return response.json() as { id: string; name: string };
  };

  beforeEach(async () => {
    ctx = await createTestApp();
    alice = await signedIn(ctx, 'instructor');
    bob = await signedIn(ctx, 'instructor');
  });
  afterEach(() => ctx.close());

  it('each instructor sees and manages only the classes they teach; admins see all; students only theirs', async () => {
    const a = await newClass(alice, 'Network security');
    const b = await newClass(bob, 'Forensics');
    const student = await signedIn(ctx, 'student');
    const admin = await signedIn(ctx, 'admin');
    expect((await post(alice, `/api/v1/classes/${a.id}/students`, { usernames: [student.user.username] })).statusCode).toBe(200);

    const names = async (who: Session) => ((await get(who, '/api/v1/classes')).json().items as { name: string }[]).map((c) => c.name);
    expect(await names(alice)).toEqual(['Network security']);
    expect(await names(bob)).toEqual(['Forensics']);
    expect(await names(admin)).toEqual(['Forensics', 'Network security']);
    expect(await names(student)).toEqual(['Network security']);
    // A student's list gives no head count; their view of the class no classmates.
    expect((await get(student, '/api/v1/classes')).json().items[0]).not.toHaveProperty('studentCount');
    const seen = (await get(student, `/api/v1/classes/${a.id}`)).json();
    expect(seen.students).toEqual([]);
    expect(seen.instructors.map((i: { username: string }) => i.username)).toEqual([alice.user.username]);

    // Across classes: unseen (404); an enrolled student may look but not teach (403).
    expect((await get(bob, `/api/v1/classes/${a.id}`)).statusCode).toBe(404);
    expect((await post(bob, `/api/v1/classes/${a.id}/students`, { usernames: [student.user.username] })).statusCode).toBe(404);
    expect((await post(student, `/api/v1/classes/${a.id}/instructors`, { username: student.user.username })).statusCode).toBe(403);
    expect((await get(student, `/api/v1/classes/${b.id}`)).statusCode).toBe(404);
    expect((await post(student, '/api/v1/classes', { name: 'Mine' })).statusCode).toBe(403);
    expect((await get(admin, `/api/v1/classes/${b.id}`)).json().instructors[0].username).toBe(bob.user.username);
    // Alice's class detail lists her student with the staff fields.
    expect((await get(alice, `/api/v1/classes/${a.id}`)).json().students.map((s: { username: string }) => s.username)).toEqual([
      student.user.username,
    ]);
  });

  it('co-teachers: added by username, then teach the class; the last instructor cannot be removed', async () => {
    const a = await newClass(alice, 'Pentest');
    const student = await createUser(ctx, 'student');
    expect((await post(alice, `/api/v1/classes/${a.id}/instructors`, { username: student.username })).statusCode).toBe(409);
    expect((await post(alice, `/api/v1/classes/${a.id}/instructors`, { username: 'nobody-here' })).statusCode).toBe(404);
    const added = await post(alice, `/api/v1/classes/${a.id}/instructors`, { username: bob.user.username });
    expect(added.statusCode, added.body).toBe(200);
    expect(
      added
        .json()
        .instructors.map((i: { username: string }) => i.username)
        .sort(),
    ).toEqual([alice.user.username, bob.user.username].sort());
    expect((await get(bob, `/api/v1/classes/${a.id}`)).statusCode).toBe(200);
    expect((await post(bob, `/api/v1/classes/${a.id}/students`, { usernames: [student.username] })).statusCode).toBe(200);

    const remove = (who: Session, username: string) =>
      ctx.app.inject({ method: 'DELETE', url: `/api/v1/classes/${a.id}/instructors/${username}`, headers: who.headers });
    expect((await remove(bob, alice.user.username)).statusCode).toBe(200);
    const last = await remove(bob, bob.user.username);
    expect(last.statusCode).toBe(409);
    expect(last.json().error.message).toMatch(/only instructor/);
    expect((await get(alice, `/api/v1/classes/${a.id}`)).statusCode).toBe(404);
  });

  it('imports a roster CSV: new accounts created (generated passwords returned once, and they sign in), existing ones enrolled', async () => {
    const a = await newClass(alice, 'Intro');
    const existing = await createUser(ctx, 'student', 'carol');
    const roster = [
      'username,email,name,password',
      'dave,dave@example.edu,Dave Jones,',
      '"erin",erin@example.edu,"Erin, the second",her own passphrase',
      `carol,carol@example.edu,Carol,`,
      '',
    ].join('\r\n');
    const response = await csv(alice, a.id, roster);
    expect(response.statusCode, response.body).toBe(200);
    const result = response.json();
    expect(result.enrolled).toEqual([
      { username: 'dave', created: true, alreadyEnrolled: false },
      { username: 'erin', created: true, alreadyEnrolled: false },
      { username: 'carol', created: false, alreadyEnrolled: false },
    ]);
    // Only the account whose file gave no password gets one back.
    expect(result.credentials.map((c: { username: string }) => c.username)).toEqual(['dave']);
    const davePassword = result.credentials[0].password as string;
    expect(davePassword.length).toBeGreaterThanOrEqual(16);
    await login(ctx, 'dave', davePassword);
    await login(ctx, 'erin', 'her own passphrase');
    await login(ctx, 'carol', existing.password);

    const detail = (await get(alice, `/api/v1/classes/${a.id}`)).json();
    expect(detail.students).toEqual([
      expect.objectContaining({ username: 'carol' }),
      expect.objectContaining({ username: 'dave', email: 'dave@example.edu', name: 'Dave Jones' }),
      expect.objectContaining({ username: 'erin', name: 'Erin, the second' }),
    ]);
    // Importing again enrols nobody twice and creates nothing.
    const again = (await csv(alice, a.id, 'username,email\ndave,dave@example.edu\n')).json();
    expect(again).toEqual({ enrolled: [{ username: 'dave', created: false, alreadyEnrolled: true }], credentials: [] });

    // The audit trail names who was created, never a password.
    const audit = await ctx.services.repositories.audit.list({ limit: 50, offset: 0, action: 'class.enrol' });
    const events = audit.rows.filter((e) => e.outcome === 'success');
    expect(events[events.length - 1]?.details).toMatchObject({ source: 'csv', created: ['dave', 'erin'] });
    expect(JSON.stringify(audit.rows)).not.toContain(davePassword);
  });

  it('a roster with a bad line imports nothing and lists every problem with its line', async () => {
    const a = await newClass(alice, 'Intro');
    await createUser(ctx, 'student', 'frank');
    await ctx.services.repositories.users.insert({ username: 'gina', email: 'gina@example.edu', role: 'student', passwordHash: 'x' });
    const roster = [
      'username,email',
      'harry,harry@example.edu',
      'bad name!,x@example.edu',
      'ivan,not-an-email',
      'harry,harry2@example.edu',
      `${alice.user.username},a@example.edu`,
      'jack,gina@example.edu',
    ].join('\n');
    const response = await csv(alice, a.id, roster);
    expect(response.statusCode, response.body).toBe(400);
    const error = response.json().error;
    expect(error.code).toBe('invalid_roster');
    expect(error.message).toMatch(/^Nothing was imported/);
    expect(error.details.map((d: { line: number }) => d.line)).toEqual([3, 4, 5]);
    // Fixing the format shows the next layer: accounts that cannot be enrolled.
    const second = await csv(
      alice,
      a.id,
      ['username,email', 'harry,harry@example.edu', `${alice.user.username},a@example.edu`, 'jack,gina@example.edu'].join('\n'),
    );
    expect(second.statusCode).toBe(400);
    expect(second.json().error.details).toEqual([
      expect.objectContaining({ line: 3, message: expect.stringMatching(/instructor, not a student/) }),
      expect.objectContaining({ line: 4, message: expect.stringMatching(/belongs to another account/) }),
    ]);
    expect(await ctx.services.repositories.users.findByUsername('harry')).toBeUndefined();
    expect((await get(alice, `/api/v1/classes/${a.id}`)).json().students).toEqual([]);

    for (const [text, pattern] of [
      ['', /empty/],
      ['user,mail\nx,y@z.org', /no "username" column/],
      ['username,email,role\nx,y@z.org,admin', /unknown column "role"/],
      ['username,email\n"unterminated,y@z.org', /not valid CSV/],
      ['username,email', /no student lines/],
    ] as const) {
      const refused = await csv(alice, a.id, text);
      expect(refused.statusCode, text).toBe(400);
      expect(refused.json().error.message, text).toMatch(pattern);
    }
  });

  it('enrols by username (all or nothing), removes students, archives', async () => {
    const a = await newClass(alice, 'Intro');
    const s1 = await createUser(ctx, 'student');
    const s2 = await createUser(ctx, 'student');
    const bad = await post(alice, `/api/v1/classes/${a.id}/students`, { usernames: [s1.username, 'ghost'] });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.details[0]).toMatchObject({ line: 2, message: '"ghost": no such account' });
    expect((await get(alice, `/api/v1/classes/${a.id}`)).json().students).toEqual([]);
    expect((await post(alice, `/api/v1/classes/${a.id}/students`, { usernames: [s1.username, s2.username] })).statusCode).toBe(200);

    const removed = await ctx.app.inject({
      method: 'DELETE',
      url: `/api/v1/classes/${a.id}/students/${s1.username}`,
      headers: alice.headers,
    });
    expect(removed.statusCode).toBe(200);
    expect(removed.json().students.map((s: { username: string }) => s.username)).toEqual([s2.username]);
    expect(
      (await ctx.app.inject({ method: 'DELETE', url: `/api/v1/classes/${a.id}/students/${s1.username}`, headers: alice.headers }))
        .statusCode,
    ).toBe(404);

    const archived = await ctx.app.inject({
      method: 'PATCH',
      url: `/api/v1/classes/${a.id}`,
      headers: alice.headers,
      payload: { archived: true },
    });
    expect(archived.json().archived).toBe(true);
    expect((await get(alice, '/api/v1/classes')).json().items).toEqual([]);
    expect((await get(alice, '/api/v1/classes?includeArchived=true')).json().items).toHaveLength(1);
    const refused = await post(alice, `/api/v1/classes/${a.id}/students`, { usernames: [s1.username] });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.message).toMatch(/archived/);

    const actions = (await ctx.services.repositories.audit.list({ limit: 100, offset: 0 })).rows.map((e) => `${e.action}:${e.outcome}`);
    expect(actions).toEqual(
      expect.arrayContaining([
        'class.create:success',
        'class.enrol:failure',
        'class.enrol:success',
        'class.remove_student:success',
        'class.update:success',
      ]),
    );
  });

  it('refuses bad input with a reason, never a 500', async () => {
    const a = await newClass(alice, 'Intro');
    expect((await post(alice, '/api/v1/classes', { name: '' })).statusCode).toBe(400);
    expect((await post(alice, '/api/v1/classes', { name: 'x', extra: 1 })).statusCode).toBe(400);
    expect((await post(alice, `/api/v1/classes/${a.id}/students`, { usernames: [] })).statusCode).toBe(400);
    expect((await post(alice, `/api/v1/classes/${a.id}/students`, { csv: 'username,email\nxy,y@z.org' })).statusCode).toBe(200);
    const wrongType = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/classes/${a.id}/students`,
      headers: { ...alice.headers, 'content-type': 'application/xml' },
      payload: '<x/>',
    });
    expect(wrongType.statusCode).toBe(415);
    expect((await get(alice, '/api/v1/classes/not-a-uuid')).statusCode).toBe(400);
    expect(
      (await ctx.app.inject({ method: 'PATCH', url: `/api/v1/classes/${a.id}`, headers: alice.headers, payload: {} })).statusCode,
    ).toBe(400);
  });
});
