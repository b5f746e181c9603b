import type { LabTemplateConfig } from '@ctp/contracts';
import { isValidRegex, solutionText, taskType } from './answer-matching.js';

type Problem = { field: string; message: string };

/** The task, secret and inject rules a schema cannot state (references, consistency, regexes). */
export function contentProblems(config: LabTemplateConfig): Problem[] {
  const problems: Problem[] = [];
  const vmNames = new Set(config.vms.map((vm) => vm.name));
  const secretNames = new Set<string>();
  (config.secrets ?? []).forEach((secret, i) => {
    const field = `secrets[${i}]`;
    if (secretNames.has(secret.name)) problems.push({ field: `${field}.name`, message: `duplicate secret "${secret.name}"` });
    secretNames.add(secret.name);
    if (secret.type === 'word' && !secret.words?.length)
      problems.push({ field: `${field}.words`, message: 'a word secret needs a list of words' });
    if (secret.type === 'port' && (secret.min ?? 1024) > (secret.max ?? 65535))
      problems.push({ field: `${field}.min`, message: 'min is above max' });
    if (secret.format !== undefined && secret.type !== 'flag')
      problems.push({ field: `${field}.format`, message: 'only flags have a format' });
  });
  const placeholders = (text: string) => [...text.matchAll(/\{\{\s*([^}\s]*)\s*\}\}/g)].map((m) => m[1]!);
  (config.inject ?? []).forEach((file, i) => {
    if (!vmNames.has(file.vm)) problems.push({ field: `inject[${i}].vm`, message: `unknown VM "${file.vm}"` });
    for (const name of placeholders(file.content))
      if (!secretNames.has(name)) problems.push({ field: `inject[${i}].content`, message: `unknown secret "{{${name}}}"` });
  });
  const tasks = config.tasks ?? [];
  const taskIds = new Set(tasks.map((t) => t.id));
  tasks.forEach((task, i) => {
    const field = `tasks[${i}]`;
    const type = taskType(task);
    if (task.body !== undefined && task.description !== undefined)
      problems.push({ field: `${field}.description`, message: 'give either body or description (its older name), not both' });
    if (type === 'answer' && !task.answers?.length) problems.push({ field: `${field}.answers`, message: 'an answer task needs answers' });
    if (type === 'choice') {
      if (!task.options) problems.push({ field: `${field}.options`, message: 'a choice task needs options' });
      else if (!task.options.some((o) => o.correct)) problems.push({ field: `${field}.options`, message: 'no option is marked correct' });
      const ids = task.options?.map((o) => o.id) ?? [];
      ids.forEach(
        (id, j) => ids.indexOf(id) !== j && problems.push({ field: `${field}.options[${j}].id`, message: `duplicate option "${id}"` }),
      );
    }
    if (typeof task.solution === 'object') {
      // Where the reference solution runs: its own VM, else the check's.
      const vm = task.solution.vm ?? task.check?.vm;
      if (task.solution.run !== undefined && vm === undefined)
        problems.push({ field: `${field}.solution.vm`, message: 'say in which VM the solution runs' });
      else if (task.solution.vm !== undefined && !vmNames.has(task.solution.vm))
        problems.push({ field: `${field}.solution.vm`, message: `unknown VM "${task.solution.vm}"` });
    }
    if (type === 'check' && !task.check) problems.push({ field: `${field}.check`, message: 'a check task needs a check' });
    if (task.check) {
      if (!vmNames.has(task.check.vm)) problems.push({ field: `${field}.check.vm`, message: `unknown VM "${task.check.vm}"` });
      for (const name of placeholders(task.check.run))
        if (!secretNames.has(name)) problems.push({ field: `${field}.check.run`, message: `unknown secret "{{${name}}}"` });
      const regex = task.check.expect?.stdoutRegex;
      if (regex !== undefined && !isValidRegex(regex))
        problems.push({ field: `${field}.check.expect.stdoutRegex`, message: 'not a valid regular expression' });
    }
    (task.answers ?? []).forEach((answer, j) => {
      if ('regex' in answer && !isValidRegex(answer.regex))
        problems.push({ field: `${field}.answers[${j}].regex`, message: 'not a valid regular expression' });
      if ('secret' in answer && !secretNames.has(answer.secret))
        problems.push({ field: `${field}.answers[${j}].secret`, message: `unknown secret "${answer.secret}"` });
    });
    const hintIds = (task.hints ?? []).map((h) => h.id);
    hintIds.forEach(
      (id, j) => hintIds.indexOf(id) !== j && problems.push({ field: `${field}.hints[${j}].id`, message: `duplicate hint "${id}"` }),
    );
    (task.requires ?? []).forEach((id, j) => {
      if (id === task.id) problems.push({ field: `${field}.requires[${j}]`, message: 'a task cannot require itself' });
      else if (!taskIds.has(id)) problems.push({ field: `${field}.requires[${j}]`, message: `unknown task "${id}"` });
    });
    if (solutionText(task) !== undefined && !config.allowSolutions)
      problems.push({ field: `${field}.solution`, message: 'set allowSolutions: true to let students reveal solutions (or remove it)' });
  });
  const cycle = requiresCycle(tasks);
  if (cycle)
    problems.push({
      field: `tasks[${tasks.findIndex((t) => t.id === cycle[0])}].requires`,
      message: `tasks require each other in a circle: ${cycle.join(' → ')}`,
    });
  return problems;
}

/** A circle of `requires` (so that no task in it could ever open), if there is one. */
function requiresCycle(tasks: readonly { id: string; requires?: string[] }[]): string[] | undefined {
  const edges = new Map(tasks.map((t) => [t.id, t.requires ?? []]));
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === 'done') return undefined;
    if (state.get(id) === 'visiting') return [...path.slice(path.indexOf(id)), id];
    state.set(id, 'visiting');
    path.push(id);
    for (const next of edges.get(id) ?? []) {
      if (next === id || !edges.has(next)) continue;
      const found = visit(next);
      if (found) return found;
    }
    path.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const t of tasks) {
    const found = visit(t.id);
    if (found) return found;
  }
  return undefined;
}
