import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { IdParams, Image, ImageList, ListImagesQuery, SaveVmImageBody, UpdateImageBody, UploadImageQuery } from '@ctp/contracts';
import type { GoldenImageService } from '../services/golden-image.service.js';
import { actorOf } from '../plugins/authentication.js';
import type { ImageLibraryService } from '../services/image-library.service.js';
import { bearer, errorResponses } from './route-helpers.js';

/** The image library: staff upload and edit, admins delete; students never see it. */
export const imagesRoutes: FastifyPluginAsyncTypebox<{ images: ImageLibraryService; goldenImages: GoldenImageService }> = async (
  app,
  { images, goldenImages },
) => {
  const tags = ['images'];
  // Uploads are streamed to disk as they arrive: the body is never buffered, so the JSON body
  // limit does not apply (the storage quota does). This parser only exists in this plugin.
  app.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));

  app.get(
    '/images',
    {
      schema: {
        tags,
        summary: 'The image library (staff), with disk usage and quota',
        security: bearer,
        querystring: ListImagesQuery,
        response: { 200: ImageList, ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => images.list(actorOf(request), request.query),
  );

  app.post(
    '/images',
    {
      config: { audit: 'image.upload' },
      schema: {
        tags,
        summary:
          'Upload an image as the raw body (Content-Type: application/octet-stream): qcow2 (201), raw/vmdk/vdi/vhdx/OVA (converted to qcow2: 202, follow GET /images/{id}), ISO, or a tar of kernel + initrd',
        security: bearer,
        querystring: UploadImageQuery,
        response: { 201: Image, 202: Image, ...errorResponses(400, 401, 403, 409, 415, 507) },
      },
    },
    async (request, reply) => {
      const query = request.query;
      const length = request.headers['content-length'];
      const { image, accepted } = await images.upload(
        actorOf(request),
        query,
        request.body,
        length === undefined ? undefined : Number(length),
      );
      request.auditTarget = { type: 'image', id: image.id, details: { name: image.name, format: query.format, sha256: image.sha256 } };
      return reply.status(accepted ? 202 : 201).send(image);
    },
  );

  app.get(
    '/images/:id',
    {
      schema: {
        tags,
        summary: 'One image, with its conversion status and what uses it',
        security: bearer,
        params: IdParams,
        response: { 200: Image, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => images.get(actorOf(request), request.params.id),
  );

  app.patch(
    '/images/:id',
    {
      config: { audit: 'image.update' },
      schema: {
        tags,
        summary: "Change an image's metadata (renaming is refused while it is used)",
        security: bearer,
        params: IdParams,
        body: UpdateImageBody,
        response: { 200: Image, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => images.update(actorOf(request), request.params.id, request.body),
  );

  app.delete(
    '/images/:id',
    {
      config: { audit: 'image.delete' },
      schema: {
        tags,
        summary: 'Delete an image and its files (409 while a template version or a lab uses it)',
        security: bearer,
        params: IdParams,
        response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const row = await images.remove(actorOf(request), request.params.id);
      request.auditTarget = { type: 'image', id: row.id, details: { name: row.name } };
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/vms/:id/images',
    {
      config: { audit: 'image.saveVm' },
      schema: {
        tags,
        summary:
          "Save a lab VM's disk as a new image (golden image): the VM is stopped, its overlay and base flattened by a job (202; follow GET /images/{id})",
        security: bearer,
        params: IdParams,
        body: SaveVmImageBody,
        response: { 202: Image, ...errorResponses(400, 401, 403, 404, 409, 501) },
      },
    },
    async (request, reply) => {
      const image = await goldenImages.saveVm(actorOf(request), request.params.id, request.body);
      request.auditTarget = { type: 'image', id: image.id, details: { name: image.name, vmId: request.params.id } };
      return reply.status(202).send(image);
    },
  );
};
