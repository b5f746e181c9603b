import * as Sentry from '@sentry/node';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.js';

let enabled = false;

/** Starts error tracking when a Sentry-compatible DSN is set (SENTRY_DSN); otherwise nothing is sent anywhere. */
export function initErrorTracking(dsn: string | undefined, options: { environment?: string; release?: string } = {}): boolean {
  if (!dsn) return false;
  Sentry.init({
    dsn,
    environment: options.environment,
    release: options.release,
    tracesSampleRate: 0,
    // Our own hook below decides what is an error worth reporting (5xx, not refusals).
    integrations: (defaults) => defaults.filter((integration) => integration.name !== 'Fastify'),
    beforeSend(event) {
      // Tokens and cookies never leave the platform, whatever an integration collected.
      if (event.request?.headers) {
        for (const name of Object.keys(event.request.headers))
          if (/^(authorization|cookie|set-cookie)$/i.test(name)) delete event.request.headers[name];
      }
      if (event.request?.cookies) delete event.request.cookies;
      if (event.request?.query_string) delete event.request.query_string;
      return event;
    },
  });
  enabled = true;
  return true;
}

/** Whether an error is the platform failing (reported), not a caller's mistake (4xx, not reported). */
export function isServerFault(error: Error & { statusCode?: number; validation?: unknown }): boolean {
  if (error instanceof AppError) return error.status >= 500;
  if (error.validation) return false;
  return !(typeof error.statusCode === 'number' && error.statusCode < 500);
}

/** Reports every request that fails with a server fault, with its route and request id (no body, no headers). */
export function registerErrorTracking(app: FastifyInstance): void {
  if (!enabled) return;
  app.addHook('onError', async (request, _reply, error) => {
    if (!isServerFault(error)) return;
    Sentry.withScope((scope) => {
      scope.setTag('route', request.routeOptions.url ?? 'unknown');
      scope.setTag('method', request.method);
      scope.setTag('request_id', request.id);
      Sentry.captureException(error);
    });
  });
  app.addHook('onClose', async () => void (await Sentry.flush(2000)));
}

/** Sends what is queued (before exit). */
export async function flushErrorTracking(): Promise<void> {
  if (enabled) await Sentry.flush(2000);
}

/** Stops error tracking (tests: the SDK is global to the process). */
export async function stopErrorTracking(): Promise<void> {
  if (!enabled) return;
  enabled = false;
  await Sentry.close(2000);
}
