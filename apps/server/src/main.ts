import path from 'node:path';
import { buildApp } from './app.js';
import { loadConfig } from './config.js';
import { openDatabase } from './db/database.js';
import { loggerOptions } from './logger.js';
import { createServices } from './services.js';

/** Starts the platform: database and migrations, first admin, HTTP server, graceful shutdown. */
async function main(): Promise<void> {
  const config = loadConfig();
  const database = await openDatabase({ databaseUrl: config.databaseUrl, pgliteDir: path.join(config.dataDir, 'pglite') });
  const services = createServices(config, database);
  const admin = await services.users.ensureFirstAdmin(config.adminPassword);
  if (admin?.generated) {
    // Printed once, on the terminal only: it is never stored in clear anywhere.
    process.stdout.write(
      `\n  First start: created user "admin" with password: ${admin.password}\n  (set CTP_ADMIN_PASSWORD to choose it)\n\n`,
    );
  }
  const app = await buildApp(config, services, loggerOptions(config.logLevel));
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 20_000).unref();
    try {
      await app.close();
      await database.close();
    } finally {
      clearTimeout(force);
      process.exit(0);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  await app.listen({ port: config.port, host: config.host });
  app.log.info({ engine: database.engine, dataDir: config.dataDir }, 'platform ready');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
