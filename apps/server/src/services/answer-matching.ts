import type { TemplateAnswer, TemplateTask } from '@ctp/contracts';

// Answer matching is pure: the task, the lab's secret values and what the student typed in.

/** Whitespace trimmed and runs of spaces collapsed, so stray spaces never make a right answer wrong. */
export function normalize(text: string): string {
  return text.trim().replace(/\s+/g, ' ');
}

/** Items of a list answer: split on commas, semicolons and whitespace. */
export function items(text: string): string[] {
  return text
    .split(/[\s,;]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** True when the regex compiles (templates are validated with this). */
export function isValidRegex(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}

/** True when the given text matches one accepted answer. */
export function matchesAnswer(answer: TemplateAnswer, given: string, secrets: Record<string, string>): boolean {
  const text = normalize(given);
  if ('equals' in answer) {
    return answer.caseInsensitive ? text.toLowerCase() === normalize(answer.equals).toLowerCase() : text === normalize(answer.equals);
  }
  if ('regex' in answer) {
    // Anchored: the whole answer must match, not some part of it.
    if (!isValidRegex(answer.regex)) return false;
    return new RegExp(`^(?:${answer.regex})$`, answer.caseInsensitive ? 'i' : '').test(text);
  }
  if ('secret' in answer) {
    const value = secrets[answer.secret];
    return value !== undefined && value !== '' && text === normalize(value);
  }
  const fold = (s: string) => (answer.caseInsensitive ? s.toLowerCase() : s);
  const expected = new Set(answer.set.map(fold));
  const got = new Set(items(given).map(fold));
  return got.size === expected.size && [...expected].every((e) => got.has(e));
}

/** True when the given answer solves an answer or choice task. */
export function isCorrect(task: TemplateTask, given: string | string[], secrets: Record<string, string>): boolean {
  if (task.options) {
    const chosen = new Set(Array.isArray(given) ? given : items(given));
    const correct = new Set(task.options.filter((o) => o.correct).map((o) => o.id));
    return correct.size > 0 && chosen.size === correct.size && [...correct].every((id) => chosen.has(id));
  }
  if (Array.isArray(given)) return false;
  return (task.answers ?? []).some((answer) => matchesAnswer(answer, given, secrets));
}

/** The type of a task, from its `type` or from what it holds. */
export function taskType(task: TemplateTask): 'info' | 'answer' | 'choice' | 'check' {
  if (task.type) return task.type;
  if (task.check) return 'check';
  if (task.options) return 'choice';
  if (task.answers) return 'answer';
  return 'info';
}

/** A task's solution Markdown (the string form, or the object's `text`); undefined when there is none. */
export function solutionText(task: TemplateTask): string | undefined {
  return typeof task.solution === 'string' ? task.solution : task.solution?.text;
}
