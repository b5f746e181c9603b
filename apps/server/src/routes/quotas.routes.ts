import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { MyQuota, Quota, QuotaList, QuotaParams, SetQuotaBody } from '@ctp/contracts';
import { actorOf } from '../plugins/authentication.js';
import type { QuotaService } from '../services/quota.service.js';
import { bearer, errorResponses } from './route-helpers.js';

/** Quotas (admins set them) and one's own effective limits and use. */
export const quotasRoutes: FastifyPluginAsyncTypebox<{ quotas: QuotaService }> = async (app, { quotas }) => {
  const tags = ['quotas'];

  app.get(
    '/quotas',
    {
      schema: {
        tags,
        summary: 'Every quota (per role, user and class)',
        security: bearer,
        response: { 200: QuotaList, ...errorResponses(401, 403) },
      },
    },
    async (request) => quotas.list(actorOf(request)),
  );

  app.put(
    '/quotas/:scope/:subject',
    {
      config: { audit: 'quota.set' },
      schema: {
        tags,
        summary: 'Create or change a quota: limits given are set (null: no limit), limits left out keep their value',
        description:
          'Subject: a role name, a user id or username, or a class id. For each limit a user row wins over the role row; ' +
          'a null falls through to the next (user, role, then CTP_MAX_LABS_PER_USER for concurrent labs). ' +
          'A class quota holds each student, for the labs of that class.',
        security: bearer,
        params: QuotaParams,
        body: SetQuotaBody,
        response: { 200: Quota, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      request.auditTarget = { type: 'quota', id: `${request.params.scope}/${request.params.subject}`, details: { limits: request.body } };
      const quota = await quotas.set(actorOf(request), request.params.scope, request.params.subject, request.body);
      request.auditTarget = {
        type: 'quota',
        id: `${quota.scope}/${quota.subject}`,
        details: { subjectName: quota.subjectName, limits: request.body },
      };
      return quota;
    },
  );

  app.delete(
    '/quotas/:scope/:subject',
    {
      config: { audit: 'quota.delete' },
      schema: {
        tags,
        summary: 'Remove a quota (its subject falls back to the next quota or the default)',
        security: bearer,
        params: QuotaParams,
        response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      request.auditTarget = { type: 'quota', id: `${request.params.scope}/${request.params.subject}` };
      await quotas.remove(actorOf(request), request.params.scope, request.params.subject);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/me/quota',
    {
      schema: {
        tags,
        summary: 'Your own effective limits and what your labs hold now',
        security: bearer,
        response: { 200: MyQuota, ...errorResponses(401) },
      },
    },
    async (request) => quotas.mine(actorOf(request)),
  );
};
