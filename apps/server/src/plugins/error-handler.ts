import type { FastifyError, FastifyInstance } from 'fastify';
import type { ErrorBody } from '@ctp/contracts';
import { HypervisorError } from '@ctp/hypervisor';
import { isDatabaseUnavailable } from '../db/database-errors.js';
import { AppError, CONTROL_CHARACTERS, QuotaExceededError } from '../errors.js';
import { hypervisorMessage, hypervisorStatus } from '../services/public-errors.js';

type Detail = { field?: string; message: string };

function validationDetails(error: FastifyError): Detail[] {
  const context = error.validationContext ?? 'body';
  const details = (error.validation ?? []).map((issue) => {
    const params = issue.params as Record<string, unknown> | undefined;
    // Name the offending field itself: for a missing or unknown property that is the property.
    const extra =
      (params?.missingProperty as string | undefined) ??
      (params?.additionalProperty as string | undefined) ??
      (Array.isArray(params?.requiredProperties) ? (params.requiredProperties as string[]).join(',') : undefined) ??
      (Array.isArray(params?.additionalProperties) ? (params.additionalProperties as string[]).join(',') : undefined);
    const pointer = (issue.instancePath ?? '').replace(/^\//, '').replaceAll('/', '.');
    const field = [context, pointer, extra].filter(Boolean).join('.');
    return { field, message: issue.message ?? 'is invalid' };
  });
  // TypeBox reports an unknown property twice (as "schema is false" too); keep the clearer one.
  return details.filter((d) => d.message !== 'schema is false' || !details.some((o) => o !== d && o.field === d.field));
}

const printable = (text: string, max = 500) => {
  const clean = text.replace(CONTROL_CHARACTERS, ' ');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
};

/**
 * Sends the one error body for every failure. Only errors that are meant for the caller (service
 * errors, validation, Fastify's own 4xx) say what went wrong; anything else gets a generic message
 * with the request id, and the detail goes to the log.
 */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    let status = 500;
    let body: ErrorBody['error'];
    if (error instanceof AppError) {
      status = error.status;
      body = { code: error.code, message: printable(error.message, 2000), ...(error.details ? { details: error.details } : {}) };
      if (error instanceof QuotaExceededError) {
        body.quota = error.quota;
        request.auditOutcome = 'denied';
      }
    } else if (error instanceof HypervisorError) {
      status = hypervisorStatus(error);
      body = { code: `hypervisor_${error.code}`, message: hypervisorMessage(error) };
      request.log.warn({ err: error, stderr: error.stderr }, 'hypervisor error');
    } else if (error.validation) {
      status = 400;
      const details = validationDetails(error);
      body = {
        code: 'validation_failed',
        message: printable(`Invalid request: ${details.map((d) => `${d.field} ${d.message}`).join('; ')}`, 2000),
        details,
      };
    } else if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      status = 413;
      body = { code: 'payload_too_large', message: 'Request body is too large' };
    } else if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      status = 415;
      body = { code: 'unsupported_media_type', message: 'Send the body as application/json' };
    } else if (
      error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ||
      error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ||
      (error instanceof SyntaxError && error.statusCode === 400)
    ) {
      status = 400;
      // Fastify's own message already says it; a parser's says where (its `__proto__` refusal says nothing more).
      const message = error.code?.startsWith('FST_') ? error.message : `Body is not valid JSON: ${error.message}`;
      body = { code: 'invalid_json', message: printable(message, 300) };
    } else if (
      typeof error.code === 'string' &&
      error.code.startsWith('FST_') &&
      typeof error.statusCode === 'number' &&
      error.statusCode >= 400 &&
      error.statusCode < 500
    ) {
      status = error.statusCode;
      body = { code: error.code.toLowerCase(), message: printable(error.message, 300) };
    } else if (isDatabaseUnavailable(error)) {
      // A restart or failover: the caller may retry shortly; the SQL and the server's address stay in the log.
      status = 503;
      body = {
        code: 'database_unavailable',
        message: 'The database is unavailable (restarting or failing over); try again in a few seconds',
      };
      reply.header('retry-after', '5');
      // One line per request while it lasts, without the stack: the outage is the news, not each query.
      const cause = ((error as { cause?: unknown }).cause ?? error) as { code?: string; message?: string };
      request.log.warn({ code: cause.code, error: cause.message }, 'database unavailable');
    } else {
      body = { code: 'internal_error', message: `Internal server error (request id ${request.id})` };
    }
    if (status >= 500) {
      if (body.code !== 'database_unavailable') request.log.error({ err: error }, 'request failed');
      body = { ...body, requestId: request.id };
      if (status === 502) body.message = `${body.message} (request id ${request.id})`;
    }
    return reply.status(status).send({ error: body });
  });

  app.setNotFoundHandler((request, reply) =>
    reply
      .status(404)
      .send({ error: { code: 'not_found', message: printable(`No route ${request.method} ${request.url.split('?')[0]}`, 300) } }),
  );
}
