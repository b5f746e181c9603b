import { randomUUID } from 'node:crypto';
import fastifyCookie from '@fastify/cookie';
import fastifyCors from '@fastify/cors';
import fastifyHelmet from '@fastify/helmet';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { registerAjvFormats, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import type { Config } from './config.js';
import { registerAuditTrail } from './plugins/audit-trail.js';
import { registerAuthentication } from './plugins/authentication.js';
import { registerErrorHandler } from './plugins/error-handler.js';
import { registerErrorTracking } from './plugins/error-tracking.js';
import { registerInputGuard, registerStrictFormats, strictValidatorCompiler } from './plugins/input-guard.js';
import { registerMetrics } from './plugins/metrics.js';
import { registerOperationalMetrics } from './plugins/operational-metrics.js';
import { readTlsFiles } from './plugins/tls.js';
import { registerWebApp } from './plugins/web-app.js';
import fastifyWebsocket from '@fastify/websocket';
import { assignmentsRoutes } from './routes/assignments.routes.js';
import { auditRoutes } from './routes/audit.routes.js';
import { classesRoutes } from './routes/classes.routes.js';
import { announcementsRoutes } from './routes/announcements.routes.js';
import { progressRoutes } from './routes/progress.routes.js';
import { backupRoutes } from './routes/backup.routes.js';
import { statsRoutes } from './routes/stats.routes.js';
import { consolesRoutes } from './routes/consoles.routes.js';
import { eventsRoutes } from './routes/events.routes.js';
import { labsRoutes } from './routes/labs.routes.js';
import { systemRoutes } from './routes/system.routes.js';
import { hostsRoutes } from './routes/hosts.routes.js';
import { tasksRoutes } from './routes/tasks.routes.js';
import { helpRoutes } from './routes/help.routes.js';
import { templatesRoutes } from './routes/templates.routes.js';
import { vmsRoutes } from './routes/vms.routes.js';
import { authRoutes } from './routes/auth.routes.js';
import { oidcRoutes } from './routes/oidc.routes.js';
import { healthRoutes } from './routes/health.routes.js';
import { imagesRoutes } from './routes/images.routes.js';
import { usersRoutes } from './routes/users.routes.js';
import { quotasRoutes } from './routes/quotas.routes.js';
import type { Services } from './services.js';

registerAjvFormats();
registerStrictFormats();

export const API_PREFIX = '/api/v1';

/** What a client-given `X-Request-Id` may look like to be kept. */
const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

declare module 'fastify' {
  interface FastifyInstance {
    registeredRoutes: { method: string; url: string; websocket: boolean }[];
  }
}

/** Builds the HTTP application around ready services; `listen` is the caller's business. */
export async function buildApp(
  config: Config,
  services: Services,
  logger: FastifyServerOptions['logger'] = false,
  options: { webDist?: string | false } = {},
): Promise<FastifyInstance> {
  const tls = readTlsFiles(config);
  const app = Fastify({
    // With CTP_TLS_CERT/KEY the same port serves HTTPS and, through the upgrade, WSS.
    ...(tls ? { https: tls } : {}),
    logger,
    bodyLimit: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
    // Not `requestIdHeader`: Fastify would then take the header as it is, without asking genReqId.
    requestIdHeader: false,
    // Keep a caller's request id only when it is short and plain; otherwise make one.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    ajv: { customOptions: { removeAdditional: false } },
    // Long path parameters reach their route, whose schema refuses them with a named field (and
    // the audit trail records the attempt); Node's header limit bounds URLs anyway.
    routerOptions: { maxParamLength: 16 * 1024 },
    // A URL the router cannot even decode: the one error body, recorded like any refused request.
    frameworkErrors: async (error, request, reply) => {
      request.log.info({ code: error.code }, 'bad URL');
      if (['POST', 'PUT', 'PATCH', 'DELETE'].includes(request.method))
        await services.audit
          .record({
            action: 'http.bad_url',
            outcome: 'failure',
            statusCode: 400,
            ip: request.ip,
            requestId: request.id,
            details: { url: request.url },
          })
          .catch((err: unknown) => request.log.error({ err }, 'audit of a bad URL failed'));
      const body = { error: { code: 'bad_url', message: 'The URL is not valid (a path parameter is badly encoded or too long)' } };
      return (reply as FastifyReply).status(400).header('x-request-id', request.id).send(body);
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(strictValidatorCompiler);

  // Every route the app serves, so that tests can prove each one is covered by the access matrix.
  const routes: { method: string; url: string; websocket: boolean }[] = [];
  app.decorate('registeredRoutes', routes);
  app.addHook('onRoute', (route) => {
    const websocket = (route as { websocket?: boolean }).websocket === true;
    for (const method of [route.method].flat()) if (method !== 'HEAD') routes.push({ method, url: route.url, websocket });
  });

  registerErrorHandler(app);
  registerErrorTracking(app);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (config.https && request.protocol === 'http') {
      return reply.redirect(`https://${request.host}${request.url}`, 308);
    }
  });
  // Before authentication, so that no hostile value reaches a query or the audit trail unchecked.
  registerInputGuard(app);

  await app.register(fastifyHelmet, {
    // Swagger UI ships its own scripts and styles from our origin only.
    contentSecurityPolicy: {
      directives: { 'script-src': ["'self'"], 'style-src': ["'self'", "'unsafe-inline'"], 'img-src': ["'self'", 'data:'] },
    },
    hsts: config.https,
  });
  await app.register(fastifyCors, { origin: config.corsOrigins.length ? config.corsOrigins : false, credentials: true });
  await app.register(fastifyCookie);
  await app.register(fastifyWebsocket, { options: { maxPayload: 64 * 1024 } });
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Cyber Training Platform API',
        version: '1.0.0',
        description: 'Hands-on security labs: templates, labs of real VMs, consoles, users and audit.',
      },
      servers: [{ url: '/' }],
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/api/docs', staticCSP: true });

  registerAuthentication(app, services.auth);
  registerAuditTrail(app, services.audit);

  registerMetrics(app, services.metrics, services.repositories.labs, config.metricsToken);
  registerOperationalMetrics(app, services.metrics, {
    labs: services.repositories.labs,
    queueCounts: () => services.jobs.labOperationCounts(),
    dataDir: config.dataDir,
    hosts: () => services.repositories.hosts.listWithUse(),
  });
  await app.register(healthRoutes, {
    ping: services.database.ping,
    engine: services.database.engine,
    // Without its LISTEN connections an instance misses events and revocations: not ready yet.
    listening: () => services.eventBus.healthy && services.sessions.healthy,
  });
  app.get('/api/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());
  await app.register(
    async (api) => {
      await api.register(authRoutes, { auth: services.auth, secureCookies: config.https });
      await api.register(oidcRoutes, { oidc: services.oidc, localPasswords: config.localPasswords, secureCookies: config.https });
      await api.register(usersRoutes, { users: services.users });
      await api.register(quotasRoutes, { quotas: services.quotas });
      await api.register(auditRoutes, { audit: services.audit });
      await api.register(templatesRoutes, {
        templates: services.templates,
        warmPools: services.warmPools,
        verifications: services.verifications,
      });
      await api.register(labsRoutes, { labs: services.labs });
      await api.register(tasksRoutes, { tasks: services.tasks });
      await api.register(helpRoutes, { help: services.help });
      await api.register(vmsRoutes, { labs: services.labs });
      await api.register(eventsRoutes, { events: services.events, tickets: services.tickets, allowedOrigins: config.corsOrigins });
      await api.register(consolesRoutes, { consoles: services.consoles, allowedOrigins: config.corsOrigins });
      await api.register(systemRoutes, { system: services.system, admission: services.admission });
      await api.register(hostsRoutes, { hosts: services.hosts });
      await api.register(imagesRoutes, { images: services.images, goldenImages: services.goldenImages });
      await api.register(backupRoutes, { backups: services.backups });
      await api.register(statsRoutes, { stats: services.stats });
      await api.register(classesRoutes, { classes: services.classes });
      await api.register(announcementsRoutes, { announcements: services.announcements });
      await api.register(progressRoutes, { progress: services.progress });
      await api.register(assignmentsRoutes, { assignments: services.assignments });
    },
    { prefix: API_PREFIX },
  );
  if (options.webDist !== false) await registerWebApp(app, options.webDist);
  return app;
}
