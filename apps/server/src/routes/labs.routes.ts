import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  CreateLabBody,
  ExtendLabBody,
  IdParams,
  Lab,
  LabDetail,
  LabList,
  LabMemberBody,
  LabMemberParams,
  ListLabsQuery,
} from '@ctp/contracts';
import { actorOf } from '../plugins/authentication.js';
import type { LabService } from '../services/lab.service.js';
import { bearer, errorResponses } from './route-helpers.js';

/** Labs: start one from a template, watch it, act on it, share it. */
export const labsRoutes: FastifyPluginAsyncTypebox<{ labs: LabService }> = async (app, { labs }) => {
  const tags = ['labs'];

  app.post(
    '/labs',
    {
      config: { audit: 'lab.create' },
      schema: {
        tags,
        summary: 'Start a lab from a template: answers 202 at once, provisioning runs as a job',
        security: bearer,
        body: CreateLabBody,
        response: { 202: Lab, ...errorResponses(400, 401, 403, 404, 409, 429) },
      },
    },
    async (request, reply) => {
      const lab = await labs.create(actorOf(request), request.body);
      request.auditTarget = { type: 'lab', id: lab.id, details: { templateId: lab.templateId } };
      return reply.status(202).send(lab);
    },
  );

  app.get(
    '/labs',
    {
      schema: {
        tags,
        summary: 'Your labs and the ones shared with you; staff may ask for all (`all=true`, `ownerId`)',
        security: bearer,
        querystring: ListLabsQuery,
        response: { 200: LabList, ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => labs.list(actorOf(request), request.query),
  );

  app.get(
    '/labs/:id',
    {
      schema: {
        tags,
        summary: 'A lab with its networks, VMs, progress and members',
        security: bearer,
        params: IdParams,
        response: { 200: LabDetail, ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => labs.get(actorOf(request), request.params.id),
  );

  for (const action of ['start', 'stop', 'reset'] as const) {
    app.post(
      `/labs/:id/${action}`,
      {
        config: { audit: `lab.${action}` },
        schema: {
          tags,
          summary:
            { start: 'Start a stopped lab', stop: 'Stop every VM of a lab', reset: 'Return every VM to its initial snapshot' }[action] +
            ' (202, runs as a job)',
          security: bearer,
          params: IdParams,
          response: { 202: Lab, ...errorResponses(400, 401, 403, 404, 409) },
        },
      },
      async (request, reply) => reply.status(202).send(await labs.act(actorOf(request), request.params.id, action)),
    );
  }

  app.delete(
    '/labs/:id',
    {
      config: { audit: 'lab.delete' },
      schema: {
        tags,
        summary: 'Delete a lab: its VMs, disks and networks are destroyed by a job (202)',
        security: bearer,
        params: IdParams,
        response: { 202: Lab, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => reply.status(202).send(await labs.act(actorOf(request), request.params.id, 'delete')),
  );

  app.post(
    '/labs/:id/extend',
    {
      config: { audit: 'lab.extend' },
      schema: {
        tags,
        summary: 'Push the expiry back',
        security: bearer,
        params: IdParams,
        body: ExtendLabBody,
        response: { 200: Lab, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => labs.extend(actorOf(request), request.params.id, request.body.minutes),
  );

  app.post(
    '/labs/:id/members',
    {
      config: { audit: 'lab.add_member' },
      schema: {
        tags,
        summary: 'Share a lab with a user (team exercises)',
        security: bearer,
        params: IdParams,
        body: LabMemberBody,
        response: { 200: LabDetail, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      request.auditTarget = { type: 'lab', id: request.params.id, details: { userId: request.body.userId } };
      return labs.addMember(actorOf(request), request.params.id, request.body.userId);
    },
  );

  app.delete(
    '/labs/:id/members/:userId',
    {
      config: { audit: 'lab.remove_member' },
      schema: {
        tags,
        summary: 'Stop sharing a lab with a user',
        security: bearer,
        params: LabMemberParams,
        response: { 200: LabDetail, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      request.auditTarget = { type: 'lab', id: request.params.id, details: { userId: request.params.userId } };
      return labs.removeMember(actorOf(request), request.params.id, request.params.userId);
    },
  );
};
