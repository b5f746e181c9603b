import type { CtfdImportResult, TemplateAnswer, TemplateHint, TemplateTask } from '@ctp/contracts';
import { parse as parseYaml } from 'yaml';
import { AppError } from '../errors.js';
import { isValidRegex } from './answer-matching.js';

type Unsupported = CtfdImportResult['unsupported'];

/** A CTFd challenge name as a task id: lower-case letters, digits and dashes, starting with a letter. */
export function taskIdFor(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^[^a-z]+|-+$/g, '')
    .slice(0, 32)
    .replace(/-+$/, '');
  return slug || 'challenge';
}

const IGNORED: Record<string, string> = {
  author: 'authors are not part of a task',
  category: 'tasks have no category',
  tags: 'tasks have no tags',
  topics: 'tasks have no topics',
  files: 'attached files are not imported: put them into a VM with `inject`',
  image: 'containers are not deployed: a lab runs VMs',
  host: 'containers are not deployed: a lab runs VMs',
  state: 'visibility follows the template (draft or published)',
  version: 'the spec version is not needed',
  attribution: 'tasks have no attribution',
  solution: 'solution files are not imported: write the solution as Markdown in `solution`',
  protocol: 'not supported',
  healthcheck: 'not supported',
  next: 'not supported',
};

function bad(message: string): AppError {
  return new AppError(400, 'invalid_challenge', message, [{ field: 'challenge', message }]);
}

function flagToAnswer(flag: unknown, i: number, unsupported: Unsupported): TemplateAnswer | undefined {
  if (typeof flag === 'string' || typeof flag === 'number') return { equals: String(flag) };
  if (!flag || typeof flag !== 'object') {
    unsupported.push({ field: `flags[${i}]`, reason: 'not a string or a mapping' });
    return undefined;
  }
  const { type = 'static', content, data } = flag as { type?: string; content?: unknown; data?: unknown };
  if (typeof content !== 'string' || !content) {
    unsupported.push({ field: `flags[${i}]`, reason: 'no content' });
    return undefined;
  }
  const caseInsensitive = data === 'case_insensitive';
  if (data !== undefined && data !== null && data !== '' && !caseInsensitive)
    unsupported.push({
      field: `flags[${i}].data`,
      reason: `"${String(data)}" is not understood (only case_insensitive is); the flag is case-sensitive`,
    });
  if (type === 'static') return { equals: content, ...(caseInsensitive ? { caseInsensitive } : {}) };
  if (type === 'regex') {
    if (!isValidRegex(content)) {
      unsupported.push({ field: `flags[${i}].content`, reason: 'not a valid regular expression' });
      return undefined;
    }
    return { regex: content, ...(caseInsensitive ? { caseInsensitive } : {}) };
  }
  unsupported.push({ field: `flags[${i}].type`, reason: `flag type "${type}" is not supported` });
  return undefined;
}

function hintOf(hint: unknown, i: number, unsupported: Unsupported): TemplateHint | undefined {
  const id = `hint-${i + 1}`;
  if (typeof hint === 'string') return { id, text: hint, cost: 0 };
  const { content, cost } = (hint ?? {}) as { content?: unknown; cost?: unknown };
  if (typeof content !== 'string' || !content) {
    unsupported.push({ field: `hints[${i}]`, reason: 'no content' });
    return undefined;
  }
  return { id, text: content, cost: typeof cost === 'number' && Number.isInteger(cost) && cost >= 0 ? cost : 0 };
}

/**
 * Turns a CTFd `challenge.yml` into a task: name, description, value, static and regex flags
 * (case-insensitive too), hints with costs, requirements by name, attempts. Whatever cannot be
 * carried over is listed in `unsupported`, never silently dropped.
 */
export function importCtfdChallenge(yamlText: string): CtfdImportResult {
  let doc: unknown;
  try {
    doc = parseYaml(yamlText, { maxAliasCount: 50 });
  } catch (error) {
    throw bad(`not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw bad('a challenge.yml is a mapping of fields');
  const c = doc as Record<string, unknown>;
  if (typeof c.name !== 'string' || !c.name.trim()) throw bad('the challenge has no name');
  const unsupported: Unsupported = [];
  const task: TemplateTask = { id: taskIdFor(c.name), title: c.name.trim().slice(0, 200), type: 'answer' };

  let body = typeof c.description === 'string' ? c.description.trim() : '';
  if (typeof c.connection_info === 'string' && c.connection_info) body += `${body ? '\n\n' : ''}Connection: \`${c.connection_info}\``;
  if (body) task.body = body.slice(0, 20_000);

  const extra = (c.extra ?? {}) as Record<string, unknown>;
  if (c.type === 'dynamic') {
    if (typeof extra.initial === 'number') task.points = extra.initial;
    for (const key of ['decay', 'minimum', 'function'])
      if (key in extra)
        unsupported.push({ field: `extra.${key}`, reason: 'dynamic scoring is not supported: the task is worth its initial value' });
    for (const key of Object.keys(extra).filter((k) => !['initial', 'decay', 'minimum', 'function'].includes(k)))
      unsupported.push({ field: `extra.${key}`, reason: 'not supported' });
  } else {
    if (c.type !== undefined && c.type !== 'standard')
      unsupported.push({ field: 'type', reason: `challenge type "${String(c.type)}" is imported as a standard one` });
    for (const key of Object.keys(extra)) unsupported.push({ field: `extra.${key}`, reason: 'not supported' });
  }
  if (typeof c.value === 'number' && Number.isInteger(c.value) && c.value >= 0) task.points = Math.min(c.value, 10_000);

  const answers = (Array.isArray(c.flags) ? c.flags : [])
    .map((f, i) => flagToAnswer(f, i, unsupported))
    .filter((a): a is TemplateAnswer => !!a);
  if (answers.length) task.answers = answers.slice(0, 20);
  else {
    task.type = 'info';
    if (c.flags !== undefined) unsupported.push({ field: 'flags', reason: 'no usable flag: the task is imported as information only' });
  }

  const hints = (Array.isArray(c.hints) ? c.hints : []).map((h, i) => hintOf(h, i, unsupported)).filter((h): h is TemplateHint => !!h);
  if (hints.length) task.hints = hints.slice(0, 10);

  // Newer ctfcli writes `requirements: {prerequisites: [...], anonymize: bool}`.
  let requirements = c.requirements;
  if (requirements && typeof requirements === 'object' && !Array.isArray(requirements)) {
    const r = requirements as { prerequisites?: unknown; anonymize?: unknown };
    if (r.anonymize !== undefined)
      unsupported.push({ field: 'requirements.anonymize', reason: 'locked tasks are always shown with their title' });
    requirements = r.prerequisites;
  }
  const requires: string[] = [];
  (Array.isArray(requirements) ? requirements : []).forEach((req, i) => {
    if (typeof req === 'string' && req.trim()) requires.push(taskIdFor(req));
    else
      unsupported.push({ field: `requirements[${i}]`, reason: `"${String(req)}" is a CTFd challenge id: name the required task instead` });
  });
  if (requires.length) task.requires = requires;

  if (typeof c.attempts === 'number' && Number.isInteger(c.attempts) && c.attempts > 0) task.maxAttempts = Math.min(c.attempts, 1000);

  const known = new Set(['name', 'description', 'value', 'type', 'flags', 'hints', 'requirements', 'attempts', 'extra', 'connection_info']);
  for (const key of Object.keys(c)) {
    if (known.has(key)) continue;
    if (c[key] === null) continue;
    unsupported.push({ field: key, reason: IGNORED[key] ?? 'not supported' });
  }
  return { task, unsupported };
}
