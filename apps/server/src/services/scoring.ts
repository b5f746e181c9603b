import type { TemplateTask } from '@ctp/contracts';

// Scoring is pure: a task's definition and what happened in the lab give its state and score.

export interface TaskProgress {
  solved: boolean;
  /** Answers submitted (checks are not counted against maxAttempts). */
  attempts: number;
  revealedHints: readonly string[];
  solutionRevealed: boolean;
}

/** What a task is worth now: points minus the costs of revealed hints, floored at 0; 0 once its solution is revealed. */
export function taskWorth(
  task: Pick<TemplateTask, 'points' | 'hints'>,
  progress: Pick<TaskProgress, 'revealedHints' | 'solutionRevealed'>,
): number {
  if (progress.solutionRevealed) return 0;
  const points = task.points ?? 0;
  const costs = (task.hints ?? [])
    .filter((hint) => progress.revealedHints.includes(hint.id))
    .reduce((sum, hint) => sum + (hint.cost ?? 0), 0);
  return Math.max(0, points - costs);
}

/** The score awarded for a task: its worth once solved, else 0. */
export function taskScore(task: Pick<TemplateTask, 'points' | 'hints'>, progress: TaskProgress): number {
  return progress.solved ? taskWorth(task, progress) : 0;
}

/** Attempts left, or null when unlimited. */
export function attemptsLeft(task: Pick<TemplateTask, 'maxAttempts'>, attempts: number): number | null {
  if (task.maxAttempts === undefined) return null;
  return Math.max(0, task.maxAttempts - attempts);
}

/** True while another answer may be submitted. */
export function mayAttempt(task: Pick<TemplateTask, 'maxAttempts'>, attempts: number): boolean {
  const left = attemptsLeft(task, attempts);
  return left === null || left > 0;
}

/** Locked until every required task is solved; solved once solved; open otherwise. */
export function taskState(
  task: Pick<TemplateTask, 'requires'>,
  solved: boolean,
  solvedIds: ReadonlySet<string>,
): 'locked' | 'open' | 'solved' {
  if (solved) return 'solved';
  return (task.requires ?? []).every((id) => solvedIds.has(id)) ? 'open' : 'locked';
}

/** Total awarded and maximum score of a lab's tasks. */
export function labScore(tasks: readonly { points?: number }[], awarded: readonly number[]): { score: number; maxScore: number } {
  return {
    score: awarded.reduce((a, b) => a + b, 0),
    maxScore: tasks.reduce((sum, t) => sum + (t.points ?? 0), 0),
  };
}
