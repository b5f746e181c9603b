import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ApiClient, login } from '../api-client.js';
import { CliError, EXIT } from '../errors.js';
import { emit } from '../output.js';

interface LabSummary {
  id: string;
  name: string;
  status: string;
  ownerUsername?: string;
  expiresAt?: string | null;
}

/** Rows of a CSV with a header line (`username,password,role[,email]`); no quoted commas. */
export function parseCsv(text: string): Record<string, string>[] {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() && !line.startsWith('#'));
  const header = (lines.shift() ?? '').split(',').map((h) => h.trim());
  return lines.map((line) => Object.fromEntries(line.split(',').map((value, i) => [header[i] ?? `column${i}`, value.trim()])));
}

/** `ctp login`, `ctp users import`, `ctp labs list|delete`. */
export function registerPeople(program: Command): void {
  program
    .command('login')
    .description('sign in and keep the session in ~/.config/ctp/session.json (or $CTP_CLI_CONFIG)')
    .requiredOption('--server <url>', 'the platform, e.g. https://labs.example.edu', process.env.CTP_URL)
    .requiredOption('--username <name>')
    .option('--password-stdin', 'read the password from standard input (else $CTP_PASSWORD)')
    .action(async (options: { server: string; username: string; passwordStdin?: boolean }) => {
      const password = options.passwordStdin ? readFileSync(0, 'utf8').trim() : process.env.CTP_PASSWORD;
      if (!password) throw new CliError(EXIT.usage, 'give the password on standard input (--password-stdin) or in $CTP_PASSWORD');
      const session = await login(options.server, options.username, password);
      emit({ server: session.server, username: session.username }, () => `signed in to ${session.server} as ${session.username}`);
    });

  program
    .command('users')
    .description('user accounts')
    .command('import')
    .description('create the users of a CSV file (header: username,password,role[,email]); exit 3 if any row failed')
    .argument('<file>')
    .action(async (file: string) => {
      const api = ApiClient.fromStore();
      const results: { line: number; username: string; created: boolean; error?: string }[] = [];
      for (const [i, row] of parseCsv(readFileSync(file, 'utf8')).entries()) {
        const body = { username: row.username, password: row.password, role: row.role, ...(row.email ? { email: row.email } : {}) };
        try {
          await api.json('POST', '/api/v1/users', { json: body });
          results.push({ line: i + 2, username: row.username ?? '', created: true });
        } catch (error) {
          if (!(error instanceof CliError) || error.exitCode === EXIT.unreachable || error.exitCode === EXIT.auth) throw error;
          results.push({ line: i + 2, username: row.username ?? '', created: false, error: error.message });
        }
      }
      const failed = results.filter((r) => !r.created);
      emit({ created: results.length - failed.length, failed: failed.length, results }, () =>
        results
          .map((r) => (r.created ? `${file}:${r.line}: created ${r.username}` : `${file}:${r.line}: ${r.username}: ${r.error}`))
          .join('\n'),
      );
      if (failed.length) process.exitCode = EXIT.invalid;
    });

  const labs = program.command('labs').description('labs');
  labs
    .command('list')
    .description('your labs (--all: admins everyone’s, instructors also their students’)')
    .option('--all', 'every lab you may watch (admins: all; instructors: their students’)')
    .option('--status <status>')
    .action(async (options: { all?: boolean; status?: string }) => {
      const query = new URLSearchParams({
        limit: '100',
        ...(options.all ? { all: 'true' } : {}),
        ...(options.status ? { status: options.status } : {}),
      });
      const page = await ApiClient.fromStore().json<{ items: LabSummary[]; total: number }>('GET', `/api/v1/labs?${query}`);
      emit(page, () =>
        page.items.length
          ? page.items.map((l) => `${l.id}  ${l.status.padEnd(12)} ${(l.ownerUsername ?? '').padEnd(16)} ${l.name}`).join('\n')
          : 'no labs',
      );
    });
  labs
    .command('delete')
    .description('delete a lab (its VMs and networks go)')
    .argument('<id>')
    .action(async (id: string) => {
      await ApiClient.fromStore().request('DELETE', `/api/v1/labs/${id}`);
      emit({ id, deleting: true }, () => `deleting lab ${id}`);
    });
}
