import type {
  AnswerResult,
  CheckResult,
  HintResult,
  LabSecrets,
  LabTask,
  LabTasks,
  LabTemplateConfig,
  SolutionResult,
  TaskActivity,
  TemplateTask,
} from '@ctp/contracts';
import type { HypervisorDriver } from '@ctp/hypervisor';
import { AppError, conflict, notFound, tooManyRequests } from '../errors.js';
import { authorize, can, type Actor, type Resource } from '../policy/policy.js';
import { presentLabTask, solvedTaskIds } from '../presenters/task.presenter.js';
import type { LabsRepository, LabWithOwner } from '../repositories/labs.repository.js';
import type { TasksRepository } from '../repositories/tasks.repository.js';
import { isCorrect, solutionText, taskType } from './answer-matching.js';
import type { AuditService } from './audit.service.js';
import type { EventBus } from './event-bus.js';
import type { LabAccess } from './lab-access.js';
import { RateLimiter } from './rate-limiter.js';
import { labScore, mayAttempt } from './scoring.js';
import { deriveSecrets, fillPlaceholders, redactSecrets, secretDigest } from './secrets.js';

export interface TaskLimits {
  /** Answers a user may submit per minute (all labs together). */
  answersPerMinute: number;
  /** Checks a user may run per minute. */
  checksPerMinute: number;
}

const OUTPUT_EXCERPT = 400;

/**
 * A lab's tasks: answers, hints, checks and solutions, scored; per-lab secrets. Answers, secrets
 * and check commands stay on the server: what leaves goes through the task presenter.
 */
export class TaskService {
  private readonly answerLimit: RateLimiter;
  private readonly checkLimit: RateLimiter;

  constructor(
    private readonly labs: LabsRepository,
    private readonly tasks: TasksRepository,
    private readonly audit: AuditService,
    private readonly events: EventBus,
    private readonly driver: HypervisorDriver,
    private readonly secretsKey: string,
    private readonly limits: TaskLimits,
    private readonly access: LabAccess,
    /** The window of the assignment a lab was started for: work counts only inside it. */
    private readonly assignmentWindow: (assignmentId: string) => Promise<{ opensAt: Date; closesAt: Date } | undefined> = async () =>
      undefined,
  ) {
    this.answerLimit = new RateLimiter(limits.answersPerMinute, 60_000);
    this.checkLimit = new RateLimiter(limits.checksPerMinute, 60_000);
  }

  /**
   * The limit as every API instance sees it: the attempts recorded in the last minute. (The
   * in-memory limiter in front of it stops a burst on one instance before its attempts are written.)
   */
  private async underLimit(userId: string, kind: 'answer' | 'check'): Promise<boolean> {
    const max = kind === 'answer' ? this.limits.answersPerMinute : this.limits.checksPerMinute;
    return (await this.tasks.countAttemptsSince(userId, kind, new Date(Date.now() - 60_000))) < max;
  }

  /** The lab's secret values, by name (derived from the platform key and the lab id). */
  secretValues(labId: string, config: LabTemplateConfig): Record<string, string> {
    return deriveSecrets(this.secretsKey, labId, config.secrets);
  }

  /**
   * Records the digests of a lab's unguessable secrets (flags, passwords, long texts), so that an
   * answer copied from this lab is recognised in another. Ports and words repeat between labs by
   * chance: they are never taken for copies.
   */
  async registerSecrets(labId: string, config: LabTemplateConfig): Promise<Record<string, string>> {
    const values = this.secretValues(labId, config);
    const unguessable = (config.secrets ?? []).filter(
      (s) => s.type === 'flag' || ((s.type === 'password' || s.type === 'text') && (s.length ?? 16) >= 8),
    );
    await this.tasks.saveSecretDigests(
      labId,
      unguessable.map((s) => ({ name: s.name, digest: secretDigest(this.secretsKey, values[s.name]!) })),
    );
    return values;
  }

  /** The lab's tasks as the actor sees them, with the total and maximum score. */
  async list(actor: Actor, labId: string): Promise<LabTasks> {
    const { lab } = await this.visibleLab(actor, labId);
    const config = lab.config as LabTemplateConfig;
    const facts = await this.facts(lab);
    const solved = solvedTaskIds(facts.attempts);
    const tasks = (config.tasks ?? []).map((t) => presentLabTask(t, facts, solved));
    return {
      tasks,
      ...labScore(
        config.tasks ?? [],
        tasks.map((t) => t.awarded),
      ),
    };
  }

