import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { actorOf } from '../plugins/authentication.js';
import type { BackupService } from '../services/backup.service.js';
import { bearer, errorResponses } from './route-helpers.js';

/** The database of a running PGlite installation, for `ctp backup` (admins). */
export const backupRoutes: FastifyPluginAsyncTypebox<{ backups: BackupService }> = async (app, { backups }) => {
  app.get(
    '/system/database-dump',
    {
      config: { audit: 'system.backup' },
      schema: {
        tags: ['system'],
        summary: 'A consistent copy of the embedded (PGlite) database, as a gzipped tarball (ctp backup uses it)',
        security: bearer,
        response: {
          200: {
            description: 'PGlite data directory (tar.gz)',
            content: { 'application/gzip': { schema: Type.String({ format: 'binary' }) } },
          },
          ...errorResponses(401, 403, 409),
        },
      },
    },
    async (request, reply) => {
      request.auditTarget = { type: 'system', details: { what: 'database dump' } };
      const dump = await backups.pgliteDump(actorOf(request));
      // Binary body: the schema documents it as a binary string, the typing only knows strings.
      return reply.type('application/gzip').send(dump as unknown as string);
    },
  );
};
