import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { HealthResponse, ReadyResponse } from '@ctp/contracts';

/** Liveness (the process answers) and readiness (the database answers). */
export const healthRoutes: FastifyPluginAsyncTypebox<{ ping: () => Promise<void>; engine: string }> = async (app, { ping, engine }) => {
  app.get(
    '/healthz',
    { config: { public: true }, schema: { tags: ['operations'], summary: 'The process is alive', response: { 200: HealthResponse } } },
    async () => ({ status: 'ok' as const }),
  );
  app.get(
    '/readyz',
    {
      config: { public: true },
      schema: { tags: ['operations'], summary: 'The database is reachable', response: { 200: ReadyResponse, 503: ReadyResponse } },
    },
    async (_request, reply) => {
      try {
        await ping();
        return { status: 'ready' as const, database: engine };
      } catch {
        return reply.status(503).send({ status: 'not_ready', database: engine });
      }
    },
  );
};
