import type { AssignmentProgress, LabStatus, LabTemplateConfig, ProgressRow } from '@ctp/contracts';
import { notFound } from '../errors.js';
import type { Actor } from '../policy/policy.js';
import type { AssignmentsRepository } from '../repositories/assignments.repository.js';
import type { LabsRepository } from '../repositories/labs.repository.js';
import type { TasksRepository } from '../repositories/tasks.repository.js';
import type { TemplatesRepository } from '../repositories/templates.repository.js';
import type { AdmissionService } from './admission.service.js';
import type { ClassService } from './class.service.js';
import type { TaskService } from './task.service.js';

/** The live dashboard of an assignment: one row per enrolled student (the web app refreshes it on lab and task events). */
export class ProgressService {
  constructor(
    private readonly assignments: AssignmentsRepository,
    private readonly classes: ClassService,
    private readonly templates: TemplatesRepository,
    private readonly labs: LabsRepository,
    private readonly tasksRepo: TasksRepository,
    private readonly tasks: TaskService,
    private readonly admission: Pick<AdmissionService, 'positions'>,
  ) {}

  /** The class's teachers (and admins): every student's lab state, time left, tasks, score, attempts, hints, last activity. */
  async progress(actor: Actor, assignmentId: string): Promise<AssignmentProgress> {
    const assignment = await this.assignments.findById(assignmentId);
    if (!assignment) throw notFound('Assignment');
    await this.classes.teachable(actor, assignment.classId).catch((error: unknown) => {
      throw (error as { statusCode?: number }).statusCode === 403 ? error : notFound('Assignment');
    });
    const template = await this.templates.findById(assignment.templateId);
    const taskIds = ((template?.config as LabTemplateConfig | undefined)?.tasks ?? []).map((t) => t.id);
    const students = await this.assignments.studentsOf(assignment.classId);
    const live = new Map((await this.assignments.labsOf(assignmentId)).map((l) => [l.userId, l]));
    const positions = await this.admission.positions();
    const rows: ProgressRow[] = [];
    for (const student of students) {
      const summary = live.get(student.id);
      const lab = summary ? await this.labs.findById(summary.id) : undefined;
      if (!lab) {
        rows.push({
          userId: student.id,
          username: student.username,
          name: student.name ?? null,
          lab: null,
          tasks: [],
          score: 0,
          maxScore: 0,
          attempts: 0,
          hintsUsed: 0,
          lastActivity: null,
        });
        continue;
      }
      const [score, activity, vms] = await Promise.all([
        this.tasks.scoreOf(lab),
        this.tasksRepo.activityOf(lab.id),
        this.labs.vmsOf(lab.id),
      ]);
      const times = [...activity.attempts.map((a) => a.at.getTime()), ...activity.reveals.map((r) => r.at.getTime())];
      const hints = score.tasks.reduce((n, t) => n + t.hints.filter((h) => h.revealed).length, 0);
      rows.push({
        userId: student.id,
        username: student.username,
        name: student.name ?? null,
        lab: {
          id: lab.id,
          status: lab.status as LabStatus,
          queuePosition: positions.get(lab.id) ?? null,
          expiresAt: lab.expiresAt?.toISOString() ?? null,
          secondsLeft: lab.expiresAt ? Math.max(0, Math.round((lab.expiresAt.getTime() - Date.now()) / 1000)) : null,
          consoleVmId: vms.find((vm) => vm.studentVisible)?.id ?? null,
        },
        tasks: score.tasks.map((t) => ({
          id: t.id,
          state: t.state,
          awarded: t.awarded,
          attempts: activity.attempts.filter((a) => a.taskId === t.id).length,
          hintsUsed: t.hints.filter((h) => h.revealed).length,
        })),
        score: score.score,
        maxScore: score.maxScore,
        attempts: activity.attempts.length,
        hintsUsed: hints,
        lastActivity: times.length ? new Date(Math.max(...times)).toISOString() : null,
      });
    }
    return { assignmentId, taskIds, rows };
  }
}
