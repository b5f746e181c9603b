import path from 'node:path';
import type https from 'node:https';
import { buildApp } from './app.js';
import { loadConfig } from './config.js';
import { openDatabase } from './db/database.js';
import { createHypervisorDriver } from './hypervisor.js';
import { loggerOptions } from './logger.js';
import { flushErrorTracking, initErrorTracking } from './plugins/error-tracking.js';
import { reloadCertificatesOnSighup, startHttpRedirect } from './plugins/tls.js';
import { startAgentServer } from './agent/agent.server.js';
import { assertClusterSecret } from './agent/cluster-token.js';
import { createImageCatalog } from './services/image-catalog.js';
import { createServices } from './services.js';

/** Starts the platform: database and migrations, hypervisor, first admin and demo lab, HTTP, jobs. */
async function main(): Promise<void> {
  const config = loadConfig();
  // Before anything starts: an agent that serves others, or advertises an address, needs the secret.
  if (config.agentPort !== undefined) assertClusterSecret(config.clusterSecret, 'when CTP_AGENT_PORT is set');
  if (config.hostAddress) assertClusterSecret(config.clusterSecret, 'when CTP_AGENT_URL is set');
  initErrorTracking(process.env.SENTRY_DSN, { environment: process.env.SENTRY_ENVIRONMENT, release: process.env.SENTRY_RELEASE });
  // Until the app's logger exists, warnings go to stderr as JSON.
  let log: (message: string, details: Record<string, unknown>) => void = (message, details) =>
    process.stderr.write(`${JSON.stringify({ level: 40, msg: message, ...details })}\n`);
  const database = await openDatabase({
    databaseUrl: config.databaseUrl,
    pgliteDir: path.join(config.dataDir, 'pglite'),
    log: (message, details) => log(message, details),
  });
  const driver = await createHypervisorDriver(config);
  const images = createImageCatalog(config.imagesDir);
  const logger = loggerOptions(config.logLevel);
  const services = createServices(config, database, { driver, images, log: (message, details) => log(message, details) });
  const admin = await services.users.ensureFirstAdmin(config.adminPassword);
  if (admin?.generated) {
    // Printed once, on the terminal only: it is never stored in clear anywhere.
    process.stdout.write(
      `\n  First start: created user "admin" with password: ${admin.password}\n  (set CTP_ADMIN_PASSWORD to choose it)\n\n`,
    );
  }
  await services.templates.ensureDemoTemplate();
  await services.templates.ensureDebianPairTemplate();
  await services.images.recoverInterrupted();
  const app = await buildApp(config, services, logger);
  log = (message, details) => app.log.warn(details, message);
  const host = await driver.probe();
  app.log.info({ driver: host.driver, version: host.version, accelerator: host.accelerator, notes: host.notes }, 'hypervisor ready');

  // The API of other hosts reaches this machine's VMs (driver calls, consoles) through it.
  const agentServer =
    config.agentPort !== undefined ? await startAgentServer(config, driver, app.log.child({ component: 'agent-server' })) : undefined;
  const redirect = config.httpRedirectPort ? await startHttpRedirect(config.httpRedirectPort, config.host, config.port) : undefined;
  if (config.tlsCert) reloadCertificatesOnSighup(app.server as unknown as https.Server, config, app.log);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 20_000).unref();
    try {
      redirect?.close();
      await app.close();
      await agentServer?.close();
      await services.stopBackground();
      await database.close();
    } finally {
      clearTimeout(force);
      process.exit(0);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  await app.listen({ port: config.port, host: config.host });
  // Reconcile once at start, before workers pick up jobs that a crash left behind.
  const report = await services.maintenance.reconcile().catch((error: unknown) => {
    app.log.error({ err: error }, 'reconciliation at start failed');
    return undefined;
  });
  if (report) app.log.info(report, 'reconciled with the hypervisor');
  await services.startBackground();
  app.log.info(
    { engine: database.engine, dataDir: config.dataDir, tls: Boolean(config.tlsCert), httpRedirectPort: config.httpRedirectPort },
    'platform ready',
  );
}

main().catch(async (error: unknown) => {
  console.error(error);
  const Sentry = await import('@sentry/node');
  Sentry.captureException(error);
  await flushErrorTracking();
  process.exit(1);
});
