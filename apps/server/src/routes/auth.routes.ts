import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import Type from 'typebox';
import { LoginBody, MeResponse, TokenResponse } from '@ctp/contracts';
import { actorOf } from '../plugins/authentication.js';
import type { AuthService, Session } from '../services/auth.service.js';
import { bearer, errorResponses } from './route-helpers.js';

export const REFRESH_COOKIE = 'ctp_refresh';
const COOKIE_PATH = '/api/v1/auth';

interface Options {
  auth: AuthService;
  secureCookies: boolean;
}

/** Sign-in, token refresh, sign-out and the current user. */
export const authRoutes: FastifyPluginAsyncTypebox<Options> = async (app, { auth, secureCookies }) => {
  const setRefreshCookie = (reply: FastifyReply, session: Session) =>
    reply.setCookie(REFRESH_COOKIE, session.refreshToken, {
      httpOnly: true,
      sameSite: 'strict',
      secure: secureCookies,
      path: COOKIE_PATH,
      expires: session.refreshExpiresAt,
    });
  const answer = (session: Session) => ({
    accessToken: session.accessToken,
    expiresIn: session.expiresIn,
    user: session.user,
    permissions: session.permissions,
  });

  app.post(
    '/auth/login',
    {
      config: { public: true, audit: 'auth.login' },
      schema: {
        tags: ['auth'],
        summary: 'Sign in with username and password',
        description: 'Answers a short-lived access token; the rotating refresh token is set as an httpOnly cookie.',
        body: LoginBody,
        response: { 200: TokenResponse, ...errorResponses(400, 401, 429) },
      },
    },
    async (request, reply) => {
      try {
        const session = await auth.login(request.body.username, request.body.password, { ip: request.ip, requestId: request.id });
        setRefreshCookie(reply, session);
        return answer(session);
      } finally {
        request.auditRecorded = true;
      }
    },
  );

  app.post(
    '/auth/refresh',
    {
      config: { public: true, audit: 'auth.refresh' },
      schema: {
        tags: ['auth'],
        summary: 'Exchange the refresh cookie for a new access token (the cookie rotates)',
        response: { 200: TokenResponse, ...errorResponses(401) },
      },
    },
    async (request, reply) => {
      const session = await auth.refresh(request.cookies[REFRESH_COOKIE]);
      request.actor = { id: session.user.id, username: session.user.username, role: session.user.role };
      setRefreshCookie(reply, session);
      return answer(session);
    },
  );

  app.post(
    '/auth/logout',
    {
      config: { public: true, audit: 'auth.logout' },
      schema: {
        tags: ['auth'],
        summary: 'End the session of the refresh cookie',
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      await auth.logout(request.cookies[REFRESH_COOKIE]);
      reply.clearCookie(REFRESH_COOKIE, { path: COOKIE_PATH });
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/auth/me',
    {
      schema: {
        tags: ['auth'],
        summary: 'The signed-in user',
        security: bearer,
        response: { 200: MeResponse, ...errorResponses(401) },
      },
    },
    async (request) => auth.me(actorOf(request)),
  );

  app.post(
    '/auth/logout-all',
    {
      config: { audit: 'auth.logout_all' },
      schema: {
        tags: ['auth'],
        summary: 'Sign out everywhere: end every session of the signed-in user',
        description:
          'Every access token issued before is refused at once on every instance, every refresh token and WebSocket ticket is revoked, and open console and event sockets close with code 4401.',
        security: bearer,
        response: { 204: Type.Null(), ...errorResponses(401) },
      },
    },
    async (request, reply) => {
      await auth.logoutAll(actorOf(request));
      reply.clearCookie(REFRESH_COOKIE, { path: COOKIE_PATH });
      return reply.status(204).send(null);
    },
  );
};
