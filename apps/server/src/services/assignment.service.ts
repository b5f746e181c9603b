import type {
  Assignment,
  AssignmentList,
  AssignmentState,
  CreateAssignmentBody,
  ProvisionResult,
  Role,
  Scoreboard,
  UpdateAssignmentBody,
} from '@ctp/contracts';
import { AppError, badRequest, conflict, forbidden, notFound } from '../errors.js';
import { can, type Actor } from '../policy/policy.js';
import type { AssignmentLabRow, AssignmentsRepository, AssignmentWithNames } from '../repositories/assignments.repository.js';
import type { LabsRepository } from '../repositories/labs.repository.js';
import type { TemplatesRepository } from '../repositories/templates.repository.js';
import type { UsersRepository } from '../repositories/users.repository.js';
import type { ClassService } from './class.service.js';
import { gradeSheet } from './grade-sheet.js';
import type { LabService } from './lab.service.js';
import type { TaskService } from './task.service.js';
import type { TemplateService } from './template.service.js';

const stateOf = (a: { opensAt: Date; closesAt: Date }, now = Date.now()): AssignmentState =>
  now < a.opensAt.getTime() ? 'upcoming' : now < a.closesAt.getTime() ? 'open' : 'closed';

function present(row: AssignmentWithNames, lab: AssignmentLabRow | undefined = undefined): Assignment {
  return {
    id: row.id,
    classId: row.classId,
    className: row.className,
    templateId: row.templateId,
    title: row.title,
    opensAt: row.opensAt.toISOString(),
    closesAt: row.closesAt.toISOString(),
    labLifetimeMinutes: row.labLifetimeMinutes,
    scoreboard: row.scoreboard,
    state: stateOf(row),
    createdAt: row.createdAt.toISOString(),
    lab: lab
      ? { id: lab.id, status: lab.status as NonNullable<Assignment['lab']>['status'], expiresAt: lab.expiresAt?.toISOString() ?? null }
      : null,
  };
}

function checkWindow(opensAt: Date, closesAt: Date): void {
  if (closesAt.getTime() <= opensAt.getTime())
    throw badRequest('closesAt must be after opensAt', [{ field: 'body.closesAt', message: 'must be after opensAt' }]);
}

/** Assignments: a template given to a class for a window; students start their lab from it; provisioning, grades, scoreboard. */
export class AssignmentService {
  constructor(
    private readonly assignments: AssignmentsRepository,
    private readonly classes: ClassService,
    private readonly templates: TemplateService,
    private readonly templateRows: TemplatesRepository,
    private readonly labs: LabService,
    private readonly labRows: LabsRepository,
    private readonly tasks: TaskService,
    private readonly users: UsersRepository,
  ) {}

  async create(actor: Actor, classId: string, body: CreateAssignmentBody): Promise<Assignment> {
    const klass = await this.classes.teachable(actor, classId);
    if (klass.archived) throw conflict('This class is archived; unarchive it to give it assignments');
    const opensAt = new Date(body.opensAt);
    const closesAt = new Date(body.closesAt);
    checkWindow(opensAt, closesAt);
    if (closesAt.getTime() <= Date.now())
      throw badRequest('closesAt is in the past', [{ field: 'body.closesAt', message: 'must be in the future' }]);
    const template = await this.templates.readable(actor, body.templateId);
    if (template.status === 'archived') throw conflict('This template is archived; choose another one');
    const row = await this.assignments.create({
      classId,
      templateId: template.id,
      opensAt,
      closesAt,
      labLifetimeMinutes: body.labLifetimeMinutes,
      scoreboard: body.scoreboard ?? false,
      createdBy: actor.id,
    });
    return present((await this.assignments.findById(row.id))!);
  }

  /** A class's assignments; an enrolled student sees their own lab in each. */
  async listOfClass(actor: Actor, classId: string): Promise<AssignmentList> {
    await this.classes.readable(actor, classId);
    const rows = await this.assignments.ofClass(classId);
    return { items: await Promise.all(rows.map(async (row) => present(row, await this.assignments.labOf(row.id, actor.id)))) };
  }

