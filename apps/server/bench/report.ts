import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const file = path.resolve(fileURLToPath(new URL('../../../docs/benchmarks.md', import.meta.url)));
/** docs/scaling.md: the class simulation's figures sit among the hand-written sizing plan. */
export const SCALING_DOC = path.resolve(fileURLToPath(new URL('../../../docs/scaling.md', import.meta.url)));

/**
 * Writes one benchmark's section of docs/benchmarks.md between its markers, keeping the other
 * benchmarks' sections, so that each bench can be run alone.
 */
export function writeSection(name: string, markdown: string, target = file): void {
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const block = `${start}\n${markdown.trim()}\n${end}`;
  let text = existsSync(target) ? readFileSync(target, 'utf8') : '# Benchmarks\n';
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from >= 0 && to > from) text = text.slice(0, from) + block + text.slice(to + end.length);
  else text = `${text.trimEnd()}\n\n${block}\n`;
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target, text.endsWith('\n') ? text : `${text}\n`);
}
