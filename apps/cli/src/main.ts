import { Command, CommanderError } from 'commander';
import { registerClasses } from './commands/classes.js';
import { registerContent } from './commands/content.js';
import { registerHosts } from './commands/hosts.js';
import { registerOperations } from './commands/operations.js';
import { registerPeople } from './commands/people.js';
import { registerQuotas } from './commands/quotas.js';
import { CliError, EXIT } from './errors.js';
import { jsonMode } from './output.js';

const program = new Command('ctp')
  .description(
    'The Cyber Training Platform from the command line. Exit codes: 0 ok, 1 error, 2 usage, 3 invalid input, 4 not signed in or not allowed, 5 server unreachable, 6 not found, 7 conflict (e.g. the platform runs)',
  )
  .option('--json', 'answer JSON on stdout (errors too)')
  .exitOverride()
  .showHelpAfterError();
registerPeople(program);
registerContent(program);
registerClasses(program);
registerOperations(program);
registerHosts(program);
registerQuotas(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and version are not failures; everything else commander refuses is a usage error.
    process.exitCode = error.exitCode === 0 ? 0 : EXIT.usage;
  } else {
    const failure = error instanceof CliError ? error : new CliError(EXIT.error, (error as Error).message);
    if (jsonMode)
      process.stdout.write(
        `${JSON.stringify({ error: { message: failure.message, exitCode: failure.exitCode, details: failure.details } }, null, 2)}\n`,
      );
    else {
      process.stderr.write(`ctp: ${failure.message}\n`);
      if (Array.isArray(failure.details))
        for (const d of failure.details as { field?: string; message: string; line?: number }[])
          process.stderr.write(`  ${d.line ? `line ${d.line}: ` : ''}${d.field ? `${d.field}: ` : ''}${d.message}\n`);
    }
    process.exitCode = failure.exitCode;
  }
}