  /**
   * A lab's tasks and score, with when each task was solved: for grade sheets and scoreboards,
   * whose callers have checked access to the lab's assignment already.
   */
  async scoreOf(lab: LabWithOwner): Promise<{ tasks: (LabTask & { solvedAt: Date | null })[]; score: number; maxScore: number }> {
    const config = lab.config as LabTemplateConfig;
    const facts = await this.facts(lab);
    const solved = solvedTaskIds(facts.attempts);
    const tasks = (config.tasks ?? []).map((t) => ({
      ...presentLabTask(t, facts, solved),
      solvedAt: facts.attempts.find((a) => a.taskId === t.id && a.correct)?.createdAt ?? null,
    }));
    return {
      tasks,
      ...labScore(
        config.tasks ?? [],
        tasks.map((t) => t.awarded),
      ),
    };
  }

  /** Checks an answer; refused when locked, solved, out of attempts or over the rate limit. */
  async answer(
    actor: Actor,
    labId: string,
    taskId: string,
    given: string | string[],
    options: { unlimited?: boolean } = {},
  ): Promise<AnswerResult> {
    const { lab, task } = await this.actionable(actor, labId, taskId);
    const type = taskType(task);
    if (type !== 'answer' && type !== 'choice') throw conflict(`Task "${task.id}" takes no answers (it is a ${type} task)`);
    const facts = await this.facts(lab);
    const attempts = facts.attempts.filter((a) => a.taskId === task.id && a.kind === 'answer').length;
    if (!mayAttempt(task, attempts)) throw new AppError(409, 'no_attempts_left', `No attempts left for task "${task.id}"`);
    if (!options.unlimited && (!this.answerLimit.take(actor.id) || !(await this.underLimit(actor.id, 'answer'))))
      throw tooManyRequests('Too many answers; wait a minute and try again');
    const secrets = this.secretValues(lab.id, lab.config as LabTemplateConfig);
    let correct = isCorrect(task, given, secrets);
    const text = Array.isArray(given) ? given.join(',') : given;
    // Another lab's secret earns nothing, even if this task's rules would accept it.
    // (A value that is also one of this lab's own secrets is never a copy.)
    const ownValue = Object.values(secrets).some((v) => v.trim() === text.trim());
    const sharedFrom =
      Array.isArray(given) || ownValue ? undefined : await this.tasks.labWithSecretDigest(secretDigest(this.secretsKey, given), lab.id);
    if (sharedFrom) correct = false;
    await this.tasks.addAttempt({
      labId: lab.id,
      taskId: task.id,
      userId: actor.id,
      kind: 'answer',
      answer: text.slice(0, 2000),
      correct,
      sharedFromLabId: sharedFrom ?? null,
    });
    if (sharedFrom) await this.reportShared(actor, lab, task, sharedFrom);
    const view = await this.taskView(lab, task);
    await this.publish(lab, 'task.answer', { taskId: task.id, correct, awarded: view.awarded, by: actor.username });
    return { correct, awarded: view.awarded, attemptsLeft: view.attemptsLeft, task: view };
  }

  /** Reveals a hint (its cost applies from now on) and returns its text. */
  async revealHint(actor: Actor, labId: string, taskId: string, hintId: string): Promise<HintResult> {
    const { lab, task } = await this.actionable(actor, labId, taskId, { allowSolved: true });
    const hint = (task.hints ?? []).find((h) => h.id === hintId);
    if (!hint) throw notFound('Hint');
    const added = await this.tasks.addReveal({ labId: lab.id, taskId: task.id, kind: 'hint', hintId: hint.id, userId: actor.id });
    const view = await this.taskView(lab, task);
    if (added) await this.publish(lab, 'task.hint', { taskId: task.id, hintId: hint.id, cost: hint.cost ?? 0, by: actor.username });
    return { id: hint.id, text: hint.text, cost: hint.cost ?? 0, task: view };
  }

