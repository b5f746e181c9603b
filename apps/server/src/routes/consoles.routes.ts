import type {} from '@fastify/websocket';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { ConsoleKind, ConsoleTicket, ConsoleTicketBody, IdParams, Uuid } from '@ctp/contracts';
import { actorOf } from '../plugins/authentication.js';
import { AppError } from '../errors.js';
import { assertWebSocketUpgrade } from '../plugins/websocket-guard.js';
import { forwardInput } from '../services/console-rules.js';
import type { ConsoleGrant, ConsoleService, ConsoleSession } from '../services/console.service.js';
import { bearer, errorResponses } from './route-helpers.js';

const StreamParams = Type.Object({ id: Uuid, kind: ConsoleKind }, { additionalProperties: false });
const StreamQuery = Type.Object({ ticket: Type.String({ maxLength: 100 }) }, { additionalProperties: false });

// Past this much unsent data to a slow browser, stop reading from the VM until it drains.
const HIGH_WATER_BYTES = 512 * 1024;

declare module 'fastify' {
  interface FastifyRequest {
    consoleGrant?: ConsoleGrant;
  }
}

/** VM consoles in the browser: a ticket, then a WebSocket bridged to the serial port or VNC. */
export const consolesRoutes: FastifyPluginAsyncTypebox<{ consoles: ConsoleService; allowedOrigins: string[] }> = async (
  app,
  { consoles, allowedOrigins },
) => {
  app.post(
    '/vms/:id/console-tickets',
    {
      config: { audit: 'console.ticket' },
      schema: {
        tags: ['consoles'],
        summary: "A single-use ticket (30 s) for a VM's serial or VNC console",
        description:
          "Open the answered `url` as a WebSocket: binary frames carry the serial bytes (kind `serial`) or the RFB protocol (kind `vnc`, for noVNC). The upgrade is refused (plain HTTP) with 401 for a bad ticket, 403 for a foreign `Origin`, 426 without an upgrade, 429 when the console limits are reached. An open console closes with 4401 when the user's sessions end (password reset, disabled, role changed, sign-out everywhere), 4403 when access to the lab is revoked (removed from it, lab deleted), 4429 when a limit was reached as it opened.",
        security: bearer,
        params: IdParams,
        body: ConsoleTicketBody,
        response: { 201: ConsoleTicket, ...errorResponses(400, 401, 404, 409) },
      },
    },
    async (request, reply) => reply.status(201).send(await consoles.issueTicket(actorOf(request), request.params.id, request.body.kind)),
  );

  app.get(
    '/vms/:id/console/:kind',
    {
      websocket: true,
      config: { public: true },
      schema: { params: StreamParams, querystring: StreamQuery },
      // After validation, so a malformed request spends no ticket; before the upgrade, so
      // refusals are plain HTTP. No slot is taken here: a plain GET never opens a console.
      preHandler: async (request) => {
        assertWebSocketUpgrade(request, allowedOrigins);
        const { id, kind } = request.params as { id: string; kind: 'serial' | 'vnc' };
        request.consoleGrant = await consoles.authorize((request.query as { ticket: string }).ticket, id, kind);
      },
    },
    async (socket, request) => {
      let session: ConsoleSession | undefined;
      let browserGone = false;
      const end = (reason: string, code = 1000) => {
        if (session) void session.close(reason).catch((error) => request.log.warn({ err: error }, 'console close failed'));
        if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING) socket.close(code, reason.slice(0, 100));
      };
      socket.on('close', () => {
        browserGone = true;
        end('browser closed');
      });
      const early: Buffer[] = [];
      socket.on('message', (data: Buffer, isBinary: boolean) => {
        const bytes = isBinary ? data : Buffer.from(data.toString(), 'utf8');
        if (!session) {
          if (early.length < 64) early.push(bytes);
          return;
        }
        forwardInput(session, session.stream, bytes);
      });
      try {
        // The slot is taken only now that a socket is really open, and given back when it closes.
        session = await consoles.start(request.consoleGrant!, { ip: request.ip, requestId: request.id }, (code, reason) =>
          end(reason, code),
        );
      } catch (error) {
        const tooMany = error instanceof AppError && error.status === 429;
        if (socket.readyState === socket.OPEN)
          socket.close(tooMany ? 4429 : 1011, tooMany ? error.message.slice(0, 100) : 'console unavailable');
        if (!tooMany) request.log.warn({ err: error }, 'console open failed');
        return;
      }
      if (browserGone) return end('browser closed');
      const { stream } = session;
      let paused = false;
      stream.on('data', (chunk: Buffer) => {
        if (socket.readyState !== socket.OPEN) return;
        socket.send(chunk, { binary: true }, () => {
          if (paused && socket.bufferedAmount < HIGH_WATER_BYTES / 2) {
            paused = false;
            stream.resume();
          }
        });
        if (socket.bufferedAmount > HIGH_WATER_BYTES && !paused) {
          paused = true;
          stream.pause();
        }
      });
      stream.on('end', () => {
        void session!.ending().then(
          ({ code, reason }) => end(reason, code),
          () => end('console closed by the VM'),
        );
      });
      stream.on('error', () => end('console error', 1011));
      // What the browser typed while the console was being opened goes first.
      for (const bytes of early.splice(0)) forwardInput(session, stream, bytes);
    },
  );
};
