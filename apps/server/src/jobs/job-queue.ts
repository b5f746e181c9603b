import { PgBoss, type Job, type JobWithMetadata } from 'pg-boss';
import type { Database } from '../db/database.js';
import { isDatabaseUnavailable } from '../db/database-errors.js';
import type { LabOperation } from '../labs/lab-operation.js';

export const LAB_OPERATION_QUEUE = 'lab-operation';
/** The lab operations of one host: only the agent of that host works this queue (pg-boss names allow `[\w.\-/]`, a uuid fits). */
export const labOperationQueue = (hostId: string) => `${LAB_OPERATION_QUEUE}.${hostId}`;
/** Saved template states are files on a host's disk: each host prepares its own. */
export const prepareStatesQueue = (hostId: string) => `${PREPARE_STATES_QUEUE}.${hostId}`;
/** Reconciliation compares one host's driver with that host's labs. */
export const reconcileQueue = (hostId: string) => `${RECONCILE_QUEUE}.${hostId}`;
export const EXPIRE_LABS_QUEUE = 'expire-labs';
export const RECONCILE_QUEUE = 'reconcile';
export const PREPARE_STATES_QUEUE = 'prepare-template-states';
export const SAMPLE_STATS_QUEUE = 'sample-stats';
export const WARM_POOL_QUEUE = 'refill-warm-pool';
export const VERIFY_TEMPLATE_QUEUE = 'verify-template';
const RETRY_LIMIT = 2;

export interface LabOperationJob {
  labId: string;
  operation: LabOperation;
}

export interface PrepareStatesJob {
  templateId: string;
  version: number;
}

/** What the queue reports to metrics: how long a job waited before a worker took it, and retries. */
export interface JobObserver {
  waited(queue: string, seconds: number): void;
  retried(queue: string): void;
}

/**
 * The work a process takes: the agent parts (a host's lab operations, saved states, reconciliation
 * and warm-pool refills) exist only where a hypervisor driver runs; the API parts (expiry, stats,
 * verifications) only where the API runs. A handler left out is a queue this process does not work.
 */
export interface JobHandlers {
  labOperation?(job: LabOperationJob, finalAttempt: boolean): Promise<void>;
  /** Saves the running states of a template version's VMs (in the background, one at a time). */
  prepareStates?(job: PrepareStatesJob): Promise<void>;
  expireLabs?(): Promise<void>;
  /** This host's reconciliation (with its warm-pool refills). */
  reconcile?(): Promise<void>;
  /** The admin overview's minute sample. */
  sampleStats?(): Promise<void>;
  /** Brings a template's warm pool to its size (within capacity). */
  refillWarmPool?(job: { templateId: string }): Promise<void>;
  /** Runs a template's pre-class verification (waits for its lab, performs every task). */
  verifyTemplate?(verificationId: string): Promise<void>;
}

/**
 * Durable jobs in PostgreSQL (pg-boss, on PGlite or a server): lab operations, retried after a
 * failure or a crash (a job whose worker stops sending heartbeats is retried), plus the
 * scheduled expiry sweep and reconciliation.
 */
export class JobQueue {
  private readonly boss: PgBoss;
  private started = false;

  constructor(
    private readonly database: Database,
    private readonly options: { concurrency: number; schedules: boolean },
    private readonly observer: JobObserver = { waited: () => {}, retried: () => {} },
    log: (message: string, details: Record<string, unknown>) => void = () => {},
  ) {
    // Supervision every 10 s: a job whose worker died (no heartbeat) is retried within ~20 s.
    const common = { useListenNotify: true, schedule: options.schedules, superviseIntervalSeconds: 10, monitorIntervalSeconds: 10 };
    this.boss = new PgBoss({ ...database.jobBackend(), ...common });
    // pg-boss reports every failed poll, supervision and LISTEN loss here, and carries on: its
    // workers keep polling and its LISTEN reconnects by itself, so an outage (a database restart)
    // delays jobs without losing them. Unhandled, this event would end the process; logged at most
    // once per 30 s, so an outage does not flood the log.
    let lastLogged = 0;
    let suppressed = 0;
    this.boss.on('error', (error: Error & { code?: string }) => {
      if (Date.now() - lastLogged < 30_000) return void suppressed++;
      log('job queue error (pg-boss retries by itself)', { error: error.message, code: error.code, suppressed });
      lastLogged = Date.now();
      suppressed = 0;
    });
  }

