import type { LabTemplateConfig, TemplateTask, TemplateVerification, VerificationTaskResult } from '@ctp/contracts';
import type { HypervisorDriver } from '@ctp/hypervisor';
import { conflict, notFound } from '../errors.js';
import { authorize, type Actor } from '../policy/policy.js';
import type { LabsRepository, VmRow } from '../repositories/labs.repository.js';
import type { UsersRepository } from '../repositories/users.repository.js';
import type { VerificationRow, VerificationsRepository } from '../repositories/verifications.repository.js';
import { taskType } from './answer-matching.js';
import type { AuditService } from './audit.service.js';
import type { LabService } from './lab.service.js';
import type { TaskService } from './task.service.js';
import type { TemplateService } from './template.service.js';

export interface VerificationOptions {
  /** How long a verification waits for its lab to run. */
  labTimeoutMs: number;
  /** A run older than this that never finished (the server stopped under it) no longer blocks a new one. */
  abandonedAfterMs: number;
}

const EXCERPT = 300;
const excerpt = (text: string) => (text.length > EXCERPT ? `…${text.slice(-EXCERPT)}` : text).trim();
const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Pre-class verification: a fresh lab of the template, each task's reference solution run in
 * its VM over the private guest channel, then the task's check run or its answer submitted, as
 * a student would; the outcome per task is kept for staff (never shown to students).
 */
export class VerificationService {
  constructor(
    private readonly verifications: VerificationsRepository,
    private readonly templates: TemplateService,
    private readonly labService: LabService,
    private readonly labs: LabsRepository,
    private readonly users: UsersRepository,
    private readonly tasks: TaskService,
    private readonly driver: HypervisorDriver,
    private readonly audit: AuditService,
    private readonly enqueue: (verificationId: string) => Promise<void>,
    private readonly options: VerificationOptions,
  ) {}

  /** Starts a verification as a job (its lab is created now, owned by the requester). */
  async request(actor: Actor, templateId: string): Promise<TemplateVerification> {
    const template = await this.templates.readable(actor, templateId);
    authorize(actor, 'template.verify');
    const last = await this.verifications.latestFor(template.id);
    if (last?.status === 'running' && Date.now() - last.createdAt.getTime() < this.options.abandonedAfterMs)
      throw conflict('A verification of this template is already running');
    const lab = await this.labService.create(actor, { templateId: template.id });
    const row = await this.verifications.create({
      templateId: template.id,
      templateVersion: template.version,
      requestedBy: actor.id,
      labId: lab.id,
    });
    await this.enqueue(row.id);
    return present({ ...row, requesterUsername: actor.username });
  }

  /** The template's last verification (staff only). */
  async latest(actor: Actor, templateId: string): Promise<TemplateVerification> {
    const template = await this.templates.readable(actor, templateId);
    authorize(actor, 'template.verify');
    const row = await this.verifications.latestFor(template.id);
    if (!row) throw notFound('Verification');
    return present(row);
  }

  /** The job: waits for the lab, performs every task, records the outcome, deletes the lab. */
  async run(verificationId: string): Promise<void> {
    const row = await this.verifications.findById(verificationId);
    if (!row || row.status !== 'running' || !row.labId) return;
    const user = row.requestedBy ? await this.users.findById(row.requestedBy) : undefined;
    if (!user) return this.finish(row, 'error', [], 'the user who asked for the verification no longer exists');
    const actor: Actor = { id: user.id, username: user.username, role: user.role as Actor['role'] };
    try {
      const failure = await this.waitForLab(row.labId);
      if (failure) return await this.finish(row, 'error', [], failure);
      const results = await this.performAll(actor, row.labId);
      const failed = results.filter((r) => !r.passed).map((r) => r.taskId);
      await this.finish(row, failed.length ? 'failed' : 'passed', results, failed.length ? `failed: ${failed.join(', ')}` : null);
    } catch (error) {
      await this.finish(row, 'error', [], `verification stopped: ${errorText(error)}`);
    } finally {
      await this.labService.act(actor, row.labId, 'delete').catch(() => {});
    }
  }

