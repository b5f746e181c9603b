import path from 'node:path';

/** Everything the server reads from its environment, with the defaults the README documents. */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  jwtSecret: string | undefined;
  adminPassword: string | undefined;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  corsOrigins: string[];
  /** Send cookies with `Secure` and redirect plain HTTP (behind a TLS proxy: set `CTP_HTTPS=true`). */
  https: boolean;
  trustProxy: boolean;
  logLevel: string;
  bodyLimitBytes: number;
  /** Failed logins allowed per account and per address within `loginWindowSeconds`. */
  loginMaxFailures: number;
  loginWindowSeconds: number;
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return value;
}

function bool(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes'].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no'].includes(raw.toLowerCase())) return false;
  throw new Error(`${name} must be true or false, got "${raw}"`);
}

/** Reads the configuration from environment variables (and nothing else). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return {
    port: int(env, 'PORT', 8080),
    host: env.HOST || '0.0.0.0',
    dataDir: path.resolve(env.CTP_DATA_DIR || './data'),
    databaseUrl: env.DATABASE_URL || undefined,
    jwtSecret: env.CTP_JWT_SECRET || undefined,
    adminPassword: env.CTP_ADMIN_PASSWORD || undefined,
    accessTokenTtlSeconds: int(env, 'CTP_ACCESS_TOKEN_TTL', 900),
    refreshTokenTtlSeconds: int(env, 'CTP_REFRESH_TOKEN_TTL', 7 * 24 * 3600),
    corsOrigins: (env.CTP_CORS_ORIGINS || '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    https: bool(env, 'CTP_HTTPS', false),
    trustProxy: bool(env, 'CTP_TRUST_PROXY', false),
    logLevel: env.LOG_LEVEL || 'info',
    bodyLimitBytes: int(env, 'CTP_BODY_LIMIT', 1024 * 1024),
    loginMaxFailures: int(env, 'CTP_LOGIN_MAX_FAILURES', 5),
    loginWindowSeconds: int(env, 'CTP_LOGIN_WINDOW', 15 * 60),
  };
}
