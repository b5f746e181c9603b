import { fromPglite, PgBoss, type Job, type JobWithMetadata } from 'pg-boss';
import type { Database } from '../db/database.js';
import { isDatabaseUnavailable } from '../db/database-errors.js';
import type { LabOperation } from './lab-runner.js';

export const LAB_OPERATION_QUEUE = 'lab-operation';
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

export interface JobHandlers {
  labOperation(job: LabOperationJob, finalAttempt: boolean): Promise<void>;
  /** Saves the running states of a template version's VMs (in the background, one at a time). */
  prepareStates?(job: PrepareStatesJob): Promise<void>;
  expireLabs(): Promise<void>;
  reconcile(): Promise<void>;
  /** The admin overview's minute sample. */
  sampleStats(): Promise<void>;
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
    this.boss = database.pglite
      ? new PgBoss({ db: fromPglite(database.pglite), backend: 'pglite', ...common })
      : new PgBoss({ ...poolOptions(database), max: 4, ...common });
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

  /** Creates the queues, starts the workers and the schedules. */
  async start(handlers: JobHandlers): Promise<void> {
    await this.boss.start();
    this.started = true;
    await this.boss.createQueue(LAB_OPERATION_QUEUE, {
      retryLimit: RETRY_LIMIT,
      retryDelay: 1,
      heartbeatSeconds: 10,
      expireInSeconds: 900,
      notify: true,
    });
    await this.boss.createQueue(EXPIRE_LABS_QUEUE, { retryLimit: 0, policy: 'singleton' });
    await this.boss.createQueue(RECONCILE_QUEUE, { retryLimit: 0, policy: 'singleton' });
    await this.boss.createQueue(SAMPLE_STATS_QUEUE, { retryLimit: 0, policy: 'singleton' });
    await this.boss.work<LabOperationJob>(
      LAB_OPERATION_QUEUE,
      { localConcurrency: this.options.concurrency, pollingIntervalSeconds: 2, notifyPollingIntervalSeconds: 5, includeMetadata: true },
      async ([given]: Job<LabOperationJob>[]) => {
        if (!given) return;
        // includeMetadata: the job row's times are there (pg-boss's typing does not follow the option).
        const job = given as JobWithMetadata<LabOperationJob>;
        // Waiting starts when the job became due: its creation, or the end of a retry delay.
        const due = Math.max(new Date(job.createdOn).getTime(), new Date(job.startAfter).getTime());
        this.observer.waited(LAB_OPERATION_QUEUE, Math.max(0, (Date.now() - due) / 1000));
        if (job.retryCount > 0) this.observer.retried(LAB_OPERATION_QUEUE);
        await this.afterOutage(() => handlers.labOperation(job.data, job.retryCount >= RETRY_LIMIT));
      },
    );
    await this.boss.createQueue(PREPARE_STATES_QUEUE, { retryLimit: 0, expireInSeconds: 900, notify: true });
    const prepare = handlers.prepareStates;
    if (prepare) {
      // One at a time: preparing boots a VM, and labs come first on the host's CPUs.
      await this.boss.work<PrepareStatesJob>(
        PREPARE_STATES_QUEUE,
        { localConcurrency: 1, pollingIntervalSeconds: 2, notifyPollingIntervalSeconds: 5 },
        async ([job]: Job<PrepareStatesJob>[]) => {
          if (job) await prepare(job.data);
        },
      );
    }
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
    await this.boss.work(EXPIRE_LABS_QUEUE, { pollingIntervalSeconds: 5 }, () => handlers.expireLabs());
    await this.boss.work(RECONCILE_QUEUE, { pollingIntervalSeconds: 5 }, () => handlers.reconcile());
    await this.boss.work(SAMPLE_STATS_QUEUE, { pollingIntervalSeconds: 5 }, () => handlers.sampleStats());
    if (this.options.schedules) {
      await this.boss.schedule(EXPIRE_LABS_QUEUE, '* * * * *');
      await this.boss.schedule(RECONCILE_QUEUE, '*/5 * * * *');
      await this.boss.schedule(SAMPLE_STATS_QUEUE, '* * * * *');
    }
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

  /** Enqueues a lab operation. */
  async enqueueLabOperation(job: LabOperationJob): Promise<void> {
    await this.boss.send(LAB_OPERATION_QUEUE, job);
  }

  /** Enqueues the preparation of a template version's saved states (a job finds what is missing; extra jobs cost nothing). */
  async enqueuePrepareStates(job: PrepareStatesJob): Promise<void> {
    await this.boss.send(PREPARE_STATES_QUEUE, job);
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
    const queue = await this.boss.getQueue(LAB_OPERATION_QUEUE);
    return { queued: queue?.queuedCount ?? 0, active: queue?.activeCount ?? 0 };
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.boss.stop({ graceful: true, timeout: 10_000 });
  }
}

/** pg-boss keeps its own pool on a server; it connects with the same URL as ours. */
function poolOptions(database: Database): { connectionString: string } {
  const options = (database.pool as unknown as { options: { connectionString: string } }).options;
  return { connectionString: options.connectionString };
}
