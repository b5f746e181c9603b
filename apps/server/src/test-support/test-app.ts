import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Role } from '@ctp/contracts';
import { buildApp } from '../app.js';
import { loadConfig, type Config } from '../config.js';
import { hashPassword } from '../services/password.js';
import { createServices, type Services } from '../services.js';
import { resetDatabase, testDatabase } from './test-database.js';

// One scratch data directory per test process, not one per app.
const dataDir = mkdtempSync(path.join(tmpdir(), 'ctp-test-'));

export interface TestContext {
  app: FastifyInstance;
  services: Services;
  config: Config;
}

/** A fresh app on the shared, emptied test database. */
export async function createTestApp(overrides: Partial<Config> = {}): Promise<TestContext> {
  await resetDatabase();
  const config: Config = {
    ...loadConfig({ CTP_DATA_DIR: dataDir, LOG_LEVEL: 'silent' }),
    jwtSecret: 'test-secret-that-is-long-enough-0123456789',
    ...overrides,
  };
  const services = createServices(config, await testDatabase());
  const app = await buildApp(config, services);
  await app.ready();
  return { app, services, config };
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
