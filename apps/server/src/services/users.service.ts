import type { CreateUserBody, ListUsersQuery, UpdateUserBody, User, UserList } from '@ctp/contracts';
import { conflict, isUniqueViolation, notFound } from '../errors.js';
import { authorize, type Actor } from '../policy/policy.js';
import { presentUser } from '../presenters/staff.presenter.js';
import type { UsersRepository } from '../repositories/users.repository.js';
import { generatePassword, hashPassword } from './password.js';
import type { SessionsService } from './sessions.service.js';

/** User administration: list, create, change role, disable, reset password; first admin at start. */
export class UsersService {
  constructor(
    private readonly users: UsersRepository,
    private readonly sessions: SessionsService,
  ) {}

  async list(actor: Actor, query: ListUsersQuery): Promise<UserList> {
    authorize(actor, 'user.list');
    const limit = query.limit ?? 50;
    const offset = query.offset ?? 0;
    const { rows, total } = await this.users.list({ limit, offset, search: query.search, role: query.role });
    return { items: rows.map(presentUser), total, limit, offset };
  }

  async get(actor: Actor, id: string): Promise<User> {
    authorize(actor, 'user.read', { ownerId: id });
    const row = await this.users.findById(id);
    if (!row) throw notFound('User');
    return presentUser(row);
  }

  async create(actor: Actor, body: CreateUserBody): Promise<User> {
    authorize(actor, 'user.create');
    const passwordHash = await hashPassword(body.password);
    try {
      return presentUser(await this.users.insert({ username: body.username, email: body.email ?? null, role: body.role, passwordHash }));
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict('A user with this username or email already exists');
      throw error;
    }
  }

  async update(actor: Actor, id: string, body: UpdateUserBody): Promise<User> {
    authorize(actor, 'user.update');
    const current = await this.users.findById(id);
    if (!current) throw notFound('User');
    const losesAdmin = current.role === 'admin' && !current.disabled && ((body.role && body.role !== 'admin') || body.disabled === true);
    if (losesAdmin && (await this.users.countActiveAdmins()) <= 1) {
      throw conflict('This is the last active admin; make another admin first');
    }
    try {
      // Disabling or changing the role ends every session: tokens carry the old epoch.
      const endSessions = body.disabled === true || (body.role !== undefined && body.role !== current.role);
      const row = await this.users.update(id, body, endSessions);
      if (!row) throw notFound('User');
      if (endSessions) await this.sessions.ended(id);
      else await this.sessions.changed(id);
      return presentUser(row);
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict('A user with this email already exists');
      throw error;
    }
  }

  async resetPassword(actor: Actor, id: string, password: string): Promise<void> {
    authorize(actor, 'user.resetPassword');
    const row = await this.users.update(id, { passwordHash: await hashPassword(password) }, true);
    if (!row) throw notFound('User');
    await this.sessions.ended(id);
  }

  /**
   * Creates user `admin` on first start, with the configured password or a generated one,
   * which is returned so it can be shown once. Returns undefined when an admin already exists.
   */
  async ensureFirstAdmin(configuredPassword: string | undefined): Promise<{ password: string; generated: boolean } | undefined> {
    if ((await this.users.countActiveAdmins()) > 0 || (await this.users.findByUsername('admin'))) return undefined;
    const password = configuredPassword ?? generatePassword();
    const created = await this.users.insertIfAbsent({ username: 'admin', role: 'admin', passwordHash: await hashPassword(password) });
    return created ? { password, generated: !configuredPassword } : undefined;
  }
}