  /** Creates the queues, starts the workers and the schedules; with `hostId`, that host's queues too. */
  async start(handlers: JobHandlers, hostId?: string): Promise<void> {
    await this.boss.start();
    this.started = true;
    this.handlers = handlers;
    if (hostId) await this.workHost(hostId);
    // One refill at a time on an instance: two at once would both see the pool short.
    await this.boss.createQueue(WARM_POOL_QUEUE, { retryLimit: 1, expireInSeconds: 300, notify: true });
    const refill = handlers.refillWarmPool;
    if (refill) {
      await this.boss.work<{ templateId: string }>(
        WARM_POOL_QUEUE,
        { localConcurrency: 1, pollingIntervalSeconds: 2, notifyPollingIntervalSeconds: 5 },
        async ([job]: Job<{ templateId: string }>[]) => {
          if (job) await refill(job.data);
        },
      );
    }
    await this.boss.createQueue(VERIFY_TEMPLATE_QUEUE, { retryLimit: 0, expireInSeconds: 1800, notify: true });
    const verify = handlers.verifyTemplate;
    if (verify) {
      // Two at a time: a verification mostly waits for its lab, whose work runs on the lab queue.
      await this.boss.work<{ verificationId: string }>(
        VERIFY_TEMPLATE_QUEUE,
        { localConcurrency: 2, pollingIntervalSeconds: 2, notifyPollingIntervalSeconds: 5 },
        async ([job]: Job<{ verificationId: string }>[]) => {
          if (job) await verify(job.data.verificationId);
        },
      );
    }
    // Singleton schedules: several API instances share the sweep.
    await this.scheduled(EXPIRE_LABS_QUEUE, '* * * * *', handlers.expireLabs);
    await this.scheduled(SAMPLE_STATS_QUEUE, '* * * * *', handlers.sampleStats);
  }

  private handlers: JobHandlers = {};
  private readonly workedHosts = new Set<string>();

  /**
   * Works the queues of a host (its lab operations, saved states and reconciliation), once per
   * host id: the agent calls it again when its host registers anew (its row was removed), so the
   * work sent to the host's new id is never left without a worker.
   */
  async workHost(hostId: string): Promise<void> {
    if (!this.started || this.workedHosts.has(hostId)) return;
    this.workedHosts.add(hostId);
    const { labOperation, prepareStates: prepare } = this.handlers;
    if (labOperation) {
      await this.boss.work<LabOperationJob>(
        await this.ensureLabQueue(hostId),
        { localConcurrency: this.options.concurrency, pollingIntervalSeconds: 2, notifyPollingIntervalSeconds: 5, includeMetadata: true },
        async ([given]: Job<LabOperationJob>[]) => {
          if (!given) return;
          // includeMetadata: the job row's times are there (pg-boss's typing does not follow the option).
          const job = given as JobWithMetadata<LabOperationJob>;
          // Waiting starts when the job became due: its creation, or the end of a retry delay.
          const due = Math.max(new Date(job.createdOn).getTime(), new Date(job.startAfter).getTime());
          this.observer.waited(LAB_OPERATION_QUEUE, Math.max(0, (Date.now() - due) / 1000));
          if (job.retryCount > 0) this.observer.retried(LAB_OPERATION_QUEUE);
          await this.afterOutage(() => labOperation(job.data, job.retryCount >= RETRY_LIMIT));
        },
      );
    }
    if (prepare) {
      // One at a time: preparing boots a VM, and labs come first on the host's CPUs.
      await this.boss.work<PrepareStatesJob>(
        await this.ensurePrepareQueue(hostId),
        { localConcurrency: 1, pollingIntervalSeconds: 2, notifyPollingIntervalSeconds: 5 },
        async ([job]: Job<PrepareStatesJob>[]) => {
          if (job) await prepare(job.data);
        },
      );
    }
    await this.scheduled(reconcileQueue(hostId), '*/5 * * * *', this.handlers.reconcile);
  }

