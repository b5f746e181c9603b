import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import os from 'node:os';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { LabsRepository } from '../repositories/labs.repository.js';

/** The Prometheus metrics of one API instance. */
export function createMetrics(hostName: string = os.hostname()) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'ctp_' });
  return {
    registry,
    httpDuration: new Histogram({
      name: 'ctp_http_request_duration_seconds',
      help: 'HTTP request duration by route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    labOperations: new Counter({
      name: 'ctp_lab_operations_total',
      help: 'Lab operations finished, by operation and outcome',
      labelNames: ['operation', 'outcome'],
      registers: [registry],
    }),
    labOperationSeconds: new Histogram({
      name: 'ctp_lab_operation_duration_seconds',
      help: 'Time a lab operation (provision, reset, ...) took, from job start to its end',
      labelNames: ['operation'],
      buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300],
      registers: [registry],
    }),
    /** This machine's name: the `host` label (its registered host name, `CTP_HOST_NAME`). */
    host: hostName,
    hostDowns: new Counter({
      name: 'ctp_host_down_total',
      help: 'Hypervisor hosts marked down after they stopped heartbeating, by host',
      labelNames: ['host'],
      registers: [registry],
    }),
    labTimeToRunning: new Histogram({
      name: 'ctp_lab_time_to_running_seconds',
      help: 'From a lab request to all its VMs running (queue wait included), by template and host',
      labelNames: ['template', 'host'],
      buckets: [1, 2, 3, 5, 8, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600],
      registers: [registry],
    }),
    labTimeToReady: new Histogram({
      name: 'ctp_lab_time_to_ready_seconds',
      help: 'From a lab request to every VM of it answering on its guest channel (booted, usable), by template and host',
      labelNames: ['template', 'host'],
      buckets: [1, 2, 3, 5, 8, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600],
      registers: [registry],
    }),
    labReadyTimeouts: new Counter({
      name: 'ctp_lab_ready_timeouts_total',
      help: 'Provisioned labs whose VMs did not all answer on their guest channel in time, by template and host',
      labelNames: ['template', 'host'],
      registers: [registry],
    }),
    labStepFailures: new Counter({
      name: 'ctp_lab_step_failures_total',
      help: 'Failed lab operation steps (every attempt), by operation and step kind',
      labelNames: ['operation', 'step'],
      registers: [registry],
    }),
    jobQueueWait: new Histogram({
      name: 'ctp_job_queue_wait_seconds',
      help: 'Time a job waited, once due, before a worker took it',
      labelNames: ['queue'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
      registers: [registry],
    }),
    jobRetries: new Counter({
      name: 'ctp_job_retries_total',
      help: 'Jobs taken again after a failed or crashed attempt',
      labelNames: ['queue'],
      registers: [registry],
    }),
    websocketsOpen: new Gauge({
      name: 'ctp_websockets_open',
      help: 'Open WebSockets on this instance, by kind (console, events)',
      labelNames: ['kind'],
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Series that exist from the start at zero, so rates and ratios are right from the first event. */
export function zeroKnownSeries(metrics: Metrics): void {
  for (const operation of ['provision', 'start', 'stop', 'reset', 'delete'])
    for (const outcome of ['success', 'failure']) metrics.labOperations.inc({ operation, outcome }, 0);
  metrics.jobQueueWait.zero({ queue: 'lab-operation' });
  metrics.jobRetries.inc({ queue: 'lab-operation' }, 0);
  metrics.hostDowns.inc({ host: metrics.host }, 0);
}

/** Whether an address is this machine (IPv4 127/8, IPv6 ::1, or IPv4-mapped loopback). */
export function isLoopback(ip: string): boolean {
  return ip === '::1' || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ip);
}

/** Compares a bearer header with the token in constant time. */
function bearerMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(/^Bearer (.+)$/.exec(header ?? '')?.[1] ?? '');
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

/**
 * Serves `/metrics` (to holders of `token`, or to loopback callers when there is none) and times
 * every request. Lab and VM counts are read at scrape time.
 */
export function registerMetrics(app: FastifyInstance, metrics: Metrics, labs: LabsRepository, token?: string): void {
  // One registry may serve several app instances (tests): reuse the gauges if they exist.
  const gauge = (name: string, help: string) =>
    (metrics.registry.getSingleMetric(name) as Gauge | undefined) ?? new Gauge({ name, help, registers: [metrics.registry] });
  const labsGauge = gauge('ctp_labs_active', 'Labs not deleted');
  const vmsGauge = gauge('ctp_vms_running', 'VMs running');
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url;
    if (!route || route === '/metrics') return;
    metrics.httpDuration.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
  app.get('/metrics', { config: { public: true }, schema: { hide: true } }, async (request, reply) => {
    if (token !== undefined) {
      if (!bearerMatches(request.headers.authorization, token))
        return reply
          .status(401)
          .header('www-authenticate', 'Bearer')
          .send({ error: { code: 'unauthorized', message: 'Send Authorization: Bearer <CTP_METRICS_TOKEN>' } });
    } else if (!isLoopback(request.ip)) {
      return reply
        .status(403)
        .send({ error: { code: 'forbidden', message: 'Metrics are served to loopback callers only unless CTP_METRICS_TOKEN is set' } });
    }
    const usage = await labs.usage();
    labsGauge.set(usage.labsActive);
    vmsGauge.set(usage.vmsRunning);
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
}
