import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { CreateUserBody, IdParams, ListUsersQuery, ResetPasswordBody, UpdateUserBody, User, UserList } from '@ctp/contracts';
import { actorOf } from '../plugins/authentication.js';
import type { UsersService } from '../services/users.service.js';
import { bearer, errorResponses } from './route-helpers.js';

/** User administration (admins). */
export const usersRoutes: FastifyPluginAsyncTypebox<{ users: UsersService }> = async (app, { users }) => {
  const tags = ['users'];

  app.get(
    '/users',
    {
      schema: {
        tags,
        summary: 'List users, with paging and search',
        security: bearer,
        querystring: ListUsersQuery,
        response: { 200: UserList, ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => users.list(actorOf(request), request.query),
  );

  app.post(
    '/users',
    {
      config: { audit: 'user.create' },
      schema: {
        tags,
        summary: 'Create a user',
        security: bearer,
        body: CreateUserBody,
        response: { 201: User, ...errorResponses(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      const user = await users.create(actorOf(request), request.body);
      request.auditTarget = { type: 'user', id: user.id, details: { username: user.username, role: user.role } };
      return reply.status(201).send(user);
    },
  );

  app.get(
    '/users/:id',
    {
      schema: {
        tags,
        summary: 'One user (admins, or the user itself)',
        security: bearer,
        params: IdParams,
        response: { 200: User, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => users.get(actorOf(request), request.params.id),
  );

  app.patch(
    '/users/:id',
    {
      config: { audit: 'user.update' },
      schema: {
        tags,
        summary: 'Change a user: role, disabled, email',
        security: bearer,
        params: IdParams,
        body: UpdateUserBody,
        response: { 200: User, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      request.auditTarget = { type: 'user', id: request.params.id, details: { changes: request.body } };
      return users.update(actorOf(request), request.params.id, request.body);
    },
  );

  app.post(
    '/users/:id/password',
    {
      config: { audit: 'user.reset_password' },
      schema: {
        tags,
        summary: "Reset a user's password (ends their sessions)",
        security: bearer,
        params: IdParams,
        body: ResetPasswordBody,
        response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      await users.resetPassword(actorOf(request), request.params.id, request.body.password);
      return reply.status(204).send(null);
    },
  );
};
