import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuditService } from '../services/audit.service.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** What the audit event of this request is about; handlers may set or enrich it. */
    auditTarget?: { type: string; id?: string | null; details?: Record<string, unknown> };
    /** Set when a service already recorded this request's audit event (e.g. a login). */
    auditRecorded?: boolean;
    /** Overrides the outcome read from the status (a quota refusal is `denied`, though not a 401/403). */
    auditOutcome?: 'success' | 'failure' | 'denied';
  }
  interface FastifyContextConfig {
    /** The action name recorded for this route (e.g. `user.create`); mutating routes must have one. */
    audit?: string;
  }
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function outcomeOf(status: number): 'success' | 'failure' | 'denied' {
  if (status < 400) return 'success';
  return status === 401 || status === 403 ? 'denied' : 'failure';
}

/** The default audit target: the `:id` path parameter, typed by the route's audit action. */
function defaultTarget(request: FastifyRequest): { type: string | null; id: string | null } {
  const id = (request.params as { id?: string } | undefined)?.id ?? null;
  const action = request.routeOptions.config?.audit;
  return { type: action ? action.split('.')[0]! : null, id };
}

/**
 * Records every mutating request (who, what, target, outcome, when), successful or not, before
 * the answer leaves, so that a caller who got a response can rely on its audit event existing.
 */
export function registerAuditTrail(app: FastifyInstance, audit: AuditService): void {
  app.addHook('onSend', async (request, reply, payload) => {
    const config = request.routeOptions.config;
    if (!MUTATING.has(request.method) || !request.routeOptions.url || request.auditRecorded) return payload;
    const fallback = defaultTarget(request);
    const details = request.auditTarget?.details ?? {};
    await audit.record({
      actor: request.actor ? { id: request.actor.id, username: request.actor.username } : null,
      action: config?.audit ?? `${request.method} ${request.routeOptions.url}`,
      targetType: request.auditTarget?.type ?? fallback.type,
      targetId: request.auditTarget?.id ?? fallback.id,
      outcome: request.auditOutcome ?? outcomeOf(reply.statusCode),
      statusCode: reply.statusCode,
      ip: request.ip,
      requestId: request.id,
      details,
    });
    return payload;
  });
}