  /** Reveals the solution when the template allows it; the task is then worth 0. */
  async revealSolution(actor: Actor, labId: string, taskId: string): Promise<SolutionResult> {
    const { lab, task } = await this.actionable(actor, labId, taskId, { allowSolved: true });
    const text = solutionText(task);
    if (!(lab.config as LabTemplateConfig).allowSolutions || text === undefined)
      throw new AppError(403, 'solution_not_available', 'This template does not let solutions be revealed');
    const added = await this.tasks.addReveal({ labId: lab.id, taskId: task.id, kind: 'solution', hintId: '', userId: actor.id });
    if (added) await this.publish(lab, 'task.solution', { taskId: task.id, by: actor.username });
    return { solution: text, task: await this.taskView(lab, task) };
  }

  /** Runs a task's check now over the guest channel; a pass solves the task. */
  async check(actor: Actor, labId: string, taskId: string, options: { unlimited?: boolean } = {}): Promise<CheckResult> {
    const { lab, task } = await this.actionable(actor, labId, taskId, { allowSolved: true });
    if (!task.check) throw conflict(`Task "${task.id}" has no check`);
    if (lab.status !== 'running') throw conflict(`The lab is ${lab.status}; checks run while it is running`);
    if (!options.unlimited && (!this.checkLimit.take(actor.id) || !(await this.underLimit(actor.id, 'check'))))
      throw tooManyRequests('Too many checks; wait a minute and try again');
    const vm = (await this.labs.vmsOf(lab.id)).find((v) => v.name === task.check!.vm);
    const channel = (await this.driver.probe()).capabilities.guestAgent ? this.driver : undefined;
    if (!vm || !channel) throw new AppError(409, 'check_unavailable', 'This check cannot run here (no guest channel to its VM)');
    const expect = task.check.expect ?? {};
    const timeoutMs = (task.check.timeout ?? 10) * 1000;
    const values = this.secretValues(lab.id, lab.config as LabTemplateConfig);
    let passed = false;
    let output: string;
    try {
      // The command may name the lab's secrets ({{name}}): it travels only over the private channel.
      const run = fillPlaceholders(task.check.run, values);
      const result = await channel.guestExec(vm.driverName, { argv: ['/bin/sh', '-c', run], timeoutMs });
      passed =
        !result.timedOut &&
        result.exitCode === (expect.exitCode ?? 0) &&
        (expect.stdoutRegex === undefined || new RegExp(expect.stdoutRegex, 'm').test(result.stdout));
      output = result.timedOut ? 'The check timed out.' : `${result.stdout}${result.stderr}`;
    } catch {
      output = 'The check could not reach the VM; is it running?';
    }
    // The student sees an excerpt: never a secret of the lab (nor the command itself).
    const excerpt = redactSecrets(output, Object.values(values)).slice(-OUTPUT_EXCERPT);
    await this.tasks.addAttempt({ labId: lab.id, taskId: task.id, userId: actor.id, kind: 'check', correct: passed, output: excerpt });
    const view = await this.taskView(lab, task);
    await this.publish(lab, 'task.check', { taskId: task.id, passed, awarded: view.awarded, by: actor.username });
    return { passed, output: excerpt, task: view };
  }

  /** Staff: the lab's secret values. */
  async secrets(actor: Actor, labId: string): Promise<LabSecrets> {
    const { lab, resource } = await this.visibleLab(actor, labId);
    authorize(actor, 'lab.readConfig', resource);
    const config = lab.config as LabTemplateConfig;
    const values = this.secretValues(lab.id, config);
    return { secrets: (config.secrets ?? []).map((s) => ({ name: s.name, type: s.type, value: values[s.name] ?? '' })) };
  }

