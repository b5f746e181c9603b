import type { Command } from 'commander';
import { ApiClient } from '../api-client.js';
import { CliError, EXIT } from '../errors.js';
import { emit } from '../output.js';

interface Quota {
  scope: string;
  subject: string;
  subjectName: string;
  maxLabs: number | null;
  maxVcpus: number | null;
  maxMemoryMiB: number | null;
}

interface Subject {
  role?: string;
  user?: string;
  class?: string;
}

/** The `scope/subject` path of the one subject given (`--role`, `--user` or `--class`). */
function subjectPath(options: Subject): string {
  const given = (['role', 'user', 'class'] as const).filter((scope) => options[scope] !== undefined);
  if (given.length !== 1) throw new CliError(EXIT.usage, 'name exactly one of --role ROLE, --user NAME or --class ID');
  const scope = given[0]!;
  return `${scope}/${encodeURIComponent(options[scope]!)}`;
}

/** A limit from the command line: a whole number, or `none` for no limit. */
function limit(raw: string): number | null {
  if (raw === 'none') return null;
  if (!/^\d+$/.test(raw)) throw new CliError(EXIT.usage, `a limit is a whole number or "none", got "${raw}"`);
  return Number(raw);
}

const shown = (value: number | null, unit = '') => (value === null ? '-' : `${value}${unit}`);

/** `ctp quotas list|set|delete|mine`. */
export function registerQuotas(program: Command): void {
  const quotas = program.command('quotas').description('quotas: concurrent labs, vCPUs and memory per role, user or class (admins)');
  const subjectOptions = (command: Command) =>
    command
      .option('--role <role>', 'everyone of a role (admin, instructor, student)')
      .option('--user <name>', 'one user (username or id): wins over their role, limit by limit')
      .option('--class <id>', 'each student of a class, for the labs of its assignments');

  quotas
    .command('list')
    .description('every quota')
    .action(async () => {
      const { items } = await ApiClient.fromStore().json<{ items: Quota[] }>('GET', '/api/v1/quotas');
      emit({ items }, () =>
        items.length
          ? [
              `${'SCOPE'.padEnd(6)} ${'SUBJECT'.padEnd(24)} ${'LABS'.padStart(5)} ${'VCPUS'.padStart(6)} ${'MEMORY'.padStart(10)}`,
              ...items.map(
                (q) =>
                  `${q.scope.padEnd(6)} ${q.subjectName.padEnd(24)} ${shown(q.maxLabs).padStart(5)} ${shown(q.maxVcpus).padStart(6)} ${shown(q.maxMemoryMiB, ' MiB').padStart(10)}`,
              ),
            ].join('\n')
          : 'no quotas (every user has the default: CTP_MAX_LABS_PER_USER concurrent labs)',
      );
    });

  subjectOptions(quotas.command('set'))
    .description('create or change a quota; limits not given keep their value, "none" removes one')
    .option('--labs <n>', 'concurrent labs')
    .option('--vcpus <n>', 'vCPUs of all labs at once')
    .option('--memory <mib>', 'memory of all labs at once, MiB')
    .action(async (options: Subject & { labs?: string; vcpus?: string; memory?: string }) => {
      const path = subjectPath(options);
      const body = {
        ...(options.labs !== undefined ? { maxLabs: limit(options.labs) } : {}),
        ...(options.vcpus !== undefined ? { maxVcpus: limit(options.vcpus) } : {}),
        ...(options.memory !== undefined ? { maxMemoryMiB: limit(options.memory) } : {}),
      };
      if (!Object.keys(body).length) throw new CliError(EXIT.usage, 'give at least one of --labs, --vcpus, --memory');
      const quota = await ApiClient.fromStore().json<Quota>('PUT', `/api/v1/quotas/${path}`, { json: body });
      emit(
        quota,
        () =>
          `${quota.scope} ${quota.subjectName}: labs ${shown(quota.maxLabs)}, vCPUs ${shown(quota.maxVcpus)}, memory ${shown(quota.maxMemoryMiB, ' MiB')}`,
      );
    });

  subjectOptions(quotas.command('delete'))
    .description('remove a quota (the role quota or the default applies again)')
    .action(async (options: Subject) => {
      const path = subjectPath(options);
      await ApiClient.fromStore().request('DELETE', `/api/v1/quotas/${path}`);
      emit({ deleted: path }, () => `deleted the quota of ${path.replace('/', ' ')}`);
    });

  quotas
    .command('mine')
    .description('your own limits and what your labs hold now')
    .action(async () => {
      type Effective = { limit: number | null; source: string };
      const me = await ApiClient.fromStore().json<{
        maxLabs: Effective;
        maxVcpus: Effective;
        maxMemoryMiB: Effective;
        used: { labs: number; vcpus: number; memoryMiB: number };
      }>('GET', '/api/v1/me/quota');
      emit(me, () =>
        [
          `labs:   ${me.used.labs} of ${shown(me.maxLabs.limit)} (${me.maxLabs.source})`,
          `vCPUs:  ${me.used.vcpus} of ${shown(me.maxVcpus.limit)} (${me.maxVcpus.source})`,
          `memory: ${me.used.memoryMiB} MiB of ${shown(me.maxMemoryMiB.limit, ' MiB')} (${me.maxMemoryMiB.source})`,
        ].join('\n'),
      );
    });
}