  /** The signed-in user's assignments: a student's from their classes (with their lab), a teacher's from the classes they teach. */
  async listMine(actor: Actor): Promise<AssignmentList> {
    const rows = can(actor, 'class.listAll')
      ? await this.assignments.ofTeacher(undefined)
      : can(actor, 'class.create')
        ? await this.assignments.ofTeacher(actor.id)
        : await this.assignments.ofStudent(actor.id);
    return { items: await Promise.all(rows.map(async (row) => present(row, await this.assignments.labOf(row.id, actor.id)))) };
  }

  async get(actor: Actor, id: string): Promise<Assignment> {
    const row = await this.readable(actor, id);
    return present(row, await this.assignments.labOf(row.id, actor.id));
  }

  async update(actor: Actor, id: string, body: UpdateAssignmentBody): Promise<Assignment> {
    const row = await this.teachable(actor, id);
    const opensAt = body.opensAt ? new Date(body.opensAt) : row.opensAt;
    const closesAt = body.closesAt ? new Date(body.closesAt) : row.closesAt;
    checkWindow(opensAt, closesAt);
    await this.assignments.update(id, {
      opensAt,
      closesAt,
      ...(body.labLifetimeMinutes !== undefined ? { labLifetimeMinutes: body.labLifetimeMinutes } : {}),
      ...(body.scoreboard !== undefined ? { scoreboard: body.scoreboard } : {}),
    });
    // An earlier close ends the labs earlier too (the expiry job ends them).
    if (closesAt.getTime() < row.closesAt.getTime()) await this.assignments.capLabExpiry(id, closesAt);
    return present((await this.assignments.findById(id))!);
  }

  /** An enrolled student starts their one lab of the assignment while it is open (202: provisioning is a job). */
  async startLab(actor: Actor, id: string) {
    const row = await this.readable(actor, id);
    const resource = await this.classes.resourceOf({ id: row.classId }, actor);
    if (!(resource.memberIds ?? []).includes(actor.id))
      throw forbidden('Only students enrolled in the class start labs of its assignments');
    this.refuseOutsideWindow(row);
    if (row.classArchived) throw conflict('This class is archived');
    if (await this.assignments.labOf(id, actor.id)) throw conflict('You already have a lab for this assignment');
    const template = await this.templateRows.findById(row.templateId);
    if (!template) throw notFound('Template');
    return this.labs.createFromTemplate(actor, template, { id: row.id, lifetimeMinutes: row.labLifetimeMinutes, closesAt: row.closesAt });
  }

  /** Creates a lab (as a provisioning job) for every enrolled student who has none; says who was skipped and why. */
  async provision(actor: Actor, id: string): Promise<ProvisionResult> {
    const row = await this.teachable(actor, id);
    if (stateOf(row) === 'closed') throw new AppError(409, 'assignment_closed', `The assignment closed at ${row.closesAt.toISOString()}`);
    if (row.classArchived) throw conflict('This class is archived');
    const template = await this.templateRows.findById(row.templateId);
    if (!template) throw notFound('Template');
    const students = await this.assignments.studentsOf(row.classId);
    const haveLab = new Set((await this.assignments.labsOf(id)).map((l) => l.userId));
    const result: ProvisionResult = { created: [], skipped: [] };
    for (const student of students) {
      if (haveLab.has(student.id)) {
        result.skipped.push({ username: student.username, reason: 'already has a lab for this assignment' });
        continue;
      }
      const user = await this.users.findById(student.id);
      if (!user || user.disabled) {
        result.skipped.push({ username: student.username, reason: 'the account is disabled' });
        continue;
      }
      const owner: Actor = { id: user.id, username: user.username, role: user.role as Role };
      try {
        const assignment = { id: row.id, lifetimeMinutes: row.labLifetimeMinutes, closesAt: row.closesAt };
        // A student over a quota is skipped with the quota's message; the others still get their lab.
        const lab = await this.labs.createFromTemplate(owner, template, assignment, actor);
        result.created.push({ username: user.username, labId: lab.id });
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        result.skipped.push({ username: user.username, reason: error.message });
      }
    }
    return result;
  }

