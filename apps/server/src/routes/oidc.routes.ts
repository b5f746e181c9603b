import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { SignInMethods } from '@ctp/contracts';
import { AppError } from '../errors.js';
import { SIGN_IN_TTL_SECONDS, type OidcService } from '../services/oidc.service.js';
import { setRefreshCookie } from './auth.routes.js';
import { errorResponses } from './route-helpers.js';

const PENDING_COOKIE = 'ctp_oidc';
const PENDING_PATH = '/api/v1/auth/oidc';

interface Options {
  oidc: OidcService | undefined;
  localPasswords: 'all' | 'admins';
  secureCookies: boolean;
}

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** A refused sign-in, for a person in a browser: the status says it, the page explains it. */
function refusalPage(reply: FastifyReply, error: AppError): FastifyReply {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-in refused</title></head>
<body><main><h1>Sign-in refused</h1><p role="alert" data-code="${escapeHtml(error.code)}">${escapeHtml(error.message)}</p>
<p><a href="/">Back to the sign-in page</a></p></main></body></html>`;
  return reply.status(error.status).type('text/html; charset=utf-8').send(html);
}

/** Single sign-on through the OpenID Connect provider, and the sign-in methods offered. */
export const oidcRoutes: FastifyPluginAsyncTypebox<Options> = async (app, { oidc, localPasswords, secureCookies }) => {
  const origin = (request: FastifyRequest) => `${request.protocol}://${request.host}`;

  app.get(
    '/auth/methods',
    {
      config: { public: true },
      schema: { tags: ['auth'], summary: 'How users may sign in here (local passwords, single sign-on)', response: { 200: SignInMethods } },
    },
    async () => ({
      localPasswords,
      sso: oidc ? { name: oidc.name, loginUrl: `${PENDING_PATH}/login` } : null,
    }),
  );

  app.get(
    '/auth/oidc/login',
    {
      config: { public: true },
      schema: {
        tags: ['auth'],
        summary: 'Start single sign-on: redirects the browser to the identity provider',
        description: 'State, nonce and PKCE verifier travel in a signed httpOnly cookie until the provider redirects back.',
        response: { 302: Type.Null(), ...errorResponses(404, 503) },
      },
    },
    async (request, reply) => {
      if (!oidc) throw new AppError(404, 'sso_not_configured', 'Single sign-on is not configured on this platform');
      const { url, pending } = await oidc.begin(oidc.redirectUri(origin(request)));
      // Lax, not strict: the provider's redirect back is a cross-site top-level navigation.
      reply.setCookie(PENDING_COOKIE, pending, {
        httpOnly: true,
        sameSite: 'lax',
        secure: secureCookies,
        path: PENDING_PATH,
        maxAge: SIGN_IN_TTL_SECONDS,
      });
      return reply.redirect(url, 302);
    },
  );

  app.get(
    '/auth/oidc/callback',
    {
      config: { public: true },
      schema: {
        tags: ['auth'],
        summary: 'Where the identity provider sends the browser back; signs in and redirects to the app',
        description:
          'On success the refresh cookie is set and the browser goes to `/`, where the app restores the session. A refusal answers 4xx with a page that says why (audited).',
        querystring: Type.Object(
          {
            code: Type.Optional(Type.String({ maxLength: 4096 })),
            state: Type.Optional(Type.String({ maxLength: 1024 })),
            iss: Type.Optional(Type.String({ maxLength: 1024 })),
            error: Type.Optional(Type.String({ maxLength: 256 })),
            error_description: Type.Optional(Type.String({ maxLength: 2048 })),
            session_state: Type.Optional(Type.String({ maxLength: 1024 })),
          },
          { additionalProperties: false },
        ),
        response: { 303: Type.Null() },
      },
    },
    async (request, reply) => {
      // One sign-in per started flow: whatever happens, the pending state is spent.
      reply.clearCookie(PENDING_COOKIE, { path: PENDING_PATH });
      if (!oidc) return refusalPage(reply, new AppError(404, 'sso_not_configured', 'Single sign-on is not configured on this platform'));
      try {
        const session = await oidc.complete(new URL(request.url, origin(request)), request.cookies[PENDING_COOKIE], {
          ip: request.ip,
          requestId: request.id,
        });
        setRefreshCookie(reply, session, secureCookies);
        return reply.redirect('/', 303);
      } catch (error) {
        if (error instanceof AppError) return refusalPage(reply, error);
        throw error;
      }
    },
  );
};
