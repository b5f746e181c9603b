import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Assignment, AssignmentList, ClassDetail, ClassList, EnrolResult, ProvisionResult } from '@ctp/contracts';
import { ApiClient } from '../api-client.js';
import { CliError, EXIT } from '../errors.js';
import { emit } from '../output.js';

/** A date option: an ISO time, or `now` / `+90m` / `+2h` from now. */
function when(text: string): string {
  if (text === 'now') return new Date().toISOString();
  const relative = /^\+(\d+)([mhd])$/.exec(text);
  if (relative) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as 'm' | 'h' | 'd'];
    return new Date(Date.now() + Number(relative[1]) * unit).toISOString();
  }
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) throw new CliError(EXIT.usage, `not a time: "${text}" (use an ISO time, now, +90m, +2h or +1d)`);
  return date.toISOString();
}

/** `ctp classes ...`: classes, rosters, assignments, provisioning a whole class, grades. */
export function registerClasses(program: Command): void {
  const classes = program.command('classes').description('classes and their assignments (instructors and admins)');

  classes
    .command('list')
    .description('the classes you teach (admins: all)')
    .option('--archived', 'include archived classes')
    .action(async (options: { archived?: boolean }) => {
      const list = await ApiClient.fromStore().json<ClassList>('GET', `/api/v1/classes${options.archived ? '?includeArchived=true' : ''}`);
      emit(list, () => (list.items.length ? list.items.map((c) => `${c.id}  ${c.name}`).join('\n') : 'no classes'));
    });

  classes
    .command('create')
    .description('create a class that you teach')
    .argument('<name>')
    .option('--description <text>', 'what the class is', '')
    .action(async (name: string, options: { description: string }) => {
      const created = await ApiClient.fromStore().json<ClassDetail>('POST', '/api/v1/classes', {
        json: { name, description: options.description },
      });
      emit(created, () => `${created.id}  ${created.name}`);
    });

  classes
    .command('enrol')
    .description('enrol the students of a CSV file (username,email[,name,password]); missing accounts are created')
    .argument('<classId>')
    .argument('<file>', 'the roster (CSV); a bad line imports nothing')
    .action(async (classId: string, file: string) => {
      const result = await ApiClient.fromStore().json<EnrolResult>('POST', `/api/v1/classes/${classId}/students`, {
        body: readFileSync(file),
        headers: { 'content-type': 'text/csv' },
      });
      emit(result, () =>
        [
          `${result.enrolled.length} enrolled (${result.enrolled.filter((e) => e.created).length} accounts created)`,
          // Shown once: the server keeps only their hashes.
          ...result.credentials.map((c) => `${c.username}\t${c.password}`),
        ].join('\n'),
      );
    });

  classes
    .command('assign')
    .description("give a class an assignment: a template, a window, each student's lab lifetime")
    .argument('<classId>')
    .requiredOption('--template <id>', 'the template')
    .option('--opens <time>', 'ISO time, now, +90m, +2h, +1d', 'now')
    .requiredOption('--closes <time>', 'ISO time, +90m, +2h, +1d')
    .option('--lifetime <minutes>', "each student's lab lifetime", '90')
    .action(async (classId: string, options: { template: string; opens: string; closes: string; lifetime: string }) => {
      const assignment = await ApiClient.fromStore().json<Assignment>('POST', `/api/v1/classes/${classId}/assignments`, {
        json: {
          templateId: options.template,
          opensAt: when(options.opens),
          closesAt: when(options.closes),
          labLifetimeMinutes: Number(options.lifetime),
        },
      });
      emit(assignment, () => `${assignment.id}  ${assignment.title} (${assignment.state} until ${assignment.closesAt})`);
    });

  classes
    .command('assignments')
    .description("a class's assignments")
    .argument('<classId>')
    .action(async (classId: string) => {
      const list = await ApiClient.fromStore().json<AssignmentList>('GET', `/api/v1/classes/${classId}/assignments`);
      emit(list, () =>
        list.items.length ? list.items.map((a) => `${a.id}  ${a.state.padEnd(8)} ${a.title}`).join('\n') : 'no assignments',
      );
    });

  classes
    .command('provision')
    .description('start a lab for every enrolled student who has none (labs wait for capacity in order)')
    .argument('<assignmentId>')
    .action(async (assignmentId: string) => {
      const result = await ApiClient.fromStore().json<ProvisionResult>('POST', `/api/v1/assignments/${assignmentId}/provision`);
      emit(result, () =>
        [
          `${result.created.length} labs started, ${result.skipped.length} students skipped`,
          ...result.created.map((c) => `${c.username}\t${c.labId}`),
          ...result.skipped.map((s) => `${s.username}\tskipped: ${s.reason}`),
        ].join('\n'),
      );
    });

  classes
    .command('grades')
    .description("an assignment's grades as CSV (to standard output, or --out FILE)")
    .argument('<assignmentId>')
    .option('--out <file>', 'write the CSV to this file')
    .action(async (assignmentId: string, options: { out?: string }) => {
      const csv = await (await ApiClient.fromStore().request('GET', `/api/v1/assignments/${assignmentId}/grades.csv`)).text();
      if (options.out) writeFileSync(options.out, csv);
      const rows = Math.max(0, csv.trim().split('\n').length - 1);
      emit({ assignmentId, rows, ...(options.out ? { file: options.out } : { csv }) }, () =>
        options.out ? `${rows} students written to ${options.out}` : csv.trimEnd(),
      );
    });
}
