import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AskHelpBody, HelpQueueQuery, HelpRequest, HelpRequestList, IdParams } from '@ctp/contracts';
import { actorOf } from '../plugins/authentication.js';
import type { HelpService } from '../services/help.service.js';
import { bearer, errorResponses } from './route-helpers.js';

/** The help queue: students ask on their lab, staff take and resolve (live as `help.*` lab events). */
export const helpRoutes: FastifyPluginAsyncTypebox<{ help: HelpService }> = async (app, { help }) => {
  const tags = ['help'];

  app.post(
    '/labs/:id/help',
    {
      config: { audit: 'help.ask' },
      schema: {
        tags,
        summary: 'Ask for help on this lab, with a message (one request per lab waits at a time)',
        security: bearer,
        params: IdParams,
        body: AskHelpBody,
        response: { 201: HelpRequest, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const asked = await help.ask(actorOf(request), request.params.id, request.body.message);
      request.auditTarget = { type: 'lab', id: request.params.id, details: { helpRequestId: asked.id } };
      return reply.status(201).send(asked);
    },
  );

  app.get(
    '/labs/:id/help',
    {
      schema: {
        tags,
        summary: "The lab's help requests, newest first",
        security: bearer,
        params: IdParams,
        response: { 200: HelpRequestList, ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => help.ofLab(actorOf(request), request.params.id),
  );

  app.get(
    '/help-requests',
    {
      schema: {
        tags,
        summary: 'Staff: the help queue (waiting requests oldest first, or all recent ones)',
        security: bearer,
        querystring: HelpQueueQuery,
        response: { 200: HelpRequestList, ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => help.queue(actorOf(request), request.query.status),
  );

  for (const action of ['take', 'resolve'] as const) {
    app.post(
      `/help-requests/:id/${action}`,
      {
        config: { audit: `help.${action}` },
        schema: {
          tags,
          summary:
            action === 'take'
              ? 'Staff: take an open request (the student sees who comes)'
              : 'Resolve a request (the student who asked: withdraw it)',
          security: bearer,
          params: IdParams,
          response: { 200: HelpRequest, ...errorResponses(400, 401, 403, 404, 409) },
        },
      },
      async (request) => {
        const actor = actorOf(request);
        request.auditTarget = { type: 'help_request', id: request.params.id };
        return action === 'take' ? help.take(actor, request.params.id) : help.resolve(actor, request.params.id);
      },
    );
  }
};
