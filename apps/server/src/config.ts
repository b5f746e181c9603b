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
  /** Bearer token `/metrics` requires; without one, only loopback callers may scrape. */
  metricsToken: string | undefined;
  /** Failed logins allowed per (account, address) pair within `loginWindowSeconds` (×4 per address); past it an account is slowed down. */
  loginMaxFailures: number;
  loginWindowSeconds: number;
  /** First delay before checking the password of an account with too many failures; it doubles per failure. */
  loginDelayMs: number;
  loginMaxDelayMs: number;
  /** Lab operations (provision, reset, ...) run at once by this instance. */
  jobConcurrency: number;
  /** Run the scheduled expiry sweep and reconciliation (off in unit tests). */
  schedules: boolean;
  maxLabsPerUser: number;
  maxLabLifetimeMinutes: number;
  expiryWarningMinutes: number;
  consoleSessionsPerUser: number;
  consoleSessionsPerVm: number;
  /** Where the demo and registered base images live. */
  imagesDir: string | undefined;
  /** Disk space the image library may use, bytes (`CTP_IMAGE_QUOTA_MIB`). */
  imageQuotaBytes: number;
  /** `auto` (KVM when it really works, else TCG), `kvm` or `tcg`. */
  accelerator: 'auto' | 'kvm' | 'tcg';
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

function accelerator(raw: string | undefined): Config['accelerator'] {
  if (!raw) return 'auto';
  if (raw === 'auto' || raw === 'kvm' || raw === 'tcg') return raw;
  throw new Error(`CTP_ACCELERATOR must be auto, kvm or tcg, got "${raw}"`);
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
    metricsToken: env.CTP_METRICS_TOKEN || undefined,
    loginMaxFailures: int(env, 'CTP_LOGIN_MAX_FAILURES', 5),
    loginWindowSeconds: int(env, 'CTP_LOGIN_WINDOW', 15 * 60),
    loginDelayMs: int(env, 'CTP_LOGIN_DELAY_MS', 500),
    loginMaxDelayMs: int(env, 'CTP_LOGIN_MAX_DELAY_MS', 10_000),
    jobConcurrency: int(env, 'CTP_JOB_CONCURRENCY', 10),
    schedules: true,
    maxLabsPerUser: int(env, 'CTP_MAX_LABS_PER_USER', 3),
    maxLabLifetimeMinutes: int(env, 'CTP_MAX_LAB_LIFETIME', 8 * 60),
    expiryWarningMinutes: int(env, 'CTP_EXPIRY_WARNING', 10),
    consoleSessionsPerUser: int(env, 'CTP_CONSOLES_PER_USER', 8),
    consoleSessionsPerVm: int(env, 'CTP_CONSOLES_PER_VM', 6),
    imagesDir: env.CTP_IMAGES_DIR || undefined,
    imageQuotaBytes: int(env, 'CTP_IMAGE_QUOTA_MIB', 100 * 1024) * 2 ** 20,
    accelerator: accelerator(env.CTP_ACCELERATOR),
  };
}
