import type { Duplex } from 'node:stream';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import fastifyWebsocket from '@fastify/websocket';
import { createWebSocketStream } from 'ws';
import type { HypervisorDriver } from '@ctp/hypervisor';
import type { Config } from '../config.js';
import { ClusterTokenError, DRIVER_AUDIENCE, assertClusterSecret, consoleAudience, verifyClusterToken } from './cluster-token.js';
import { errorToWire, fromWire, isRemoteMethod, toWire } from './agent-protocol.js';

/**
 * The agent's internal HTTP server: how the API reaches the hypervisor of another host. It is a
 * Fastify instance of its own (not routes of the public API) on its own port, so that it can be
 * bound to a private network, firewalled apart, and never shows up in the public OpenAPI.
 *
 * - `POST /agent/v1/driver` `{ method, args }` runs one allowlisted driver method.
 * - `GET /agent/v1/vms/{driverName}/console/{serial|vnc}` (WebSocket) bridges `openConsole`.
 *
 * Every request needs a cluster token for this host and that route (else 401, and nothing more is
 * said). Bodies are never logged: guest commands carry check commands, written files carry flags.
 * The VMs' own unix sockets stay on this machine; this authenticated port is the only way in.
 */

const CONSOLE_PATH = /^\/agent\/v1\/vms\/([A-Za-z0-9_.-]{1,63})\/console\/(serial|vnc)$/;
const DRIVER_PATH = '/agent/v1/driver';
// Guest files (flags, configuration) can be larger than API bodies; base64 adds a third.
const BODY_LIMIT_BYTES = 64 * 1024 * 1024;

declare module 'fastify' {
  interface FastifyRequest {
    agentConsole?: Duplex;
  }
}

/** What a token must say to be accepted for this request: the route's audience, or null for no route. */
function audienceOf(request: FastifyRequest): string | null {
  const path = request.url.split('?')[0]!;
  if (request.method === 'POST' && path === DRIVER_PATH) return DRIVER_AUDIENCE;
  const console = request.method === 'GET' ? CONSOLE_PATH.exec(path) : null;
  return console ? consoleAudience(console[1]!, console[2]!) : null;
}

/** Options of `buildAgentServer`. */
export interface AgentServerOptions {
  /** This host's registered name: tokens for any other host are refused. */
  hostName: string;
  clusterSecret: string;
  driver: HypervisorDriver;
  logger?: FastifyBaseLogger;
}

/** The agent server, ready but not listening (tests inject into it or listen on port 0). */
export async function buildAgentServer(options: AgentServerOptions): Promise<FastifyInstance> {
  const secret = assertClusterSecret(options.clusterSecret, 'to run the agent server');
  const { driver, hostName } = options;
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: BODY_LIMIT_BYTES,
    onProtoPoisoning: 'remove',
    onConstructorPoisoning: 'remove',
  });
  await app.register(fastifyWebsocket, { options: { maxPayload: 16 * 1024 * 1024, perMessageDeflate: false } });

  // Before routing, so that without a token even the existence of a route or VM is not revealed.
  app.addHook('onRequest', async (request, reply) => {
    const audience = audienceOf(request);
    const header = request.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice(7) : undefined;
    try {
      if (!audience || !token) throw new ClusterTokenError('malformed');
      verifyClusterToken(secret, token, { host: hostName, audience });
    } catch (error) {
      const reason = error instanceof ClusterTokenError ? error.reason : 'error';
      request.log.warn(
        { reason, method: request.method, path: request.url.split('?')[0]!.slice(0, 200), from: request.ip },
        'agent request refused',
      );
      return reply.code(401).send({ error: { code: 'unauthorized', message: 'Unauthorized' } });
    }
  });

  app.post(DRIVER_PATH, async (request, reply) => {
    const body = request.body as { method?: unknown; args?: unknown } | undefined;
    const method = body?.method;
    if (!isRemoteMethod(method) || !Array.isArray(body?.args) || body.args.length > 4)
      return reply.code(400).send({ error: { code: 'invalid', message: 'Body must be { method, args[] } with an allowed driver method' } });
    const args = fromWire(body.args) as unknown[];
    const started = Date.now();
    // The VM's name is the only argument worth a log line; commands and files are not.
    const vm = typeof args[0] === 'string' ? args[0] : undefined;
    try {
      const call = driver[method] as (...a: unknown[]) => Promise<unknown>;
      const result = await call.apply(driver, args);
      request.log.debug({ method, vm, ms: Date.now() - started }, 'agent driver call');
      return reply.send(result === undefined ? {} : { result: toWire(result) });
    } catch (error) {
      const wire = errorToWire(error);
      request.log.info({ method, vm, code: wire.code, ms: Date.now() - started }, 'agent driver call failed');
      return reply.code(500).send({ error: wire });
    }
  });

  app.get(
    '/agent/v1/vms/:driverName/console/:kind',
    {
      websocket: true,
      // Before the upgrade: a console that cannot open is refused as plain HTTP with the driver's error.
      preHandler: async (request, reply) => {
        if (!request.ws) return reply.code(426).send({ error: { code: 'invalid', message: 'This URL is a WebSocket' } });
        const { driverName, kind } = request.params as { driverName: string; kind: 'serial' | 'vnc' };
        try {
          request.agentConsole = await driver.openConsole(driverName, kind);
        } catch (error) {
          return reply.code(409).send({ error: errorToWire(error) });
        }
      },
    },
    (socket, request) => {
      const stream = request.agentConsole!;
      const wire = createWebSocketStream(socket);
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        stream.destroy();
        wire.destroy();
      };
      stream.on('error', finish);
      stream.on('close', finish);
      stream.on('end', finish);
      wire.on('error', finish);
      wire.on('close', finish);
      // pipe() gives backpressure both ways: a slow API pauses the VM's console and vice versa.
      stream.pipe(wire);
      wire.pipe(stream, { end: false });
    },
  );
  return app;
}

/** Starts the agent server on `CTP_AGENT_PORT` (`CTP_AGENT_HOST`) for this host's driver; needs `CTP_CLUSTER_SECRET`. */
export async function startAgentServer(config: Config, driver: HypervisorDriver, logger?: FastifyBaseLogger): Promise<FastifyInstance> {
  if (config.agentPort === undefined) throw new Error('CTP_AGENT_PORT is not set: there is no agent server to start');
  const app = await buildAgentServer({
    hostName: config.hostName,
    clusterSecret: assertClusterSecret(config.clusterSecret, 'when CTP_AGENT_PORT is set'),
    driver,
    ...(logger ? { logger } : {}),
  });
  await app.listen({ port: config.agentPort, host: config.agentHost });
  app.log.info({ port: config.agentPort, host: config.agentHost, hostName: config.hostName }, 'agent server listening');
  return app;
}
