import type { FastifyError, FastifyInstance } from 'fastify';
import type { ErrorBody } from '@ctp/contracts';
import { HypervisorError } from '@ctp/hypervisor';
import { AppError } from '../errors.js';

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

/** Sends the one error body for every failure; a 500 never reveals internals. */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    let status = 500;
    let body: ErrorBody['error'];
    if (error instanceof AppError) {
      status = error.status;
      body = { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) };
    } else if (error instanceof HypervisorError) {
      // The hypervisor refused or failed: the caller learns what it said, the log keeps the rest.
      status =
        error.code === 'unsupported' || error.code === 'invalid_state' || error.code === 'not_found' || error.code === 'conflict'
          ? 409
          : 502;
      body = { code: `hypervisor_${error.code}`, message: error.message };
      request.log.warn({ err: error, stderr: error.stderr }, 'hypervisor error');
    } else if (error.validation) {
      status = 400;
      const details = validationDetails(error);
      body = {
        code: 'validation_failed',
        message: `Invalid request: ${details.map((d) => `${d.field} ${d.message}`).join('; ')}`,
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
      error instanceof SyntaxError
    ) {
      status = 400;
      body = { code: 'invalid_json', message: `Body is not valid JSON: ${error.message}` };
    } else if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      status = error.statusCode;
      body = { code: (error.code ?? 'bad_request').toLowerCase(), message: error.message };
    } else {
      request.log.error({ err: error }, 'unhandled error');
      body = { code: 'internal_error', message: 'Internal server error' };
    }
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    return reply.status(status).send({ error: body });
  });

  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ error: { code: 'not_found', message: `No route ${request.method} ${request.url.split('?')[0]}` } }),
  );
}
