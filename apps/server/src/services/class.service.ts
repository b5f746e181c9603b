import { randomBytes } from 'node:crypto';
import type { ClassDetail, ClassList, ClassSummary, CreateClassBody, EnrolResult, ListClassesQuery, UpdateClassBody } from '@ctp/contracts';
import { AppError, conflict, notFound } from '../errors.js';
import { authorize, can, type Actor, type Resource } from '../policy/policy.js';
import type { ClassesRepository, ClassListRow, ClassPersonRow, ClassRow, NewStudent } from '../repositories/classes.repository.js';
import type { UsersRepository, UserRow } from '../repositories/users.repository.js';
import { parseRoster, type RosterProblem } from './class-roster.js';
import { hashPassword } from './password.js';

/** True for a PostgreSQL unique-constraint violation. */
function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: string })?.code ?? (error as { cause?: { code?: string } })?.cause?.code;
  return code === '23505';
}

const person = (row: ClassPersonRow) => ({ id: row.id, username: row.username, email: row.email, name: row.displayName });

/** A password for an account an import creates: 16 characters, 96 bits. */
const generatePassword = () => randomBytes(12).toString('base64url');

function invalidRoster(problems: RosterProblem[]): AppError {
  const summary = problems
    .slice(0, 5)
    .map((p) => `line ${p.line}: ${p.message}`)
    .join('; ');
  return new AppError(
    400,
    'invalid_roster',
    `Nothing was imported: ${problems.length} problem${problems.length > 1 ? 's' : ''} (${summary}${problems.length > 5 ? '; …' : ''})`,
    problems.map((p) => ({ line: p.line, ...(p.field ? { field: p.field } : {}), message: p.message })),
  );
}

/** Classes: create, list, co-teach, enrol (by name or roster file), remove students, archive. */
export class ClassService {
  constructor(
    private readonly classes: ClassesRepository,
    private readonly users: UsersRepository,
  ) {}

  async create(actor: Actor, body: CreateClassBody): Promise<ClassDetail> {
    authorize(actor, 'class.create');
    const row = await this.classes.create({ name: body.name.trim(), description: body.description ?? '', createdBy: actor.id });
    return this.detail(row, actor);
  }

  /** Admins: every class; instructors: the classes they teach; students: those they are enrolled in (minimal fields). */
  async list(actor: Actor, query: ListClassesQuery): Promise<ClassList> {
    const includeArchived = query.includeArchived ?? false;
    if (can(actor, 'class.listAll')) return { items: (await this.classes.list({ includeArchived })).map((r) => this.summary(r, true)) };
    if (can(actor, 'class.create'))
      return { items: (await this.classes.list({ teacherId: actor.id, includeArchived })).map((r) => this.summary(r, true)) };
    return { items: (await this.classes.list({ studentId: actor.id, includeArchived })).map((r) => this.summary(r, false)) };
  }

  /** A class: its teachers and students for them; for an enrolled student, only its name and teachers. */
  async get(actor: Actor, id: string): Promise<ClassDetail> {
    const row = await this.readable(actor, id);
    return this.detail(row, actor);
  }

  async update(actor: Actor, id: string, body: UpdateClassBody): Promise<ClassDetail> {
    await this.teachable(actor, id);
    const row = await this.classes.update(id, {
      ...(body.name !== undefined ? { name: body.name.trim() } : {}),
      ...(body.description !== undefined ? { description: body.description } : {}),
      ...(body.archived !== undefined ? { archived: body.archived } : {}),
    });
    if (!row) throw notFound('Class');
    return this.detail(row, actor);
  }

  async addInstructor(actor: Actor, id: string, username: string): Promise<ClassDetail> {
    const row = await this.teachable(actor, id);
    const user = await this.users.findByUsername(username);
    if (!user || user.disabled) throw notFound(`User "${username}"`);
    if (user.role === 'student') throw conflict(`"${user.username}" is a student; only instructors and admins can teach a class`);
    if (!(await this.classes.addInstructor(id, user.id))) throw conflict(`"${user.username}" already teaches this class`);
    return this.detail(row, actor);
  }

  async removeInstructor(actor: Actor, id: string, username: string): Promise<ClassDetail> {
    const row = await this.teachable(actor, id);
    const user = await this.users.findByUsername(username);
    const outcome = user ? await this.classes.removeInstructor(id, user.id) : 'absent';
    if (outcome === 'absent') throw notFound(`Instructor "${username}" of this class`);
    if (outcome === 'last') throw conflict('This is the class’s only instructor; add another one first');
    return this.detail(row, actor);
  }

  /** Enrols existing accounts by username; all or nothing. */
  async enrolUsernames(actor: Actor, id: string, usernames: string[]): Promise<EnrolResult> {
    const row = await this.teachable(actor, id);
    this.refuseArchived(row);
    const found = await this.users.findByUsernames(usernames);
    const problems: RosterProblem[] = [];
    const ids: string[] = [];
    usernames.forEach((name, i) => {
      const user = found.get(name.toLowerCase());
      const problem = user ? this.notEnrollable(user) : 'no such account';
      if (problem) problems.push({ line: i + 1, field: 'usernames', message: `"${name}": ${problem}` });
      else ids.push(user!.id);
    });
    if (problems.length) throw invalidRoster(problems);
    const { newlyEnrolled } = await this.classes.enrol(id, [], ids);
    const byId = new Map([...found.values()].map((u) => [u.id, u]));
    return {
      enrolled: [...new Set(ids)].map((userId) => ({
        username: byId.get(userId)!.username,
        created: false,
        alreadyEnrolled: !newlyEnrolled.has(userId),
      })),
      credentials: [],
    };
  }

