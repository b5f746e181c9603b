import type { FastifyRequest } from 'fastify';
import { AppError, forbidden } from '../errors.js';

/**
 * Refuses what must not open a WebSocket, before any ticket is spent: a plain request without
 * an upgrade (426), and a browser page of another site (403: its `Origin` is neither this
 * site, as the `Host` header names it, nor one of `CTP_CORS_ORIGINS`). Clients that send no
 * `Origin` (command-line tools, other servers) are not browsers and are let through.
 */
export function assertWebSocketUpgrade(request: FastifyRequest, allowedOrigins: readonly string[]): void {
  if (!request.ws) throw new AppError(426, 'upgrade_required', 'This URL is a WebSocket: open it with an upgrade request');
  const origin = request.headers.origin;
  if (origin === undefined) return;
  if (allowedOrigins.includes(origin)) return;
  let host: string | undefined;
  try {
    host = new URL(origin).host;
  } catch {
    host = undefined;
  }
  if (host && host === request.host) return;
  throw forbidden(`WebSocket from origin ${JSON.stringify(origin.slice(0, 100))} refused: not this site nor CTP_CORS_ORIGINS`);
}
