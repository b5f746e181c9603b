import type { LabTask, TemplateTask } from '@ctp/contracts';
import type { TaskAttemptRow, TaskRevealRow } from '../repositories/tasks.repository.js';
import { solutionText, taskType } from '../services/answer-matching.js';
import { attemptsLeft, taskScore, taskState, taskWorth } from '../services/scoring.js';

// A lab's tasks as its users see them: state, score, hints (text once revealed). Answers, check
// commands, secrets and unrevealed solutions are never copied into what this returns.

export interface TaskFacts {
  attempts: TaskAttemptRow[];
  reveals: TaskRevealRow[];
  allowSolutions: boolean;
}

/** Which tasks are solved, from the attempts. */
export function solvedTaskIds(attempts: TaskAttemptRow[]): Set<string> {
  return new Set(attempts.filter((a) => a.correct).map((a) => a.taskId));
}

/** One task with its progress in the lab. */
export function presentLabTask(task: TemplateTask, facts: TaskFacts, solvedIds: ReadonlySet<string>): LabTask {
  const mine = facts.attempts.filter((a) => a.taskId === task.id);
  const answers = mine.filter((a) => a.kind === 'answer');
  const reveals = facts.reveals.filter((r) => r.taskId === task.id);
  const revealedHints = reveals.filter((r) => r.kind === 'hint').map((r) => r.hintId);
  const solutionRevealed = reveals.some((r) => r.kind === 'solution');
  const solved = solvedIds.has(task.id);
  const progress = { solved, attempts: answers.length, revealedHints, solutionRevealed };
  const type = taskType(task);
  // Only the Markdown: a reference solution's commands are for verification, never for students.
  const solution = solutionText(task);
  const lastCheck = mine.filter((a) => a.kind === 'check').at(-1);
  return {
    id: task.id,
    title: task.title,
    type,
    body: task.body ?? task.description ?? '',
    points: task.points ?? 0,
    worth: taskWorth(task, progress),
    awarded: taskScore(task, progress),
    state: taskState(task, solved, solvedIds),
    requires: task.requires ?? [],
    attempts: answers.length,
    attemptsLeft: attemptsLeft(task, answers.length),
    ...(task.options
      ? { options: task.options.map((o) => ({ id: o.id, text: o.text })), multiple: task.options.filter((o) => o.correct).length > 1 }
      : {}),
    hints: (task.hints ?? []).map((h) => ({
      id: h.id,
      cost: h.cost ?? 0,
      revealed: revealedHints.includes(h.id),
      ...(revealedHints.includes(h.id) ? { text: h.text } : {}),
    })),
    solutionAvailable: facts.allowSolutions && solution !== undefined,
    solutionRevealed,
    ...(solutionRevealed && solution !== undefined ? { solution } : {}),
    ...(lastCheck
      ? { lastCheck: { passed: lastCheck.correct, output: lastCheck.output ?? '', at: lastCheck.createdAt.toISOString() } }
      : {}),
  };
}
