import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AnnounceBody, Announcement, AnnouncementList, IdParams } from '@ctp/contracts';
import { actorOf } from '../plugins/authentication.js';
import type { AnnouncementService } from '../services/announcement.service.js';
import { bearer, errorResponses } from './route-helpers.js';

/** Announcements to a whole class (live banner on students' pages: `class.announcement` events). */
export const announcementsRoutes: FastifyPluginAsyncTypebox<{ announcements: AnnouncementService }> = async (app, { announcements }) => {
  const tags = ['classes'];

  app.post(
    '/classes/:id/announcements',
    {
      config: { audit: 'class.announce' },
      schema: {
        tags,
        summary: "Announce to all the class's students (a teacher of the class)",
        security: bearer,
        params: IdParams,
        body: AnnounceBody,
        response: { 201: Announcement, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const made = await announcements.announce(actorOf(request), request.params.id, request.body.message);
      request.auditTarget = { type: 'class', id: request.params.id, details: { announcementId: made.id } };
      return reply.status(201).send(made);
    },
  );

  app.get(
    '/announcements',
    {
      schema: {
        tags,
        summary: 'Recent announcements of the classes you are enrolled in (last 24 hours), newest first',
        security: bearer,
        response: { 200: AnnouncementList, ...errorResponses(401) },
      },
    },
    async (request) => announcements.mine(actorOf(request)),
  );
};