  private async scheduled(queue: string, cron: string, handler: (() => Promise<void>) | undefined): Promise<void> {
    if (!handler) return;
    await this.boss.createQueue(queue, { retryLimit: 0, policy: 'singleton' });
    await this.boss.work(queue, { pollingIntervalSeconds: 5 }, () => handler());
    if (this.options.schedules) await this.boss.schedule(queue, cron);
  }

  private readonly created = new Set<string>();

  /** Creates a host's lab-operation queue once per process (senders need it to exist before the agent ever started). */
  private async ensureLabQueue(hostId: string): Promise<string> {
    const queue = labOperationQueue(hostId);
    if (this.created.has(queue)) return queue;
    await this.boss.createQueue(queue, {
      retryLimit: RETRY_LIMIT,
      retryDelay: 1,
      heartbeatSeconds: 10,
      expireInSeconds: 900,
      notify: true,
    });
    this.created.add(queue);
    return queue;
  }

  private async ensurePrepareQueue(hostId: string): Promise<string> {
    const queue = prepareStatesQueue(hostId);
    if (this.created.has(queue)) return queue;
    await this.boss.createQueue(queue, { retryLimit: 0, expireInSeconds: 900, notify: true });
    this.created.add(queue);
    return queue;
  }

  /**
   * Runs a job's work; when it failed because the database went away, waits (up to a minute) for
   * the database to answer before failing it: pg-boss can then record the failure and retry the
   * job after its retry delay, instead of the job staying active until its heartbeat expires.
   */
  private async afterOutage(work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      if (isDatabaseUnavailable(error)) {
        const deadline = Date.now() + 60_000;
        for (let delay = 250; this.started && Date.now() < deadline; delay = Math.min(delay * 2, 2000)) {
          if (
            await this.database.ping().then(
              () => true,
              () => false,
            )
          )
            break;
          await new Promise((resolve) => setTimeout(resolve, delay));
        }
      }
      throw error;
    }
  }

  /** Enqueues a lab operation for the agent of the lab's host. */
  async enqueueLabOperation(job: LabOperationJob, hostId: string): Promise<void> {
    await this.boss.send(await this.ensureLabQueue(hostId), job);
  }

  /** Enqueues the preparation of a template version's saved states on one host (a job finds what is missing; extra jobs cost nothing). */
  async enqueuePrepareStates(job: PrepareStatesJob, hostId: string): Promise<void> {
    await this.boss.send(await this.ensurePrepareQueue(hostId), job);
  }

  /** Enqueues a refill of a template's warm pool (a refill finds what is missing; extra jobs cost little). */
  async enqueueRefillWarmPool(templateId: string): Promise<void> {
    await this.boss.send(WARM_POOL_QUEUE, { templateId });
  }

  /** Enqueues a template verification. */
  async enqueueVerification(verificationId: string): Promise<void> {
    await this.boss.send(VERIFY_TEMPLATE_QUEUE, { verificationId });
  }

  /** Lab operations waiting (due or deferred) and running, as pg-boss last counted them. */
  async labOperationCounts(): Promise<{ queued: number; active: number }> {
    if (!this.started) return { queued: 0, active: 0 };
    // Every host's queue: the cluster's backlog, whichever instance is scraped.
    const queues = (await this.boss.getQueues()).filter((q) => q.name.startsWith(`${LAB_OPERATION_QUEUE}.`));
    return queues.reduce((sum, q) => ({ queued: sum.queued + (q.queuedCount ?? 0), active: sum.active + (q.activeCount ?? 0) }), {
      queued: 0,
      active: 0,
    });
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.workedHosts.clear();
    await this.boss.stop({ graceful: true, timeout: 10_000 });
  }
}
