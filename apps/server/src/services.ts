import os from 'node:os';
import type { HypervisorDriver } from '@ctp/hypervisor';
import type { Config } from './config.js';
import type { Database } from './db/database.js';
import { createClusterDriver } from './agent/cluster.driver.js';
import { JobQueue } from './jobs/job-queue.js';
import { createMetrics, zeroKnownSeries } from './plugins/metrics.js';
import { RestoreSlots, restoreSlotsPerCore } from './jobs/restore-slots.js';
import { LabRunner } from './jobs/lab-runner.js';
import type { LabOperation } from './labs/lab-operation.js';
import { LabDispatch } from './jobs/lab-dispatch.js';
import { createBackground } from './background.js';
import { AdmissionRepository } from './repositories/admission.repository.js';
import { HostsRepository } from './repositories/hosts.repository.js';
import { HostService } from './services/host.service.js';
import { statfsNearest } from './plugins/operational-metrics.js';
import { AssignmentsRepository } from './repositories/assignments.repository.js';
import { AuditRepository } from './repositories/audit.repository.js';
import { ClassesRepository } from './repositories/classes.repository.js';
import { EventsRepository } from './repositories/events.repository.js';
import { LabsRepository } from './repositories/labs.repository.js';
import { QuotasRepository } from './repositories/quotas.repository.js';
import { RefreshTokensRepository } from './repositories/refresh-tokens.repository.js';
import { TemplateStatesRepository } from './repositories/template-states.repository.js';
import { StatsRepository } from './repositories/stats.repository.js';
import { TemplatesRepository } from './repositories/templates.repository.js';
import { TasksRepository } from './repositories/tasks.repository.js';
import { TicketsRepository } from './repositories/tickets.repository.js';
import { UsersRepository } from './repositories/users.repository.js';
import { IdentitiesRepository } from './repositories/identities.repository.js';
import { VerificationsRepository } from './repositories/verifications.repository.js';
import { HelpRepository } from './repositories/help.repository.js';
import { AnnouncementsRepository } from './repositories/announcements.repository.js';
import { AnnouncementService } from './services/announcement.service.js';
import { ProgressService } from './services/progress.service.js';
import { AdmissionService } from './services/admission.service.js';
import { AssignmentService } from './services/assignment.service.js';
import { AuditService } from './services/audit.service.js';
import { AuthService } from './services/auth.service.js';
import { BackupService } from './services/backup.service.js';
import { ClassService } from './services/class.service.js';
import { ConsoleService } from './services/console.service.js';
import { EventBus } from './services/event-bus.js';
import { EventsService } from './services/events.service.js';
import { SessionsService } from './services/sessions.service.js';
import path from 'node:path';
import type { BuiltinImages } from './services/image-catalog.js';
import { ImageLibraryService } from './services/image-library.service.js';
import { GoldenImageService } from './services/golden-image.service.js';
import { ImagesRepository } from './repositories/images.repository.js';
import { LabAccess } from './services/lab-access.js';
import { LabContentDelivery } from './services/lab-content.js';
import { LabMaintenanceService } from './services/lab-maintenance.service.js';
import { LabService } from './services/lab.service.js';
import { QuotaService } from './services/quota.service.js';
import { OidcService } from './services/oidc.service.js';
import { loadOrCreateSecretsKey } from './services/secrets.js';
import { StatsService } from './services/stats.service.js';
import { SystemService } from './services/system.service.js';
import { TemplateStateService, type GuestReady } from './services/template-state.service.js';
import { WarmPoolService } from './services/warm-pool.service.js';
import { TaskService } from './services/task.service.js';
import { TemplateService } from './services/template.service.js';
import { TicketService } from './services/ticket.service.js';
import { loadOrCreateJwtSecret, TokenService } from './services/token.service.js';
import { UsersService } from './services/users.service.js';
import { VerificationService } from './services/verification.service.js';
import { HelpService } from './services/help.service.js';

export type Services = ReturnType<typeof createServices>;

export interface Infrastructure {
  /** This machine's hypervisor; none in the `api` role, which does no hypervisor work itself. */
  driver?: HypervisorDriver;
  /** The built-in demo images (the library adds uploaded ones). */
  images: BuiltinImages;
  log?: (message: string, details: Record<string, unknown>) => void;
  /** The host's CPUs and memory for admission control (default: this machine's). */
  hostCapacity?: () => { cpus: number; memoryMiB: number };
  /** The clock hosts' heartbeats and staleness checks read (tests move it). */
  clock?: () => Date;
  /** When a reference VM is ready to be saved (default: the demo guests' `CTP-READY` line on the serial console). */
  guestReady?: GuestReady;
}

