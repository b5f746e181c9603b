import os from 'node:os';
import path from 'node:path';

/** Single sign-on through an OpenID Connect provider (authorization code with PKCE). */
export interface OidcConfig {
  issuer: string;
  clientId: string;
  /** Absent for a public client (PKCE alone). */
  clientSecret: string | undefined;
  /** The provider's name on the sign-in button. */
  name: string;
  /** The claim holding roles or groups; a dotted path reaches into objects (`realm_access.roles`). */
  roleClaim: string;
  adminValues: string[];
  instructorValues: string[];
  scopes: string;
  /** The callback URL registered at the provider; else derived from each request's host. */
  redirectUri: string | undefined;
}

/**
 * What this process runs: `all` (the API and a local hypervisor agent, today's single process),
 * `api` (HTTP API, events, admission; no hypervisor work) or `agent` (one host's hypervisor work).
 */
export type ServerRole = 'all' | 'api' | 'agent';

/** Everything the server reads from its environment, with the defaults the README documents. */
export interface Config {
  role: ServerRole;
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
  /** PEM files: when both are set the server itself serves HTTPS and WSS on `port`. */
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  /** A plain-HTTP port that only redirects to HTTPS (needs TLS). */
  httpRedirectPort: number | undefined;
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
  /** VMs restoring from saved states at once per host core (jobs/restore-slots.ts); 0: no limit. */
  restoresPerCore: number;
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
  /** Days the minute samples of the admin overview are kept. */
  statsRetentionDays: number;
  /** `auto` (KVM when it really works, else TCG), `kvm` or `tcg`. */
  accelerator: 'auto' | 'kvm' | 'tcg';
  /** Start lab VMs from a running state saved once per template version (where the driver can). */
  savedStates: boolean;
  /** QEMU's TCG translation cache per VM in MiB (0: QEMU's default, up to 1 GiB). */
  tcgTranslationCacheMiB: number;
  /** Host memory (MiB) warm pools leave free: a refill stops short of it. */
  warmPoolReserveMiB: number;
  /** The key per-lab secrets are derived from (else generated once into the data directory). */
  secretsKey: string | undefined;
  /** Task answers and checks a user may submit per minute. */
  answersPerMinute: number;
  checksPerMinute: number;
  /** Single sign-on, when `CTP_OIDC_ISSUER` is set. */
  oidc: OidcConfig | undefined;
  /** The name this machine registers as a hypervisor host (`CTP_HOST_NAME`, default the hostname). */
  hostName: string;
  /** Where the API would reach this host's agent (`CTP_AGENT_URL`); null for the local process. */
  hostAddress: string | null;
  /** The secret the API and the agents sign their internal channel's tokens with (`CTP_CLUSTER_SECRET`, ≥ 32 characters). */
  clusterSecret: string | undefined;
  /** Where this process's agent server listens for the API's driver calls and consoles (`CTP_AGENT_PORT`); none when unset. */
  agentPort: number | undefined;
  /** The address the agent server binds (`CTP_AGENT_HOST`, default 0.0.0.0). */
  agentHost: string;
  /** Seconds between the local host's heartbeats (and the checks for hosts that stopped). */
  hostHeartbeatSeconds: number;
  /** A host not heard from for this many seconds is marked `down`. */
  hostDownAfterSeconds: number;
  /** `admins`: local passwords only for administrators (everyone else signs in through single sign-on). */
  localPasswords: 'all' | 'admins';
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

function port(env: NodeJS.ProcessEnv, name: string): number {
  const value = int(env, name, 0);
  if (value < 1 || value > 65535) throw new Error(`${name} must be a TCP port (1-65535), got "${env[name]}"`);
  return value;
}

function accelerator(raw: string | undefined): Config['accelerator'] {
  if (!raw) return 'auto';
  if (raw === 'auto' || raw === 'kvm' || raw === 'tcg') return raw;
  throw new Error(`CTP_ACCELERATOR must be auto, kvm or tcg, got "${raw}"`);
}

function tlsPair(env: NodeJS.ProcessEnv): void {
  if (Boolean(env.CTP_TLS_CERT) !== Boolean(env.CTP_TLS_KEY)) throw new Error('CTP_TLS_CERT and CTP_TLS_KEY must be set together');
  if (env.CTP_HTTP_REDIRECT_PORT && !env.CTP_TLS_CERT) throw new Error('CTP_HTTP_REDIRECT_PORT needs CTP_TLS_CERT and CTP_TLS_KEY');
}

function list(raw: string | undefined): string[] {
  return (raw || '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function oidc(env: NodeJS.ProcessEnv): OidcConfig | undefined {
  if (!env.CTP_OIDC_ISSUER) {
    if (env.CTP_OIDC_CLIENT_ID) throw new Error('CTP_OIDC_CLIENT_ID needs CTP_OIDC_ISSUER');
    return undefined;
  }
  let issuer: URL;
  try {
    issuer = new URL(env.CTP_OIDC_ISSUER);
  } catch {
    throw new Error(`CTP_OIDC_ISSUER must be a URL, got "${env.CTP_OIDC_ISSUER}"`);
  }
  if (issuer.protocol !== 'https:' && !['localhost', '127.0.0.1', '[::1]'].includes(issuer.hostname))
    throw new Error('CTP_OIDC_ISSUER must be an https URL (plain http only on loopback, for tests)');
  if (!env.CTP_OIDC_CLIENT_ID) throw new Error('CTP_OIDC_ISSUER needs CTP_OIDC_CLIENT_ID');
  return {
    issuer: env.CTP_OIDC_ISSUER,
    clientId: env.CTP_OIDC_CLIENT_ID,
    clientSecret: env.CTP_OIDC_CLIENT_SECRET || undefined,
    name: env.CTP_OIDC_NAME || 'single sign-on',
    roleClaim: env.CTP_OIDC_ROLE_CLAIM || 'groups',
    adminValues: list(env.CTP_OIDC_ADMIN_VALUES),
    instructorValues: list(env.CTP_OIDC_INSTRUCTOR_VALUES),
    scopes: env.CTP_OIDC_SCOPES || 'openid profile email',
    redirectUri: env.CTP_OIDC_REDIRECT_URI || undefined,
  };
}

function localPasswords(env: NodeJS.ProcessEnv, sso: boolean): Config['localPasswords'] {
  const raw = env.CTP_LOCAL_PASSWORDS || 'all';
  if (raw !== 'all' && raw !== 'admins') throw new Error(`CTP_LOCAL_PASSWORDS must be all or admins, got "${raw}"`);
  // Otherwise nobody but administrators could sign in at all.
  if (raw === 'admins' && !sso) throw new Error('CTP_LOCAL_PASSWORDS=admins needs single sign-on (CTP_OIDC_ISSUER)');
  return raw;
}

function role(env: NodeJS.ProcessEnv): ServerRole {
  const raw = env.CTP_ROLE || 'all';
  if (raw !== 'all' && raw !== 'api' && raw !== 'agent') throw new Error(`CTP_ROLE must be all, api or agent, got "${raw}"`);
  // Split roles are separate processes sharing one database: an embedded PGlite belongs to one process.
  if (raw !== 'all' && !env.DATABASE_URL)
    throw new Error(`CTP_ROLE=${raw} needs DATABASE_URL (a PostgreSQL server): the embedded database cannot be shared by processes`);
  // Agents deliver per-lab secrets (flags) that the API checks answers against: one key for all.
  if (raw !== 'all' && !env.CTP_SECRETS_KEY)
    throw new Error(`CTP_ROLE=${raw} needs CTP_SECRETS_KEY, the same on the API and every agent (per-lab secrets are derived from it)`);
  return raw;
}

/** Reads the configuration from environment variables (and nothing else). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  tlsPair(env);
  const sso = oidc(env);
  return {
    role: role(env),
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
    // Serving TLS ourselves implies everything that CTP_HTTPS turns on (HSTS, Secure cookies).
    https: bool(env, 'CTP_HTTPS', false) || Boolean(env.CTP_TLS_CERT && env.CTP_TLS_KEY),
    tlsCert: env.CTP_TLS_CERT || undefined,
    tlsKey: env.CTP_TLS_KEY || undefined,
    httpRedirectPort: env.CTP_HTTP_REDIRECT_PORT ? int(env, 'CTP_HTTP_REDIRECT_PORT', 0) : undefined,
    trustProxy: bool(env, 'CTP_TRUST_PROXY', false),
    logLevel: env.LOG_LEVEL || 'info',
    bodyLimitBytes: int(env, 'CTP_BODY_LIMIT', 1024 * 1024),
    metricsToken: env.CTP_METRICS_TOKEN || undefined,
    loginMaxFailures: int(env, 'CTP_LOGIN_MAX_FAILURES', 5),
    loginWindowSeconds: int(env, 'CTP_LOGIN_WINDOW', 15 * 60),
    loginDelayMs: int(env, 'CTP_LOGIN_DELAY_MS', 500),
    loginMaxDelayMs: int(env, 'CTP_LOGIN_MAX_DELAY_MS', 10_000),
    jobConcurrency: int(env, 'CTP_JOB_CONCURRENCY', 10),
    restoresPerCore: int(env, 'CTP_RESTORES_PER_CORE', 2),
    schedules: true,
    maxLabsPerUser: int(env, 'CTP_MAX_LABS_PER_USER', 3),
    maxLabLifetimeMinutes: int(env, 'CTP_MAX_LAB_LIFETIME', 8 * 60),
    expiryWarningMinutes: int(env, 'CTP_EXPIRY_WARNING', 10),
    consoleSessionsPerUser: int(env, 'CTP_CONSOLES_PER_USER', 8),
    consoleSessionsPerVm: int(env, 'CTP_CONSOLES_PER_VM', 6),
    imagesDir: env.CTP_IMAGES_DIR || undefined,
    imageQuotaBytes: int(env, 'CTP_IMAGE_QUOTA_MIB', 100 * 1024) * 2 ** 20,
    accelerator: accelerator(env.CTP_ACCELERATOR),
    savedStates: bool(env, 'CTP_SAVED_STATES', true),
    tcgTranslationCacheMiB: int(env, 'CTP_TCG_TB_SIZE_MIB', 32),
    warmPoolReserveMiB: int(env, 'CTP_WARM_POOL_RESERVE_MIB', 1024),
    secretsKey: env.CTP_SECRETS_KEY || undefined,
    answersPerMinute: int(env, 'CTP_ANSWERS_PER_MINUTE', 20),
    checksPerMinute: int(env, 'CTP_CHECKS_PER_MINUTE', 6),
    statsRetentionDays: int(env, 'CTP_STATS_RETENTION_DAYS', 30),
    hostName: env.CTP_HOST_NAME || os.hostname(),
    hostAddress: env.CTP_AGENT_URL || null,
    clusterSecret: env.CTP_CLUSTER_SECRET || undefined,
    agentPort: env.CTP_AGENT_PORT ? port(env, 'CTP_AGENT_PORT') : undefined,
    agentHost: env.CTP_AGENT_HOST || '0.0.0.0',
    hostHeartbeatSeconds: Math.max(1, int(env, 'CTP_HOST_HEARTBEAT_SECONDS', 5)),
    hostDownAfterSeconds: Math.max(1, int(env, 'CTP_HOST_DOWN_AFTER_SECONDS', 30)),
    oidc: sso,
    localPasswords: localPasswords(env, Boolean(sso)),
  };
}
