import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Host, HostList, IdParams } from '@ctp/contracts';
import { actorOf } from '../plugins/authentication.js';
import type { HostService } from '../services/host.service.js';
import { bearer, errorResponses } from './route-helpers.js';

/** Hypervisor hosts (admins): capacity, use and state; drain and undrain. */
export const hostsRoutes: FastifyPluginAsyncTypebox<{ hosts: HostService }> = async (app, { hosts }) => {
  app.get(
    '/hosts',
    {
      schema: {
        tags: ['hosts'],
        summary: 'Admin: every hypervisor host with its capacity, what labs hold on it, its state and last heartbeat',
        security: bearer,
        response: { 200: HostList, ...errorResponses(401, 403) },
      },
    },
    async (request) => hosts.list(actorOf(request)),
  );

  app.get(
    '/hosts/:id',
    {
      schema: {
        tags: ['hosts'],
        summary: 'Admin: one hypervisor host',
        security: bearer,
        params: IdParams,
        response: { 200: Host, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => hosts.get(actorOf(request), request.params.id),
  );

  for (const [action, drained] of [
    ['drain', true],
    ['undrain', false],
  ] as const) {
    app.post(
      `/hosts/:id/${action}`,
      {
        config: { audit: `host.${action}` },
        schema: {
          tags: ['hosts'],
          summary: drained
            ? 'Admin: place no new labs on the host (its labs keep running)'
            : 'Admin: place new labs on the host again (queued labs that fit start)',
          security: bearer,
          params: IdParams,
          response: { 200: Host, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (request) => {
        const host = await hosts.setDrained(actorOf(request), request.params.id, drained);
        request.auditTarget = { type: 'host', id: host.id, details: { name: host.name, state: host.state } };
        return host;
      },
    );
  }
};
