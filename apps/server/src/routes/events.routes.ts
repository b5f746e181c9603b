import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type {} from '@fastify/websocket';
import Type from 'typebox';
import { EventId, EventsQuery, EventTicket, LabEvent } from '@ctp/contracts';
import { actorOf } from '../plugins/authentication.js';
import type { EventsService } from '../services/events.service.js';
import type { TicketHolder, TicketService } from '../services/ticket.service.js';
import { assertWebSocketUpgrade } from '../plugins/websocket-guard.js';
import { bearer, errorResponses } from './route-helpers.js';

const StreamQuery = Type.Object(
  { ticket: Type.String({ maxLength: 100 }), since: Type.Optional(EventId) },
  { additionalProperties: false },
);

// A client this far behind is dropped (it reconnects and replays) rather than buffered forever.
const MAX_BUFFERED_BYTES = 1024 * 1024;

/** Live lab events over a WebSocket, and the replay of missed ones over HTTP. */
declare module 'fastify' {
  interface FastifyRequest {
    ticketHolder?: TicketHolder;
  }
}

export const eventsRoutes: FastifyPluginAsyncTypebox<{ events: EventsService; tickets: TicketService; allowedOrigins: string[] }> = async (
  app,
  { events, tickets, allowedOrigins },
) => {
  const tags = ['events'];

  app.get(
    '/events',
    {
      schema: {
        tags,
        summary: 'Events after `since` about labs you may see (to catch up after a reconnect)',
        security: bearer,
        querystring: EventsQuery,
        response: { 200: Type.Object({ items: Type.Array(LabEvent), latestId: Type.Integer() }), ...errorResponses(400, 401) },
      },
    },
    async (request) => {
      const actor = actorOf(request);
      const latestId = await events.latestId();
      return { items: await events.replay(actor, request.query.since ?? latestId, request.query.limit ?? 500), latestId };
    },
  );

  app.post(
    '/events/tickets',
    {
      config: { audit: 'events.ticket' },
      schema: {
        tags,
        summary: 'A single-use ticket (30 s) to open the event WebSocket',
        description:
          'Open the answered `url` (GET /api/v1/events/stream?ticket=...&since=ID) as a WebSocket: it sends one JSON LabEvent per message, about labs you may see, after a first `{"type":"ready"}`. Pass `since` to replay what you missed (filtered by the access you have now). The stream closes with 4401 when your sessions end and 4403 when you lose access to a lab it showed; reconnect (with `since`) after signing in again.',
        security: bearer,
        response: { 201: EventTicket, ...errorResponses(401) },
      },
    },
    async (request, reply) => {
      const { ticket, expiresIn } = await tickets.issue(actorOf(request), 'events', null);
      return reply.status(201).send({ ticket, expiresIn, url: `/api/v1/events/stream?ticket=${encodeURIComponent(ticket)}` });
    },
  );

  app.get(
    '/events/stream',
    {
      websocket: true,
      config: { public: true },
      schema: {
        tags,
        summary: 'WebSocket of lab events (JSON messages shaped as LabEvent); open with a ticket, optionally replaying after `since`',
        querystring: StreamQuery,
        response: { 101: Type.Null(), ...errorResponses(400, 401, 403, 426) },
      },
      // After validation, so a malformed request spends no ticket; before the upgrade, so a bad
      // ticket or origin gets a plain HTTP refusal.
      preHandler: async (request) => {
        assertWebSocketUpgrade(request, allowedOrigins);
        request.ticketHolder = await tickets.redeem((request.query as { ticket: string }).ticket, 'events', null);
      },
    },
    async (socket, request) => {
      const holder = request.ticketHolder!;
      const send = (event: LabEvent) => {
        if (socket.readyState !== socket.OPEN) return;
        if (socket.bufferedAmount > MAX_BUFFERED_BYTES) return socket.close(1013, 'too far behind; reconnect and replay');
        socket.send(JSON.stringify(event));
      };
      // Subscribe first, then replay, so nothing falls between the two; duplicates are skipped by id.
      let lastSent = request.query.since ?? -1;
      const pending: LabEvent[] = [];
      let replaying = request.query.since !== undefined;
      let closed = false;
      // Filled once following started; the socket may close before that.
      const following: { stop?: () => void } = {};
      socket.on('close', () => {
        closed = true;
        following.stop?.();
      });
      following.stop = await events.follow(
        holder,
        (event) => {
          if (replaying) pending.push(event);
          else if (event.id > lastSent) {
            lastSent = event.id;
            send(event);
          }
        },
        (code, reason) => {
          if (socket.readyState === socket.OPEN) socket.close(code, reason);
        },
      );
      if (closed) return following.stop();
      if (request.query.since !== undefined) {
        for (const event of await events.replay(holder, request.query.since)) {
          send(event);
          lastSent = event.id;
        }
        replaying = false;
        for (const event of pending) if (event.id > lastSent) send(event);
      }
      if (socket.readyState === socket.OPEN) socket.send(JSON.stringify({ type: 'ready' }));
    },
  );
};
