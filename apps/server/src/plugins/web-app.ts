import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** Where `npm run build` puts the SPA. */
export const DEFAULT_WEB_DIST = path.resolve(fileURLToPath(new URL('../../../web/dist', import.meta.url)));

const API_PATHS = /^\/(api\/|healthz$|readyz$|metrics$)/;

/**
 * Serves the built web app on the API's port: its files as they are (hashed assets cached long),
 * and for any other page a browser asks for, index.html, so that the client routes it. Without a
 * build the API still runs, and says so.
 */
export async function registerWebApp(app: FastifyInstance, distDir: string = DEFAULT_WEB_DIST): Promise<boolean> {
  if (!existsSync(path.join(distDir, 'index.html'))) {
    app.log.warn({ distDir }, 'web app not built (npm run build): serving the API only');
    return false;
  }
  await app.register(fastifyStatic, { root: distDir, serve: false });
  app.get('/*', { schema: { hide: true }, config: { public: true } }, async (request, reply) => {
    const url = decodeURIComponent(request.url.split('?')[0]!);
    const file = path.join(distDir, path.normalize(url));
    if (file.startsWith(distDir + path.sep) && existsSync(file) && statSync(file).isFile()) {
      // Vite names assets by their content hash: they never change under the same name.
      if (url.startsWith('/assets/')) return reply.sendFile(path.relative(distDir, file), { maxAge: '365d', immutable: true });
      return reply.header('cache-control', 'no-cache').sendFile(path.relative(distDir, file), { cacheControl: false });
    }
    if (API_PATHS.test(url) || !request.headers.accept?.includes('text/html')) {
      return reply.status(404).send({ error: { code: 'not_found', message: `No route GET ${url}` } });
    }
    return reply.header('cache-control', 'no-cache').sendFile('index.html', { cacheControl: false });
  });
  return true;
}