/** The composition root: every repository and service, wired by hand, in one place. */
export function createServices(config: Config, database: Database, infra: Infrastructure) {
  const db = database.db;
  const repositories = {
    users: new UsersRepository(db),
    refreshTokens: new RefreshTokensRepository(db),
    audit: new AuditRepository(db),
    templates: new TemplatesRepository(db),
    labs: new LabsRepository(db),
    events: new EventsRepository(db),
    tickets: new TicketsRepository(db),
    images: new ImagesRepository(db),
    templateStates: new TemplateStatesRepository(db),
    tasks: new TasksRepository(db),
    stats: new StatsRepository(db),
    identities: new IdentitiesRepository(db),
    verifications: new VerificationsRepository(db),
    admission: new AdmissionRepository(db),
    hosts: new HostsRepository(db),
    help: new HelpRepository(db),
    announcements: new AnnouncementsRepository(db),
    classes: new ClassesRepository(db),
    assignments: new AssignmentsRepository(db),
    quotas: new QuotasRepository(db),
  };
  const log = infra.log ?? (() => {});
  // What the API does at once to one VM (consoles, VM actions, snapshots, guest commands) goes to
  // the VM's host: this process's driver, or that host's agent. Jobs and host-wide work (lab
  // operations, saved states, reconciliation) run where their driver is, with the local one.
  const driver = createClusterDriver({ local: infra.driver, hosts: repositories.hosts, config });
  // Without a local hypervisor (the `api` role runs no jobs), what would be host-wide asks an agent
  // (capabilities) or is refused with the reason by the cluster driver.
  const hostDriver = infra.driver ?? driver;
  const jwtSecret = loadOrCreateJwtSecret(config.jwtSecret, config.dataDir);
  const tokens = new TokenService(jwtSecret, config.accessTokenTtlSeconds);
  const audit = new AuditService(repositories.audit);
  const sessions = new SessionsService(
    repositories.users,
    repositories.refreshTokens,
    repositories.tickets,
    database.notifier('ctp_sessions'),
    log,
  );
  const auth = new AuthService(
    repositories.users,
    repositories.refreshTokens,
    repositories.audit,
    audit,
    tokens,
    {
      refreshTtlSeconds: config.refreshTokenTtlSeconds,
      maxFailuresPerPair: config.loginMaxFailures,
      maxFailuresPerAddress: config.loginMaxFailures * 4,
      slowDownAfter: config.loginMaxFailures,
      baseDelayMs: config.loginDelayMs,
      maxDelayMs: config.loginMaxDelayMs,
      windowSeconds: config.loginWindowSeconds,
    },
    sessions,
    { localPasswords: config.localPasswords, ssoName: config.oidc?.name ?? null },
  );
  // The state cookie is signed with a key derived from the JWT secret (shared by all instances).
  const oidc = config.oidc
    ? new OidcService(config.oidc, repositories.identities, repositories.users, auth, sessions, audit, jwtSecret, log)
    : undefined;
  const users = new UsersService(repositories.users, sessions);
  const classes = new ClassService(repositories.classes, repositories.users);
  const eventBus = new EventBus(repositories.events, database, log);
  const labAccess = new LabAccess(repositories.labs, repositories.classes);
  const events = new EventsService(repositories.events, eventBus, repositories.labs, sessions, labAccess);
  const tickets = new TicketService(repositories.tickets, sessions);
  const images = new ImageLibraryService(repositories.images, infra.images, path.join(config.dataDir, 'images'), config.imageQuotaBytes);
  const metrics = createMetrics(config.hostName);
  zeroKnownSeries(metrics);
  const jobs = new JobQueue(
    database,
    { concurrency: config.jobConcurrency, schedules: config.schedules },
    { waited: (queue, seconds) => metrics.jobQueueWait.observe({ queue }, seconds), retried: (queue) => metrics.jobRetries.inc({ queue }) },
    log,
  );
  const runsAgent = config.role !== 'api';
  // Set while the job queue runs: before that, nothing may be enqueued (see the host service's hook).
  const backgroundState = { started: false };
  // This process's own host (null in the `api` role, which drives no hypervisor). Its queues are
  // worked under its current id (a host registered anew, its row removed, gets a new one).
  const localHost = async (): Promise<string | null> => {
    const id = await hosts.ensureLocal();
    if (id) await jobs.workHost(id);
    return id;
  };
  // Saved states are files on one host's disk: a lab's agent prepares its own host's.
  const prepareHere = async (templateId: string, version: number) => {
    const hostId = await localHost();
    if (hostId) await jobs.enqueuePrepareStates({ templateId, version }, hostId);
  };
  // A new template version: every host that takes labs prepares it (hosts down or added later
  // prepare theirs when a lab first boots cold there).
  const prepareEverywhere = async (templateId: string, version: number) => {
    for (const host of await repositories.admission.hosts())
      if (host.state === 'up') await jobs.enqueuePrepareStates({ templateId, version }, host.id);
  };
  const templateStates = new TemplateStateService(repositories.templateStates, repositories.templates, hostDriver, images, prepareHere, {
    enabled: config.savedStates,
    hostId: localHost,
    ...(infra.guestReady ? { guestReady: infra.guestReady } : {}),
    prepareFiles: (vmDriverName, vmConfig, vmName) => hostContent.prepareFiles(vmDriverName, vmConfig, vmName),
  });
  const templates = new TemplateService(repositories.templates, images, undefined, config.savedStates ? prepareEverywhere : undefined);
  const dispatch: LabDispatch = new LabDispatch(repositories.labs, jobs, eventBus, localHost, () => admission.admit());
  const enqueue = (labId: string, operation: LabOperation) => dispatch.enqueue(labId, operation);
  const tasks = new TaskService(
    repositories.labs,
    repositories.tasks,
    audit,
    eventBus,
    driver,
    loadOrCreateSecretsKey(config.secretsKey, config.dataDir),
    { answersPerMinute: config.answersPerMinute, checksPerMinute: config.checksPerMinute },
    labAccess,
    async (assignmentId) => repositories.assignments.findById(assignmentId),
  );
  const machine = infra.hostCapacity ?? (() => ({ cpus: os.cpus().length, memoryMiB: Math.round(os.totalmem() / 2 ** 20) }));
  const hosts: HostService = new HostService(
    repositories.hosts,
    repositories.labs,
    audit,
    eventBus,
    runsAgent
      ? {
          name: config.hostName,
          address: config.hostAddress,
          capacity: async () => {
            const fs = await statfsNearest(config.dataDir);
            return { ...machine(), diskBytes: fs.blocks * fs.bsize };
          },
          probe: async () => {
            const probe = await hostDriver.probe();
            return { driver: probe.driver, accelerator: probe.accelerator };
          },
        }
      : undefined,
    { heartbeatSeconds: config.hostHeartbeatSeconds, downAfterSeconds: config.hostDownAfterSeconds },
    {
      wentDown: (host) => metrics.hostDowns.inc({ host }),
      failed: (what, error) => log(`host ${what} failed`, { error: error instanceof Error ? error.message : String(error) }),
    },
    infra.clock,
    // Before the queues run (an agent registering at start finds its host back from `down`), the
    // admission at the end of startBackground does it.
    async (): Promise<void> => void (backgroundState.started && (await admission.admit())),
  );
  const admission: AdmissionService = new AdmissionService(
    repositories.admission,
    repositories.labs,
    eventBus,
    (labId) => enqueue(labId, 'provision'),
    hosts,
  );
  const secretValues: ConstructorParameters<typeof LabContentDelivery>[1] = (labId, labConfig) => tasks.secretValues(labId, labConfig);
  const content = new LabContentDelivery(driver, secretValues);
  const hostContent = new LabContentDelivery(hostDriver, secretValues);
  // Lab operations (jobs) run on the lab's own host, whose driver is this process's.
  const runner = new LabRunner(
    repositories.labs,
    hostDriver,
    eventBus,
    images,
    tasks,
    hostContent,
    {
      finished: (operation, outcome, seconds) => {
        metrics.labOperations.inc({ operation, outcome });
        metrics.labOperationSeconds.observe({ operation }, seconds);
      },
      running: (template, seconds) => metrics.labTimeToRunning.observe({ template, host: metrics.host }, seconds),
      ready: (template, seconds) => metrics.labTimeToReady.observe({ template, host: metrics.host }, seconds),
      readyTimedOut: (template) => metrics.labReadyTimeouts.inc({ template, host: metrics.host }),
      stepFailed: (operation, step) => metrics.labStepFailures.inc({ operation, step }),
    },
    templateStates,
    () => admission.admit(),
    new RestoreSlots(
      restoreSlotsPerCore(config.restoresPerCore, async (hostId) =>
        hostId ? (await repositories.hosts.findById(hostId))?.cpus : undefined,
      ),
    ),
  );
  const goldenImages = new GoldenImageService(repositories.labs, driver, images, labAccess);
  const refillPool = (templateId: string) => jobs.enqueueRefillWarmPool(templateId);
  const quotas = new QuotaService(repositories.quotas, repositories.users, repositories.classes, audit, {
    maxLabsPerUser: config.maxLabsPerUser,
  });
  const labs = new LabService(
    repositories.labs,
    repositories.users,
    templates,
    driver,
    eventBus,
    sessions,
    enqueue,
    content,
    { maxLifetimeMinutes: config.maxLabLifetimeMinutes },
    labAccess,
    admission,
    async (assignmentId) => (await repositories.assignments.findById(assignmentId))?.closesAt,
    refillPool,
    (hostId) => hosts.ofLab(hostId),
    quotas,
  );
  const warmPools = new WarmPoolService(repositories.templates, repositories.labs, labs, refillPool, {
    reserveMiB: config.warmPoolReserveMiB,
    freeMemoryMiB: () => Math.round(os.freemem() / 2 ** 20),
    hostTakesLabs: () => hosts.localTakesLabs(),
  });
  const assignments = new AssignmentService(
    repositories.assignments,
    classes,
    templates,
    repositories.templates,
    labs,
    repositories.labs,
    tasks,
    repositories.users,
  );
  const verifications = new VerificationService(
    repositories.verifications,
    templates,
    labs,
    repositories.labs,
    repositories.users,
    tasks,
    driver,
    audit,
    (id) => jobs.enqueueVerification(id),
    { labTimeoutMs: 10 * 60_000, abandonedAfterMs: 30 * 60_000 },
  );
  const announcements = new AnnouncementService(repositories.announcements, classes, repositories.classes, eventBus);
  const progress = new ProgressService(
    repositories.assignments,
    classes,
    repositories.templates,
    repositories.labs,
    repositories.tasks,
    tasks,
    admission,
  );
  const help = new HelpService(repositories.help, repositories.labs, eventBus, labAccess);
  const consoles = new ConsoleService(
    repositories.labs,
    driver,
    tickets,
    audit,
    eventBus,
    sessions,
    {
      sessionsPerUser: config.consoleSessionsPerUser,
      sessionsPerVm: config.consoleSessionsPerVm,
    },
    labAccess,
  );
  const system = new SystemService(hostDriver, images, repositories.labs, database.engine);
  const maintenance = new LabMaintenanceService(
    repositories.labs,
    hostDriver,
    eventBus,
    audit,
    enqueue,
    config.expiryWarningMinutes,
    log,
    (name) => templateStates.inPreparation(name),
    (labId) => sessions.labChanged(labId),
    async () => {
      const own = await localHost();
      // In the single process, labs recorded before hosts existed (no host) are this driver's too.
      return (hostId) => hostId === own || (hostId === null && config.role === 'all');
    },
  );

  const { startBackground, stopBackground } = createBackground(config.role, backgroundState, {
    sessions,
    eventBus,
    jobs,
    hosts,
    admission,
    maintenance,
    warmPools,
    templateStates,
    runner,
    verifications,
    sample: () => stats.sample(),
  });

  const backups = new BackupService(database);
  const stats = new StatsService(repositories.stats, repositories.labs, config.statsRetentionDays);

  return {
    database,
    backups,
    stats,
    repositories,
    tokens,
    audit,
    sessions,
    auth,
    oidc,
    users,
    classes,
    assignments,
    templates,
    templateStates,
    labs,
    quotas,
    warmPools,
    tasks,
    verifications,
    admission,
    hosts,
    help,
    announcements,
    progress,
    content,
    events,
    tickets,
    consoles,
    system,
    metrics,
    maintenance,
    runner,
    jobs,
    eventBus,
    // This process's own driver (what it was given); services use the cluster driver.
    driver: hostDriver,
    clusterDriver: driver,
    images,
    goldenImages,
    startBackground,
    stopBackground,
  };
}
