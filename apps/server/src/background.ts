import type { ServerRole } from './config.js';
import type { JobQueue } from './jobs/job-queue.js';
import type { LabRunner } from './jobs/lab-runner.js';
import type { LabOperation } from './labs/lab-operation.js';
import type { AdmissionService } from './services/admission.service.js';
import type { EventBus } from './services/event-bus.js';
import type { HostService } from './services/host.service.js';
import type { LabMaintenanceService } from './services/lab-maintenance.service.js';
import type { SessionsService } from './services/sessions.service.js';
import type { TemplateStateService } from './services/template-state.service.js';
import type { VerificationService } from './services/verification.service.js';
import type { WarmPoolService } from './services/warm-pool.service.js';

/** The services whose background work a process runs, by role. */
export interface BackgroundParts {
  sessions: SessionsService;
  eventBus: EventBus;
  jobs: JobQueue;
  hosts: HostService;
  admission: AdmissionService;
  maintenance: LabMaintenanceService;
  warmPools: WarmPoolService;
  templateStates: TemplateStateService;
  runner: LabRunner;
  verifications: VerificationService;
  /** The admin overview's minute sample. */
  sample: () => Promise<unknown>;
}

/**
 * What runs in the background, by role. API (`api`, `all`): sessions and event delivery, the
 * expiry sweep, stats, verifications, admission and the check for hosts that stopped heartbeating.
 * Agent (`agent`, `all`): its host's registration and heartbeat, and that host's queues (lab
 * operations, saved states, reconciliation) plus warm-pool refills, which place pool labs on the
 * host that runs them. `state.started` says whether the job queue runs (enqueueing needs it).
 */
export function createBackground(role: ServerRole, state: { started: boolean }, parts: BackgroundParts) {
  const { sessions, eventBus, jobs, hosts, admission, maintenance, warmPools, templateStates, runner, verifications } = parts;
  const runsAgent = role !== 'api';
  const runsApi = role !== 'agent';

  /** Starts the background work of this process's role. */
  async function startBackground(): Promise<void> {
    if (runsApi) {
      await sessions.start();
      await eventBus.start();
    }
    // Registered before its queues are worked: the queue names carry the host's id.
    const hostId = runsAgent ? ((await hosts.ensureLocal()) ?? undefined) : undefined;
    await jobs.start(
      {
        ...(runsApi
          ? {
              expireLabs: async () => void (await maintenance.expireLabs()),
              sampleStats: async () => void (await parts.sample()),
              verifyTemplate: (id: string) => verifications.run(id),
            }
          : {}),
        ...(runsAgent
          ? {
              labOperation: (job: { labId: string; operation: LabOperation }, finalAttempt: boolean) =>
                runner.run(job.labId, job.operation, finalAttempt),
              reconcile: async () => {
                await maintenance.reconcile();
                await warmPools.refillAll();
              },
              refillWarmPool: async (job: { templateId: string }) => void (await warmPools.refill(job.templateId)),
              prepareStates: (job: { templateId: string; version: number }) => templateStates.prepare(job.templateId, job.version),
            }
          : {}),
      },
      hostId,
    );
    state.started = true;
    if (runsAgent) await hosts.heartbeat();
    hosts.start({ heartbeat: runsAgent, checkStale: runsApi });
    // Labs queued while no worker ran start now if they fit.
    await admission.admit();
  }

  /** Stops the background work (jobs finish or are left to be retried). */
  async function stopBackground(): Promise<void> {
    state.started = false;
    hosts.stop();
    await jobs.stop();
    if (runsApi) {
      await eventBus.stop();
      await sessions.stop();
    }
  }

  return { startBackground, stopBackground };
}
