import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AuditList, AuditQuery } from '@ctp/contracts';
import { actorOf } from '../plugins/authentication.js';
import type { AuditService } from '../services/audit.service.js';
import { bearer, errorResponses } from './route-helpers.js';

/** The audit trail (admins). */
export const auditRoutes: FastifyPluginAsyncTypebox<{ audit: AuditService }> = async (app, { audit }) => {
  app.get(
    '/audit',
    {
      schema: {
        tags: ['audit'],
        summary: 'Audit events, newest first, filtered by action, actor, target, outcome and time',
        security: bearer,
        querystring: AuditQuery,
        response: { 200: AuditList, ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => audit.list(actorOf(request), request.query),
  );
};