  /** Staff: every answer (with what was typed), check, hint and solution reveal of the lab, newest first. */
  async activity(actor: Actor, labId: string): Promise<TaskActivity> {
    const { lab, resource } = await this.visibleLab(actor, labId);
    authorize(actor, 'lab.readConfig', resource);
    const { attempts, reveals } = await this.tasks.activityOf(lab.id);
    const items: TaskActivity['items'] = [
      ...attempts.map((a) => ({
        id: a.id,
        at: a.at.toISOString(),
        taskId: a.taskId,
        kind: a.kind as 'answer' | 'check',
        username: a.username,
        answer: a.answer,
        correct: a.correct,
        sharedFromLabId: a.sharedFromLabId,
        output: a.output,
        hintId: null,
      })),
      ...reveals.map((r) => ({
        id: `${r.kind}:${r.taskId}:${r.hintId}`,
        at: r.at.toISOString(),
        taskId: r.taskId,
        kind: r.kind as 'hint' | 'solution',
        username: r.username,
        answer: null,
        correct: null,
        sharedFromLabId: null,
        output: null,
        hintId: r.hintId || null,
      })),
    ];
    items.sort((a, b) => b.at.localeCompare(a.at));
    return { items };
  }

  private async reportShared(actor: Actor, lab: LabWithOwner, task: TemplateTask, fromLabId: string): Promise<void> {
    await this.audit.record({
      actor,
      action: 'task.shared_answer',
      targetType: 'lab',
      targetId: lab.id,
      outcome: 'denied',
      details: { taskId: task.id, fromLabId },
    });
    await this.events.publish(
      lab.id,
      'task.shared_answer',
      { taskId: task.id, fromLabId, by: actor.username, message: `shared answer from lab ${fromLabId}` },
      { ownerId: lab.userId, memberIds: await this.labs.memberIds(lab.id), staffOnly: true },
    );
  }

  private async facts(lab: LabWithOwner) {
    const [attempts, reveals] = await Promise.all([this.tasks.attemptsOf(lab.id), this.tasks.revealsOf(lab.id)]);
    return { attempts, reveals, allowSolutions: (lab.config as LabTemplateConfig).allowSolutions === true };
  }

  private async taskView(lab: LabWithOwner, task: TemplateTask): Promise<LabTask> {
    const facts = await this.facts(lab);
    return presentLabTask(task, facts, solvedTaskIds(facts.attempts));
  }

  private async visibleLab(actor: Actor, labId: string): Promise<{ lab: LabWithOwner; resource: Resource }> {
    const lab = await this.labs.findById(labId);
    if (!lab) throw notFound('Lab');
    const resource = await this.access.resourceOf(lab);
    if (!can(actor, 'lab.read', resource)) throw notFound('Lab');
    return { lab, resource };
  }

  /** The task, if the actor is in the lab and the task is open (or solved, when that is allowed). */
  private async actionable(
    actor: Actor,
    labId: string,
    taskId: string,
    options: { allowSolved?: boolean } = {},
  ): Promise<{ lab: LabWithOwner; task: TemplateTask }> {
    const { lab, resource } = await this.visibleLab(actor, labId);
    authorize(actor, 'task.act', resource);
    if (lab.status === 'deleted' || lab.status === 'deleting') throw conflict(`The lab is ${lab.status}`);
    const window = lab.assignmentId ? await this.assignmentWindow(lab.assignmentId) : undefined;
    if (window && Date.now() >= window.closesAt.getTime())
      throw new AppError(
        409,
        'assignment_closed',
        `The assignment closed at ${window.closesAt.toISOString()}; answers are no longer accepted`,
      );
    if (window && Date.now() < window.opensAt.getTime())
      throw new AppError(409, 'assignment_not_open', `The assignment opens at ${window.opensAt.toISOString()}; answers count from then on`);
    const task = ((lab.config as LabTemplateConfig).tasks ?? []).find((t) => t.id === taskId);
    if (!task) throw notFound('Task');
    const facts = await this.facts(lab);
    const solved = solvedTaskIds(facts.attempts);
    if (solved.has(task.id) && !options.allowSolved) throw conflict(`Task "${task.id}" is already solved`);
    if (!solved.has(task.id) && !(task.requires ?? []).every((id) => solved.has(id)))
      throw new AppError(
        409,
        'task_locked',
        `Task "${task.id}" is locked until ${(task.requires ?? []).join(', ')} ${(task.requires ?? []).length > 1 ? 'are' : 'is'} solved`,
      );
    return { lab, task };
  }

  private async publish(lab: LabWithOwner, type: string, data: Record<string, unknown>): Promise<void> {
    await this.events.publish(lab.id, type, data, { ownerId: lab.userId, memberIds: await this.labs.memberIds(lab.id) });
  }
}
