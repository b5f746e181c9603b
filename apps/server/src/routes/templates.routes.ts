import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import {
  CtfdImportBody,
  CtfdImportResult,
  IdParams,
  LabTemplateConfig,
  ListTemplatesQuery,
  Template,
  TemplateBody,
  TemplateList,
  TemplateVerification,
  TemplateView,
  WarmPool,
  WarmPoolBody,
} from '@ctp/contracts';
import { actorOf } from '../plugins/authentication.js';
import type { TemplateService } from '../services/template.service.js';
import type { WarmPoolService } from '../services/warm-pool.service.js';
import type { VerificationService } from '../services/verification.service.js';
import { bearer, errorResponses } from './route-helpers.js';

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml'];

/** Lab templates: the catalog for students, authoring for instructors and admins. */
export const templatesRoutes: FastifyPluginAsyncTypebox<{
  templates: TemplateService;
  warmPools: WarmPoolService;
  verifications: VerificationService;
}> = async (app, { templates, warmPools, verifications }) => {
  const tags = ['templates'];
  // An uploaded YAML file is the same as `{ "config": "<the YAML text>" }`.
  app.addContentTypeParser(YAML_TYPES, { parseAs: 'string' }, (_request, body, done) => done(null, { config: body }));

  app.get(
    '/templates/schema',
    { config: { public: true }, schema: { tags, summary: 'The lab template format as JSON Schema', response: { 200: Type.Unknown() } } },
    async () => LabTemplateConfig,
  );

  app.get(
    '/templates',
    {
      schema: {
        tags,
        summary: 'Templates: published ones for students, all for staff',
        security: bearer,
        querystring: ListTemplatesQuery,
        response: { 200: TemplateList, ...errorResponses(400, 401) },
      },
    },
    async (request) => templates.list(actorOf(request), request.query),
  );

  app.post(
    '/templates',
    {
      config: { audit: 'template.create' },
      schema: {
        tags,
        summary: 'Create a template from JSON (`{config}`) or an uploaded YAML file (Content-Type: application/yaml)',
        security: bearer,
        body: TemplateBody,
        response: { 201: Template, ...errorResponses(400, 401, 403, 415) },
      },
    },
    async (request, reply) => {
      const template = await templates.create(actorOf(request), request.body.config);
      request.auditTarget = { type: 'template', id: template.id, details: { title: template.title } };
      return reply.status(201).send(template);
    },
  );

  app.get(
    '/templates/:id',
    {
      schema: {
        tags,
        summary: 'One template: the whole config for staff, the student view (no settings, hidden VMs or answers) for students',
        security: bearer,
        params: IdParams,
        response: { 200: TemplateView, ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => templates.get(actorOf(request), request.params.id),
  );

  app.put(
    '/templates/:id',
    {
      config: { audit: 'template.update' },
      schema: {
        tags,
        summary: 'Store a new version of a template (labs already started keep theirs)',
        security: bearer,
        params: IdParams,
        body: TemplateBody,
        response: { 200: Template, ...errorResponses(400, 401, 403, 404, 415) },
      },
    },
    async (request) => templates.update(actorOf(request), request.params.id, request.body.config),
  );

  for (const [action, status] of [
    ['publish', 'published'],
    ['archive', 'archived'],
  ] as const) {
    app.post(
      `/templates/:id/${action}`,
      {
        config: { audit: `template.${action}` },
        schema: {
          tags,
          summary: `${action === 'publish' ? 'Publish' : 'Archive'} a template`,
          security: bearer,
          params: IdParams,
          response: { 200: Template, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (request) => templates.setStatus(actorOf(request), request.params.id, status),
    );
  }

  app.post(
    '/templates/import/ctfd',
    {
      config: { audit: 'template.import_ctfd' },
      schema: {
        tags,
        summary: "Turn a CTFd challenge.yml into a task for a template's `tasks` (fields that cannot be carried over are listed)",
        security: bearer,
        body: CtfdImportBody,
        response: { 200: CtfdImportResult, ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => templates.importCtfd(actorOf(request), request.body.challenge),
  );

  app.get(
    '/templates/:id/warm-pool',
    {
      schema: {
        tags,
        summary: "The template's warm pool: labs kept provisioned and unassigned (staff who may edit the template)",
        security: bearer,
        params: IdParams,
        response: { 200: WarmPool, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => warmPools.get(actorOf(request), request.params.id),
  );

  app.put(
    '/templates/:id/warm-pool',
    {
      config: { audit: 'template.warm_pool' },
      schema: {
        tags,
        summary:
          'Keep `size` labs of a published template provisioned and unassigned: `POST /api/v1/labs` hands one over at once (0: no pool); refilled in the background within the host capacity',
        security: bearer,
        params: IdParams,
        body: WarmPoolBody,
        response: { 200: WarmPool, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      request.auditTarget = { type: 'template', id: request.params.id, details: { warmPoolSize: request.body.size } };
      return warmPools.setSize(actorOf(request), request.params.id, request.body.size);
    },
  );

  app.get(
    '/templates/:id/export',
    {
      schema: {
        tags,
        summary: "The template's current version as YAML (staff only: it holds answers and settings)",
        security: bearer,
        params: IdParams,
        response: {
          200: { description: 'YAML', content: { 'application/yaml': { schema: Type.String() } } },
          ...errorResponses(400, 401, 403, 404),
        },
      },
    },
    async (request, reply) => reply.type('application/yaml').send(await templates.export(actorOf(request), request.params.id)),
  );

  app.post(
    '/templates/:id/verify',
    {
      config: { audit: 'template.verify' },
      schema: {
        tags,
        summary:
          "Pre-class verification (staff): a fresh lab runs each task's reference solution (`solution.run`), its check or answer, as a job",
        security: bearer,
        params: IdParams,
        response: { 202: TemplateVerification, ...errorResponses(400, 401, 403, 404, 409, 429) },
      },
    },
    async (request, reply) => {
      const verification = await verifications.request(actorOf(request), request.params.id);
      request.auditTarget = {
        type: 'template',
        id: request.params.id,
        details: { verificationId: verification.id, labId: verification.labId },
      };
      return reply.status(202).send(verification);
    },
  );

  app.get(
    '/templates/:id/verification',
    {
      schema: {
        tags,
        summary: "The template's last verification, per task (staff only)",
        security: bearer,
        params: IdParams,
        response: { 200: TemplateVerification, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => verifications.latest(actorOf(request), request.params.id),
  );
};
