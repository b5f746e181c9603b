import { FakeDriver } from '@ctp/hypervisor';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { createImageCatalog } from '../src/services/image-catalog.js';
import { loggerOptions } from '../src/logger.js';
import { createServices } from '../src/services.js';

// The API as src/main.ts runs it (same configuration from the environment, database, services,
// app, background workers), except for the hypervisor: the read paths benchmarked never reach
// it, and probing QEMU and the host's network would need the machine's host lock.
const config = loadConfig();
const database = await openDatabase({ databaseUrl: config.databaseUrl });
const services = createServices(config, database, { driver: new FakeDriver(), images: createImageCatalog(config.imagesDir) });
const app = await buildApp(config, services, loggerOptions(config.logLevel), { webDist: false });
await app.listen({ port: config.port, host: config.host });
await services.startBackground();
const stop = async () => {
  await app.close();
  await services.stopBackground();
  await database.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