  /** The grade sheet (CSV): one line per enrolled student, points per task, total, times. */
  async gradesCsv(actor: Actor, id: string): Promise<{ filename: string; csv: string }> {
    const row = await this.teachable(actor, id);
    const students = await this.assignments.studentsOf(row.classId);
    const template = await this.templateRows.findById(row.templateId);
    const taskDefs = ((template?.config as { tasks?: { id: string; points?: number }[] } | undefined)?.tasks ?? []).map((t) => ({
      id: t.id,
      points: t.points ?? 0,
    }));
    const scores = await this.latestScores(id);
    const csv = gradeSheet(taskDefs, students, scores);
    const safeName =
      `${row.className}-${row.title}`
        .replace(/[^A-Za-z0-9._-]+/g, '-')
        .replace(/^-+|-+$/g, '')
        .slice(0, 80) || 'grades';
    return { filename: `${safeName}-grades.csv`, csv };
  }

  /** Everyone's score: for the class's teachers always, for its students when the instructor turned it on. */
  async scoreboard(actor: Actor, id: string): Promise<Scoreboard> {
    const row = await this.readable(actor, id);
    const teaching = can(actor, 'class.teach', await this.classes.resourceOf({ id: row.classId }, actor));
    if (!teaching && !row.scoreboard) throw forbidden('The instructor has not turned on the scoreboard of this assignment');
    const students = await this.assignments.studentsOf(row.classId);
    const scores = await this.latestScores(id);
    const template = await this.templateRows.findById(row.templateId);
    const maxScore = ((template?.config as { tasks?: { points?: number }[] } | undefined)?.tasks ?? []).reduce(
      (n, t) => n + (t.points ?? 0),
      0,
    );
    const lines = students
      .map((s) => {
        const score = scores.get(s.id);
        return { username: s.username, score: score?.score ?? 0, solved: score?.tasks.filter((t) => t.state === 'solved').length ?? 0 };
      })
      .sort((a, b) => b.score - a.score || b.solved - a.solved || a.username.localeCompare(b.username));
    let rank = 0;
    return {
      maxScore,
      items: lines.map((line, i) => {
        if (i === 0 || line.score !== lines[i - 1]!.score) rank = i + 1;
        return { rank, ...line };
      }),
    };
  }

  /** The score of each student's latest lab of the assignment (deleted ones count: their attempts stay). */
  private async latestScores(id: string) {
    const labs = await this.assignments.allLabsOf(id);
    const latest = new Map<string, AssignmentLabRow>();
    for (const lab of labs) latest.set(lab.userId, lab);
    const scores = new Map<string, Awaited<ReturnType<TaskService['scoreOf']>> & { lab: AssignmentLabRow }>();
    for (const [userId, lab] of latest) {
      const full = await this.labRows.findById(lab.id);
      if (full) scores.set(userId, { ...(await this.tasks.scoreOf(full)), lab });
    }
    return scores;
  }

  private refuseOutsideWindow(row: AssignmentWithNames): void {
    const state = stateOf(row);
    if (state === 'upcoming') throw new AppError(409, 'assignment_not_open', `The assignment opens at ${row.opensAt.toISOString()}`);
    if (state === 'closed') throw new AppError(409, 'assignment_closed', `The assignment closed at ${row.closesAt.toISOString()}`);
  }

  /** The assignment if its class is readable by the actor (404 otherwise). */
  private async readable(actor: Actor, id: string): Promise<AssignmentWithNames> {
    const row = await this.assignments.findById(id);
    if (!row) throw notFound('Assignment');
    await this.classes.readable(actor, row.classId).catch(() => {
      throw notFound('Assignment');
    });
    return row;
  }

  private async teachable(actor: Actor, id: string): Promise<AssignmentWithNames> {
    const row = await this.readable(actor, id);
    await this.classes.teachable(actor, row.classId);
    return row;
  }
}
