import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { PlatformStats, PlatformStatsQuery } from '@ctp/contracts';
import { actorOf } from '../plugins/authentication.js';
import type { StatsService } from '../services/stats.service.js';
import { bearer, errorResponses } from './route-helpers.js';

/** The minute samples behind the admin overview's charts (staff). */
export const statsRoutes: FastifyPluginAsyncTypebox<{ stats: StatsService }> = async (app, { stats }) => {
  app.get(
    '/system/stats',
    {
      schema: {
        tags: ['system'],
        summary: 'How the platform ran, one sample a minute: labs and VMs, provisioning time percentiles, failures, host capacity',
        security: bearer,
        querystring: PlatformStatsQuery,
        response: { 200: PlatformStats, ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => stats.recent(actorOf(request), request.query.hours ?? 24),
  );
};
