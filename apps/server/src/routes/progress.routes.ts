import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AssignmentProgress, IdParams } from '@ctp/contracts';
import { actorOf } from '../plugins/authentication.js';
import type { ProgressService } from '../services/progress.service.js';
import { bearer, errorResponses } from './route-helpers.js';

/** The live dashboard's data (the web app refreshes it on each lab and task event). */
export const progressRoutes: FastifyPluginAsyncTypebox<{ progress: ProgressService }> = async (app, { progress }) => {
  app.get(
    '/assignments/:id/progress',
    {
      schema: {
        tags: ['assignments'],
        summary:
          "The class's teachers: one row per student (lab state, time left, each task's state, score, attempts, hints used, last activity)",
        security: bearer,
        params: IdParams,
        response: { 200: AssignmentProgress, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => progress.progress(actorOf(request), request.params.id),
  );
};
