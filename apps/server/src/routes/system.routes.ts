import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AdmissionSettings, AdmissionStatus, SystemInfo } from '@ctp/contracts';
import { actorOf } from '../plugins/authentication.js';
import type { AdmissionService } from '../services/admission.service.js';
import type { SystemService } from '../services/system.service.js';
import { bearer, errorResponses } from './route-helpers.js';

/** The system page's data (staff). */
export const systemRoutes: FastifyPluginAsyncTypebox<{ system: SystemService; admission: AdmissionService }> = async (
  app,
  { system, admission },
) => {
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

  app.get(
    '/system/admission',
    {
      schema: {
        tags: ['system'],
        summary: 'Admission control: overcommit ratios, the limits they give, what labs hold, how many wait',
        security: bearer,
        response: { 200: AdmissionStatus, ...errorResponses(401, 403) },
      },
    },
    async (request) => admission.status(actorOf(request)),
  );

  app.put(
    '/system/admission',
    {
      config: { audit: 'system.admission' },
      schema: {
        tags: ['system'],
        summary: 'Admin: set the overcommit ratios (queued labs that now fit start at once)',
        security: bearer,
        body: AdmissionSettings,
        response: { 200: AdmissionStatus, ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => {
      request.auditTarget = { type: 'system', id: 'admission', details: { ...request.body } };
      return admission.update(actorOf(request), request.body);
    },
  );
};
