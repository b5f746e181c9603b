import type { Config } from './config.js';
import type { Database } from './db/database.js';
import { AuditRepository } from './repositories/audit.repository.js';
import { RefreshTokensRepository } from './repositories/refresh-tokens.repository.js';
import { UsersRepository } from './repositories/users.repository.js';
import { AuditService } from './services/audit.service.js';
import { AuthService } from './services/auth.service.js';
import { loadOrCreateJwtSecret, TokenService } from './services/token.service.js';
import { UsersService } from './services/users.service.js';

export type Services = ReturnType<typeof createServices>;

/** The composition root: every repository and service, wired by hand, in one place. */
export function createServices(config: Config, database: Database) {
  const db = database.db;
  const repositories = {
    users: new UsersRepository(db),
    refreshTokens: new RefreshTokensRepository(db),
    audit: new AuditRepository(db),
  };
  const tokens = new TokenService(loadOrCreateJwtSecret(config.jwtSecret, config.dataDir), config.accessTokenTtlSeconds);
  const audit = new AuditService(repositories.audit);
  const auth = new AuthService(repositories.users, repositories.refreshTokens, repositories.audit, audit, tokens, {
    refreshTtlSeconds: config.refreshTokenTtlSeconds,
    maxFailuresPerAccount: config.loginMaxFailures,
    maxFailuresPerAddress: config.loginMaxFailures * 4,
    windowSeconds: config.loginWindowSeconds,
  });
  const users = new UsersService(repositories.users, repositories.refreshTokens);
  return { database, repositories, tokens, audit, auth, users };
}
