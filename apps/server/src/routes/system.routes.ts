import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { SystemInfo } from '@ctp/contracts';
import { actorOf } from '../plugins/authentication.js';
import type { SystemService } from '../services/system.service.js';
import { bearer, errorResponses } from './route-helpers.js';

/** The system page's data (staff). */
export const systemRoutes: FastifyPluginAsyncTypebox<{ system: SystemService }> = async (app, { system }) => {
  app.get(
    '/system',
    {
      schema: {
        tags: ['system'],
        summary: 'Hypervisor in use (KVM or TCG) and its capabilities, base images, capacity',
        security: bearer,
        response: { 200: SystemInfo, ...errorResponses(401, 403) },
      },
    },
    async (request) => system.info(actorOf(request)),
  );
};