  /**
   * Enrols the students of a roster CSV: missing accounts are created (with a generated password,
   * returned once, when the file gives none). Any bad line, and nothing is imported.
   */
  async enrolRoster(actor: Actor, id: string, csv: string): Promise<EnrolResult> {
    const row = await this.teachable(actor, id);
    this.refuseArchived(row);
    const { entries, problems } = parseRoster(csv);
    if (problems.length) throw invalidRoster(problems);
    const existing = await this.users.findByUsernames(entries.map((e) => e.username));
    const emailOwners = await this.users.findByEmails(entries.map((e) => e.email));
    for (const entry of entries) {
      const user = existing.get(entry.username.toLowerCase());
      const owner = emailOwners.get(entry.email.toLowerCase());
      if (user) {
        const problem = this.notEnrollable(user);
        if (problem) problems.push({ line: entry.line, field: 'username', message: `"${entry.username}": ${problem}` });
        else if (user.email && user.email.toLowerCase() !== entry.email.toLowerCase())
          problems.push({ line: entry.line, field: 'email', message: `"${entry.username}" exists with another email address` });
        else if (!user.email && owner)
          problems.push({ line: entry.line, field: 'email', message: `"${entry.email}" belongs to another account ("${owner.username}")` });
      } else if (owner) {
        problems.push({ line: entry.line, field: 'email', message: `"${entry.email}" belongs to another account ("${owner.username}")` });
      }
    }
    if (problems.length) throw invalidRoster(problems);

    const fresh = entries.filter((e) => !existing.has(e.username.toLowerCase()));
    const credentials: { username: string; password: string }[] = [];
    const created: NewStudent[] = await Promise.all(
      fresh.map(async (entry) => {
        const password = entry.password ?? generatePassword();
        if (!entry.password) credentials.push({ username: entry.username, password });
        return { username: entry.username, email: entry.email, displayName: entry.name, passwordHash: await hashPassword(password) };
      }),
    );
    let result: Awaited<ReturnType<ClassesRepository['enrol']>>;
    try {
      result = await this.classes.enrol(
        id,
        created,
        entries.flatMap((e) => existing.get(e.username.toLowerCase())?.id ?? []),
      );
    } catch (error) {
      if (isUniqueViolation(error))
        throw conflict('An account of this file was created meanwhile by someone else; nothing was imported, try again');
      throw error;
    }
    credentials.sort((a, b) => entries.findIndex((e) => e.username === a.username) - entries.findIndex((e) => e.username === b.username));
    return {
      enrolled: entries.map((e) => {
        const userId = existing.get(e.username.toLowerCase())?.id ?? result.createdIds.get(e.username.toLowerCase())!;
        return {
          username: e.username,
          created: !existing.has(e.username.toLowerCase()),
          alreadyEnrolled: !result.newlyEnrolled.has(userId),
        };
      }),
      credentials,
    };
  }

  async removeStudent(actor: Actor, id: string, username: string): Promise<ClassDetail> {
    const row = await this.teachable(actor, id);
    const user = await this.users.findByUsername(username);
    if (!user || !(await this.classes.removeStudent(id, user.id))) throw notFound(`Student "${username}" of this class`);
    return this.detail(row, actor);
  }

  /** The class if the actor may see it (teacher, admin, enrolled student); 404 otherwise. */
  async readable(actor: Actor, id: string): Promise<ClassRow> {
    const row = await this.classes.findById(id);
    if (!row || !can(actor, 'class.read', await this.resourceOf(row, actor))) throw notFound('Class');
    return row;
  }

  /** The class if the actor teaches it (or is an admin): 404 if they cannot even see it, 403 if they only attend it. */
  async teachable(actor: Actor, id: string): Promise<ClassRow> {
    const row = await this.readable(actor, id);
    authorize(actor, 'class.teach', await this.resourceOf(row, actor));
    return row;
  }

  /** What the policy looks at about a class and this actor: do they teach it, are they enrolled. */
  async resourceOf(row: { id: string }, actor: Actor): Promise<Resource> {
    const [teaches, attends] = await Promise.all([this.classes.isInstructor(row.id, actor.id), this.classes.isStudent(row.id, actor.id)]);
    return { teacherIds: teaches ? [actor.id] : [], memberIds: attends ? [actor.id] : [] };
  }

  private refuseArchived(row: ClassRow): void {
    if (row.archived) throw conflict('This class is archived; unarchive it to enrol students');
  }

  private notEnrollable(user: UserRow): string | undefined {
    if (user.disabled) return 'the account is disabled';
    if (user.role !== 'student') return `the account is an ${user.role}, not a student`;
    return undefined;
  }

  private summary(row: ClassListRow, staff: boolean): ClassSummary {
    return {
      id: row.id,
      name: row.name,
      description: row.description,
      archived: row.archived,
      createdAt: row.createdAt.toISOString(),
      instructors: row.instructors,
      ...(staff ? { studentCount: row.studentCount } : {}),
    };
  }

  private async detail(row: ClassRow, actor: Actor): Promise<ClassDetail> {
    const teaching = can(actor, 'class.teach', await this.resourceOf(row, actor));
    const instructors = await this.classes.instructorsOf(row.id);
    return {
      id: row.id,
      name: row.name,
      description: row.description,
      archived: row.archived,
      createdAt: row.createdAt.toISOString(),
      // A student sees who teaches, not their classmates or anyone's address.
      instructors: teaching ? instructors.map(person) : instructors.map((i) => ({ ...person(i), email: null, name: i.displayName })),
      students: teaching ? (await this.classes.studentsOf(row.id)).map(person) : [],
    };
  }
}
