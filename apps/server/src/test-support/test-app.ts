import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Role } from '@ctp/contracts';
import { buildApp } from '../app.js';
import { loadConfig, type Config } from '../config.js';
import { hashPassword } from '../services/password.js';
import { createImageCatalog } from '../services/image-catalog.js';
import { createServices, type Infrastructure, type Services } from '../services.js';
import { FakeDriver } from '@ctp/hypervisor';
import { openDatabase } from '../db/database.js';
import { resetDatabase, testDatabase } from './test-database.js';

// One scratch data directory per test process, not one per app.
const dataDir = mkdtempSync(path.join(tmpdir(), 'ctp-test-'));
// Stand-ins for the demo images, so that templates naming them validate with the memory driver.
const fakeImagesDir = path.join(dataDir, 'demo-images');
mkdirSync(fakeImagesDir, { recursive: true });
mkdirSync(path.join(fakeImagesDir, 'debian'), { recursive: true });
for (const file of ['vmlinux', 'attacker.initrd', 'target.initrd', 'debian/disk.qcow2', 'debian/vmlinuz', 'debian/initrd'])
  writeFileSync(path.join(fakeImagesDir, file), '');

export interface TestContext {
  app: FastifyInstance;
  services: Services;
  config: Config;
  /** The built-in images the app was made with (the library adds uploaded ones). */
  builtinImages: Infrastructure['images'];
  driver: FakeDriver;
  /** Stops the background workers (if started) and the app. */
  close(): Promise<void>;
}

/** A fresh app on the shared, emptied test database. */
export async function createTestApp(
  overrides: Partial<Config> = {},
  options: { background?: boolean; infra?: Partial<Infrastructure>; webDist?: string | false } = {},
): Promise<TestContext> {
  await resetDatabase();
  const config: Config = {
    ...loadConfig({ CTP_DATA_DIR: dataDir, LOG_LEVEL: 'silent' }),
    jwtSecret: 'test-secret-that-is-long-enough-0123456789',
    schedules: false,
    // Off unless a test is about them: preparing states boots VMs in the background.
    savedStates: false,
    ...overrides,
  };
  const driver = new FakeDriver();
  // The fake's guests are ready as soon as they run; real ones say so on their console.
  const fakeReady = options.infra?.driver ? {} : { guestReady: async () => {} };
  const builtinImages = options.infra?.images ?? createImageCatalog(fakeImagesDir);
  const infra = { driver, ...fakeReady, ...options.infra, images: builtinImages };
  const services = createServices(config, await testDatabase(), infra);
  const app = await buildApp(config, services, false, { webDist: options.webDist ?? false });
  await app.ready();
  // Sessions listen in every test app, as on a server: caching and socket revocation as in production.
  if (options.background) await services.startBackground();
  else await services.sessions.start();
  return {
    app,
    services,
    config,
    builtinImages,
    driver,
    close: async () => {
      if (options.background) await services.stopBackground();
      else await services.sessions.stop();
      await app.close();
    },
  };
}

// Hashing is deliberately slow; tests reuse one hash per password.
const hashes = new Map<string, Promise<string>>();

/** Inserts a user directly (a builder, not the API under test) and returns it with its password. */
export async function createUser(
  ctx: TestContext,
  role: Role,
  username = `${role}-${Math.random().toString(36).slice(2, 8)}`,
  password = 'correct horse battery',
) {
  if (!hashes.has(password)) hashes.set(password, hashPassword(password));
  const row = await ctx.services.repositories.users.insert({ username, role, passwordHash: await hashes.get(password)!, email: null });
  return { ...row, password };
}

/** Signs in through the API and returns the access token and the refresh cookie. */
export async function login(
  ctx: TestContext,
  username: string,
  password: string,
): Promise<{ token: string; cookie: string; response: LightMyRequestResponse }> {
  const response = await ctx.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password } });
  if (response.statusCode !== 200) throw new Error(`login failed: ${response.statusCode} ${response.body}`);
  const cookie = response.cookies.find((c) => c.name === 'ctp_refresh');
  return { token: response.json().accessToken, cookie: cookie?.value ?? '', response };
}

/** Creates a user of the role and signs them in. */
export async function signedIn(ctx: TestContext, role: Role) {
  const user = await createUser(ctx, role);
  const { token } = await login(ctx, user.username, user.password);
  return { user, token, headers: { authorization: `Bearer ${token}` } };
}

/**
 * A second API instance on the same database as `ctx`, as a second server process would be:
 * on a PostgreSQL server (DATABASE_URL) it opens its own pool and LISTEN connection; on PGlite
 * (one process can hold only one) it shares the database object, and NOTIFY still crosses.
 */
export async function createPeerApp(ctx: TestContext): Promise<TestContext & { base: string }> {
  const database = process.env.DATABASE_URL ? await openDatabase({ databaseUrl: process.env.DATABASE_URL }) : ctx.services.database;
  const services = createServices(ctx.config, database, { driver: ctx.services.driver, images: ctx.builtinImages });
  const app = await buildApp(ctx.config, services, false, { webDist: false });
  await app.ready();
  await services.sessions.start();
  await services.eventBus.start();
  await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    app,
    services,
    config: ctx.config,
    builtinImages: ctx.builtinImages,
    driver: ctx.driver,
    base: `ws://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    close: async () => {
      await services.eventBus.stop();
      await services.sessions.stop();
      await app.close();
      if (database !== ctx.services.database) await database.close();
    },
  };
}

/** Makes `teacherId` an instructor of a new class with these students (instructors watch only their students' labs). */
export async function teach(ctx: TestContext, teacherId: string, studentIds: string[], name = 'Class') {
  const row = await ctx.services.repositories.classes.create({ name, description: '', createdBy: teacherId });
  await ctx.services.repositories.classes.enrol(row.id, [], studentIds);
  return row;
}
