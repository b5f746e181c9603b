import type { FastifyInstance, FastifyRequest } from 'fastify';
import { unauthorized } from '../errors.js';
import type { Actor } from '../policy/policy.js';
import type { AuthService } from '../services/auth.service.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in user; set on every route not marked `config.public`. */
    actor: Actor | null;
  }
  interface FastifyContextConfig {
    /** Reachable without a token. Routes are authenticated unless they say this. */
    public?: boolean;
  }
}

/** The authenticated actor of a request on a protected route. */
export function actorOf(request: FastifyRequest): Actor {
  if (!request.actor) throw unauthorized();
  return request.actor;
}

/** Authenticates every API route by its bearer token unless the route is marked public. */
export function registerAuthentication(app: FastifyInstance, auth: AuthService): void {
  app.decorateRequest('actor', null);
  app.addHook('onRequest', async (request) => {
    // Only the API needs a token; docs, health and static files are public by nature.
    const url = request.routeOptions.url;
    if (!url?.startsWith('/api/v1/') || request.routeOptions.config?.public) return;
    const header = request.headers.authorization;
    const match = header?.match(/^Bearer ([A-Za-z0-9._~+/=-]+)$/);
    if (!match?.[1]) throw unauthorized(header ? 'Authorization header must be "Bearer <token>"' : 'Authentication required');
    request.actor = await auth.authenticate(match[1]);
  });
}