  /** Undefined once the lab runs; else why it never will. */
  private async waitForLab(labId: string): Promise<string | undefined> {
    const deadline = Date.now() + this.options.labTimeoutMs;
    while (Date.now() < deadline) {
      const lab = await this.labs.findById(labId);
      if (!lab || lab.status === 'deleted' || lab.status === 'deleting') return 'the lab was deleted before it ran';
      if (lab.status === 'error') return `the lab did not start: ${lab.errorStep ?? ''}: ${lab.errorMessage ?? ''}`;
      if (lab.status === 'running') return undefined;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    return `the lab did not run within ${Math.round(this.options.labTimeoutMs / 1000)} s`;
  }

  /** Every task, each after the tasks it requires (a task whose prerequisite failed is not attempted). */
  private async performAll(actor: Actor, labId: string): Promise<VerificationTaskResult[]> {
    const lab = (await this.labs.findById(labId))!;
    const config = lab.config as LabTemplateConfig;
    const machines = await this.labs.vmsOf(labId);
    const secrets = this.tasks.secretValues(labId, config);
    const done = new Map<string, VerificationTaskResult>();
    const pending = [...(config.tasks ?? [])];
    while (pending.length) {
      const ready = pending.findIndex((t) => (t.requires ?? []).every((id) => done.has(id)));
      const task = pending.splice(Math.max(ready, 0), 1)[0]!;
      const blocked = (task.requires ?? []).filter((id) => !done.get(id)?.passed);
      done.set(
        task.id,
        blocked.length
          ? { taskId: task.id, title: task.title, passed: false, detail: `not attempted: it requires ${blocked.join(', ')}, which failed` }
          : await this.perform(actor, labId, task, machines, secrets),
      );
    }
    return (config.tasks ?? []).map((t) => done.get(t.id)!);
  }

  private async perform(
    actor: Actor,
    labId: string,
    task: TemplateTask,
    machines: VmRow[],
    secrets: Record<string, string>,
  ): Promise<VerificationTaskResult> {
    const result = (passed: boolean, detail: string) => ({ taskId: task.id, title: task.title, passed, detail });
    const solution = typeof task.solution === 'object' ? task.solution : undefined;
    let output: string | undefined;
    if (solution?.run) {
      const vmName = solution.vm ?? task.check?.vm;
      const vm = machines.find((m) => m.name === vmName);
      if (!vm) return result(false, `the solution's VM "${vmName}" is not in the lab`);
      const timeoutMs = (solution.timeout ?? 30) * 1000;
      try {
        await this.driver.waitForGuestAgent(vm.driverName, 60_000);
        const ran = await this.driver.guestExec(vm.driverName, { argv: ['/bin/sh', '-c', solution.run], timeoutMs });
        if (ran.timedOut) return result(false, `the solution timed out after ${timeoutMs / 1000} s`);
        if (ran.exitCode !== 0) return result(false, `the solution exited with ${ran.exitCode}: ${excerpt(ran.stderr || ran.stdout)}`);
        output = ran.stdout.trim();
      } catch (error) {
        return result(false, `the solution could not run in ${vm.name}: ${errorText(error)}`);
      }
    }
    try {
      switch (taskType(task)) {
        case 'info':
          return result(
            true,
            solution?.run ? 'the solution ran (information task: nothing to check)' : 'information task: nothing to check',
          );
        case 'check': {
          const checked = await this.tasks.check(actor, labId, task.id, { unlimited: true });
          return result(
            checked.passed,
            `check ${checked.passed ? 'passed' : 'failed'}${checked.output ? `: ${excerpt(checked.output)}` : ''}`,
          );
        }
        case 'choice': {
          const given = solution?.answer?.split(/[\s,]+/) ?? (task.options ?? []).filter((o) => o.correct).map((o) => o.id);
          const answered = await this.tasks.answer(actor, labId, task.id, given, { unlimited: true });
          return result(answered.correct, answered.correct ? 'choice accepted' : `choice refused: ${given.join(', ')}`);
        }
        case 'answer': {
          const given = solution?.answer ?? output ?? referenceAnswer(task, secrets);
          if (!given) return result(false, 'no reference answer: give the solution a `run` (its output is submitted) or an `answer`');
          const answered = await this.tasks.answer(actor, labId, task.id, given, { unlimited: true });
          return result(answered.correct, answered.correct ? 'answer accepted' : `answer refused: "${excerpt(given)}"`);
        }
      }
    } catch (error) {
      return result(false, errorText(error));
    }
  }

  private async finish(
    row: VerificationRow,
    status: 'passed' | 'failed' | 'error',
    results: VerificationTaskResult[],
    message: string | null,
  ): Promise<void> {
    await this.verifications.update(row.id, { status, results, message, finishedAt: new Date() });
    const user = row.requestedBy ? await this.users.findById(row.requestedBy) : undefined;
    await this.audit.record({
      actor: user ? { id: user.id, username: user.username } : null,
      action: 'template.verified',
      targetType: 'template',
      targetId: row.templateId,
      outcome: status === 'passed' ? 'success' : 'failure',
      details: {
        verificationId: row.id,
        version: row.templateVersion,
        status,
        failedTasks: results.filter((r) => !r.passed).map((r) => r.taskId),
      },
    });
  }
}

/** What a task accepts, when the template says it literally (a value, a secret, a set); regexes have none. */
function referenceAnswer(task: TemplateTask, secrets: Record<string, string>): string | undefined {
  for (const answer of task.answers ?? []) {
    if ('equals' in answer) return answer.equals;
    if ('secret' in answer && secrets[answer.secret]) return secrets[answer.secret];
    if ('set' in answer) return answer.set.join(', ');
  }
  return undefined;
}

function present(row: VerificationRow & { requesterUsername?: string | null }): TemplateVerification {
  const tasks = (row.results as VerificationTaskResult[]) ?? [];
  return {
    id: row.id,
    templateId: row.templateId,
    templateVersion: row.templateVersion,
    status: row.status as TemplateVerification['status'],
    requestedBy: row.requesterUsername ?? null,
    labId: row.labId,
    message: row.message,
    tasks,
    failedTasks: tasks.filter((t) => !t.passed).map((t) => t.taskId),
    createdAt: row.createdAt.toISOString(),
    finishedAt: row.finishedAt?.toISOString() ?? null,
  };
}
