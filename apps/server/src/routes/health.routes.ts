import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { HealthResponse, ReadyResponse } from '@ctp/contracts';

/** Liveness (the process answers) and readiness (the database answers, and this instance hears its notifications). */
export const healthRoutes: FastifyPluginAsyncTypebox<{ ping: () => Promise<void>; engine: string; listening?: () => boolean }> = async (
  app,
  { ping, engine, listening = () => true },
) => {
  app.get(
    '/healthz',
    { config: { public: true }, schema: { tags: ['operations'], summary: 'The process is alive', response: { 200: HealthResponse } } },
    async () => ({ status: 'ok' as const }),
  );
  app.get(
    '/readyz',
    {
      config: { public: true },
      schema: {
        tags: ['operations'],
        summary: 'The database is reachable and its notifications are heard',
        response: { 200: ReadyResponse, 503: ReadyResponse },
      },
    },
    async (_request, reply) => {
      try {
        await ping();
      } catch {
        return reply.status(503).send({ status: 'not_ready', database: engine, reason: 'the database does not answer' });
      }
      if (!listening()) {
        return reply.status(503).send({ status: 'not_ready', database: engine, reason: 'reconnecting to database notifications' });
      }
      return { status: 'ready' as const, database: engine };
    },
  );
};
