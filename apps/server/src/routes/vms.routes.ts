import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { IdParams, Snapshot, SnapshotBody, VmSnapshotParams } from '@ctp/contracts';
import { actorOf } from '../plugins/authentication.js';
import type { LabService } from '../services/lab.service.js';
import { bearer, errorResponses } from './route-helpers.js';

/** Actions on one VM of a lab, for those allowed to control it. */
export const vmsRoutes: FastifyPluginAsyncTypebox<{ labs: LabService }> = async (app, { labs }) => {
  const tags = ['vms'];
  for (const action of ['start', 'stop', 'reboot'] as const) {
    app.post(
      `/vms/:id/${action}`,
      {
        config: { audit: `vm.${action}` },
        schema: {
          tags,
          summary: `${action[0]!.toUpperCase()}${action.slice(1)} a VM`,
          security: bearer,
          params: IdParams,
          response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404, 409) },
        },
      },
      async (request, reply) => {
        await labs.vmAction(actorOf(request), request.params.id, action);
        return reply.status(204).send(null);
      },
    );
  }

  app.get(
    '/vms/:id/snapshots',
    {
      schema: {
        tags,
        summary: "A VM's snapshots",
        security: bearer,
        params: IdParams,
        response: { 200: Type.Array(Snapshot), ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => labs.listSnapshots(actorOf(request), request.params.id),
  );

  app.post(
    '/vms/:id/snapshots',
    {
      config: { audit: 'vm.snapshot' },
      schema: {
        tags,
        summary: 'Take a snapshot (with RAM when the VM runs)',
        security: bearer,
        params: IdParams,
        body: SnapshotBody,
        response: { 201: Snapshot, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => reply.status(201).send(await labs.takeSnapshot(actorOf(request), request.params.id, request.body.name)),
  );

  app.post(
    '/vms/:id/snapshots/:name/revert',
    {
      config: { audit: 'vm.revert' },
      schema: {
        tags,
        summary: 'Return a VM to a snapshot',
        security: bearer,
        params: VmSnapshotParams,
        response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      request.auditTarget = { type: 'vm', id: request.params.id, details: { snapshot: request.params.name } };
      await labs.revertSnapshot(actorOf(request), request.params.id, request.params.name);
      return reply.status(204).send(null);
    },
  );
};
