import path from 'node:path';
import type https from 'node:https';
import { pino } from 'pino';
import type { HypervisorDriver } from '@ctp/hypervisor';
import type { FastifyBaseLogger } from 'fastify';
import { startAgentServer } from './agent/agent.server.js';
import { assertClusterSecret } from './agent/cluster-token.js';
import { buildApp } from './app.js';
import { loadConfig, type Config } from './config.js';
import { openDatabase, type Database } from './db/database.js';
import { createHypervisorDriver } from './hypervisor.js';
import { loggerOptions } from './logger.js';
import { flushErrorTracking, initErrorTracking } from './plugins/error-tracking.js';
import { reloadCertificatesOnSighup, startHttpRedirect } from './plugins/tls.js';
import { createImageCatalog } from './services/image-catalog.js';
import { createServices, type Services } from './services.js';

type Log = (message: string, details: Record<string, unknown>) => void;

/**
 * The one wiring point of the hypervisor per role: which driver the services get, and whether
 * this process serves the agent channel (driver RPC and console proxy on CTP_AGENT_PORT).
 * `agent` and `all` drive this machine's hypervisor and serve the channel when CTP_AGENT_PORT is
 * set. `api` does no hypervisor work of its own: lab operations run on the agents through their
 * queues, and the services' cluster driver sends each synchronous VM call (consoles, snapshots,
 * power actions, guest exec) to the agent of the VM's host; it has no hypervisor driver at all.
 */
async function hypervisorFor(config: Config): Promise<{ driver: HypervisorDriver | undefined; servesAgentChannel: boolean }> {
  if (config.role === 'api') return { driver: undefined, servesAgentChannel: false };
  const driver = await createHypervisorDriver(config);
  return { driver, servesAgentChannel: config.agentPort !== undefined };
}

/** The agent channel (agentrpc's server), when this process serves it; closed on shutdown. */
async function agentChannel(config: Config, driver: HypervisorDriver, serves: boolean, logger: FastifyBaseLogger) {
  return serves ? startAgentServer(config, driver, logger.child({ component: 'agent-server' })) : undefined;
}

/**
 * Starts the process's role. `all` and `api`: database and migrations, first admin and demo
 * templates, HTTP, background work; `all` is also the local agent. `agent`: database, hypervisor,
 * its host's registration, heartbeat, queues and reconciliation; no public HTTP API.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  // Before anything starts: an agent that serves others, or advertises an address, needs the secret.
  if (config.agentPort !== undefined) assertClusterSecret(config.clusterSecret, 'when CTP_AGENT_PORT is set');
  if (config.hostAddress) assertClusterSecret(config.clusterSecret, 'when CTP_AGENT_URL is set');
  initErrorTracking(process.env.SENTRY_DSN, { environment: process.env.SENTRY_ENVIRONMENT, release: process.env.SENTRY_RELEASE });
  // Until the app's logger exists, warnings go to stderr as JSON.
  let log: Log = (message, details) => process.stderr.write(`${JSON.stringify({ level: 40, msg: message, ...details })}\n`);
  const database = await openDatabase({
    databaseUrl: config.databaseUrl,
    pgliteDir: path.join(config.dataDir, 'pglite'),
    log: (message, details) => log(message, details),
  });
  const { driver, servesAgentChannel } = await hypervisorFor(config);
  const images = createImageCatalog(config.imagesDir);
  const services = createServices(config, database, { driver, images, log: (message, details) => log(message, details) });
  if (config.role === 'agent') {
    const logger = pino(loggerOptions(config.logLevel) as pino.LoggerOptions);
    log = (message, details) => logger.warn(details, message);
    // An agent always has its driver (only the `api` role has none).
    await runAgent(config, database, services, driver!, logger, servesAgentChannel);
  } else {
    await runApi(config, database, services, driver, servesAgentChannel, (next) => (log = next));
  }
}

/** The API (and, in the `all` role, the local agent with it). */
async function runApi(
  config: Config,
  database: Database,
  services: Services,
  driver: HypervisorDriver | undefined,
  servesAgentChannel: boolean,
  setLog: (log: Log) => void,
) {
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
  const app = await buildApp(config, services, loggerOptions(config.logLevel));
  setLog((message, details) => app.log.warn(details, message));
  if (driver) {
    const host = await driver.probe();
    app.log.info({ driver: host.driver, version: host.version, accelerator: host.accelerator, notes: host.notes }, 'hypervisor ready');
  }
  // The API of other hosts reaches this machine's VMs (driver calls, consoles) through it.
  const agentServer = driver ? await agentChannel(config, driver, servesAgentChannel, app.log) : undefined;
  const redirect = config.httpRedirectPort ? await startHttpRedirect(config.httpRedirectPort, config.host, config.port) : undefined;
  if (config.tlsCert) reloadCertificatesOnSighup(app.server as unknown as https.Server, config, app.log);
  onShutdown(app.log, async () => {
    redirect?.close();
    await app.close();
    await agentServer?.close();
    await services.stopBackground();
    await database.close();
  });
  await app.listen({ port: config.port, host: config.host });
  if (config.role === 'all') await reconcileAtStart(services, app.log);
  await services.startBackground();
  app.log.info(
    {
      role: config.role,
      engine: database.engine,
      dataDir: config.dataDir,
      tls: Boolean(config.tlsCert),
      httpRedirectPort: config.httpRedirectPort,
    },
    'platform ready',
  );
}

/** A hypervisor agent: one host's work, no public API. */
async function runAgent(
  config: Config,
  database: Database,
  services: Services,
  driver: HypervisorDriver,
  logger: pino.Logger,
  servesAgentChannel: boolean,
) {
  const host = await driver.probe();
  logger.info({ driver: host.driver, version: host.version, accelerator: host.accelerator, notes: host.notes }, 'hypervisor ready');
  // Registered (or back from `down`) before reconciling, so that the reconciliation knows its labs.
  const hostId = await services.hosts.ensureLocal();
  const agentServer = await agentChannel(config, driver, servesAgentChannel, logger);
  onShutdown(logger, async () => {
    await agentServer?.close();
    await services.stopBackground();
    await database.close();
  });
  await reconcileAtStart(services, logger);
  await services.startBackground();
  // `agent ready`: registered and working its host's queues (what the cluster tests wait for).
  logger.info(
    { role: config.role, hostId, hostName: config.hostName, agentPort: config.agentPort, dataDir: config.dataDir },
    'agent ready',
  );
}

/** Reconcile once at start, before workers pick up jobs that a crash left behind. */
async function reconcileAtStart(services: Services, logger: Pick<pino.Logger, 'info' | 'error'>): Promise<void> {
  const report = await services.maintenance.reconcile().catch((error: unknown) => {
    logger.error({ err: error }, 'reconciliation at start failed');
    return undefined;
  });
  if (report) logger.info(report, 'reconciled with the hypervisor');
}

function onShutdown(logger: Pick<pino.Logger, 'info'>, stop: () => Promise<void>): void {
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 20_000).unref();
    try {
      await stop();
    } finally {
      clearTimeout(force);
      process.exit(0);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch(async (error: unknown) => {
  console.error(error);
  const Sentry = await import('@sentry/node');
  Sentry.captureException(error);
  await flushErrorTracking();
  process.exit(1);
});
