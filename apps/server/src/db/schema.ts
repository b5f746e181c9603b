import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  check,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  type AnyPgColumn,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

// The one description of the database. Migrations in ./migrations are generated from it with
// `npm run db:generate -w apps/server` and applied at start; constraints live here, in SQL.

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();
const updatedAt = () => timestamp('updated_at', { withTimezone: true }).notNull().defaultNow();

export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    username: text('username').notNull(),
    email: text('email'),
    // A person's full name, for class lists and grade exports (optional).
    displayName: text('display_name'),
    role: text('role').notNull(),
    passwordHash: text('password_hash').notNull(),
    disabled: boolean('disabled').notNull().default(false),
    // Bumped to end every session at once: access tokens carry it, and a stale one is refused.
    sessionEpoch: integer('session_epoch').notNull().default(0),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('users_username_key').on(sql`lower(${t.username})`),
    uniqueIndex('users_email_key').on(sql`lower(${t.email})`),
    check('users_role_check', sql`${t.role} in ('admin', 'instructor', 'student')`),
    check('users_username_check', sql`${t.username} ~ '^[a-zA-Z0-9][a-zA-Z0-9._-]{1,63}$'`),
  ],
);

// An account at an OpenID Connect provider, linked to a user by the provider's (issuer, subject):
// never by a username or e-mail that the provider's users may choose or change.
export const userIdentities = pgTable(
  'user_identities',
  {
    issuer: text('issuer').notNull(),
    subject: text('subject').notNull(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: createdAt(),
    lastSignInAt: timestamp('last_sign_in_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.issuer, t.subject] }), index('user_identities_user_idx').on(t.userId)],
);

export const refreshTokens = pgTable(
  'refresh_tokens',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    // Only a SHA-256 of the token is kept, so a database leak does not leak sessions.
    tokenHash: text('token_hash').notNull(),
    // Tokens rotated from one login share a family; reuse of a rotated token revokes the family.
    familyId: uuid('family_id').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    usedAt: timestamp('used_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('refresh_tokens_token_hash_key').on(t.tokenHash),
    index('refresh_tokens_family_idx').on(t.familyId),
    index('refresh_tokens_user_idx').on(t.userId),
  ],
);

export const labTemplates = pgTable(
  'lab_templates',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    // The template's title; the seed called it name.
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    // The current version's config; every version is also kept in lab_template_versions.
    config: jsonb('config').notNull(),
    // The current version as its author wrote it (YAML, comments and order kept), for export and editing.
    source: text('source').notNull().default(''),
    version: integer('version').notNull().default(1),
    status: text('status').notNull().default('draft'),
    ownerId: uuid('owner_id').references(() => users.id, { onDelete: 'set null' }),
    // Labs kept provisioned and unassigned for this template (0: none), and the staff member who
    // set it: the pool's labs are theirs until a student takes one.
    warmPoolSize: integer('warm_pool_size').notNull().default(0),
    warmPoolOwnerId: uuid('warm_pool_owner_id').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('lab_templates_owner_idx').on(t.ownerId),
    index('lab_templates_status_idx').on(t.status),
    check('lab_templates_status_check', sql`${t.status} in ('draft', 'published', 'archived')`),
  ],
);

export const labTemplateVersions = pgTable(
  'lab_template_versions',
  {
    templateId: uuid('template_id')
      .notNull()
      .references(() => labTemplates.id, { onDelete: 'cascade' }),
    version: integer('version').notNull(),
    config: jsonb('config').notNull(),
    source: text('source').notNull().default(''),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.templateId, t.version] })],
);

// Hypervisor hosts: each process that runs a driver registers its machine here and heartbeats;
// admission places every lab on one `up` host with room.
export const hosts = pgTable(
  'hosts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    // Where the API would reach this host's agent (null: the local process).
    address: text('address'),
    cpus: integer('cpus').notNull(),
    memoryMiB: integer('memory_mib').notNull(),
    diskBytes: bigint('disk_bytes', { mode: 'number' }).notNull().default(0),
    accelerator: text('accelerator').notNull(),
    driver: text('driver').notNull(),
    state: text('state').notNull().default('up'),
    // An admin drained it: it stays `draining` (not `up`) when it heartbeats again after being down.
    drained: boolean('drained').notNull().default(false),
    lastHeartbeatAt: timestamp('last_heartbeat_at', { withTimezone: true }).notNull().defaultNow(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('hosts_name_key').on(t.name),
    check('hosts_state_check', sql`${t.state} in ('up', 'draining', 'down')`),
    check('hosts_accelerator_check', sql`${t.accelerator} in ('kvm', 'tcg', 'hardware', 'none')`),
    check('hosts_driver_check', sql`${t.driver} in ('qemu', 'virtualbox', 'fake')`),
  ],
);

export const labs = pgTable(
  'labs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    templateId: uuid('template_id').references(() => labTemplates.id, { onDelete: 'set null' }),
    templateVersion: integer('template_version').notNull().default(1),
    // The template config the lab was made from: later template versions do not change it.
    config: jsonb('config').notNull().default({}),
    status: text('status').notNull().default('provisioning'),
    errorStep: text('error_step'),
    errorMessage: text('error_message'),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    expiryWarnedAt: timestamp('expiry_warned_at', { withTimezone: true }),
    // When every VM first answered on its guest channel after provisioning (time to ready).
    readyAt: timestamp('ready_at', { withTimezone: true }),
    // When the lab joined the admission queue (status `queued`): the queue is served in this order.
    queuedAt: timestamp('queued_at', { withTimezone: true }),
    // The class assignment the lab was started for, if any (one live lab per student and assignment).
    assignmentId: uuid('assignment_id').references((): AnyPgColumn => assignments.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
    // A warm pool lab: provisioned ahead, unassigned, until `POST /labs` hands it to a student.
    pool: boolean('pool').notNull().default(false),
    // The host the lab's VMs live on, set when it is admitted (null while queued).
    hostId: uuid('host_id').references((): AnyPgColumn => hosts.id, { onDelete: 'set null' }),
  },
  (t) => [
    index('labs_user_idx').on(t.userId),
    uniqueIndex('labs_assignment_user_key')
      .on(t.assignmentId, t.userId)
      .where(sql`${t.assignmentId} is not null and ${t.status} <> 'deleted'`),
    index('labs_pool_idx').on(t.templateId, t.pool),
    index('labs_status_idx').on(t.status),
    index('labs_expires_idx').on(t.expiresAt),
    index('labs_host_idx').on(t.hostId),
    check(
      'labs_status_check',
      sql`${t.status} in ('queued', 'provisioning', 'running', 'starting', 'stopping', 'stopped', 'resetting', 'deleting', 'deleted', 'error')`,
    ),
  ],
);

export const labNetworks = pgTable(
  'lab_networks',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    labId: uuid('lab_id')
      .notNull()
      .references(() => labs.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    cidr: text('cidr').notNull(),
    // The name the hypervisor driver knows it by.
    driverName: text('driver_name').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('lab_networks_lab_name_key').on(t.labId, t.name), uniqueIndex('lab_networks_driver_name_key').on(t.driverName)],
);

export const vms = pgTable(
  'vms',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    labId: uuid('lab_id')
      .notNull()
      .references(() => labs.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    status: text('status').notNull().default('pending'),
    // The name the hypervisor driver knows it by; never shown to users.
    driverName: text('driver_name').notNull(),
    image: text('image').notNull().default(''),
    cpus: integer('cpus').notNull().default(1),
    memoryMiB: integer('memory_mib').notNull().default(128),
    nics: jsonb('nics').notNull().default([]),
    studentVisible: boolean('student_visible').notNull().default(true),
    studentControl: boolean('student_control').notNull().default(true),
    // The login cloud-init creates in the guest ({ username, password }), generated per lab; shown to the lab's users.
    credentials: jsonb('credentials'),
    // The driver's saved state this VM was created from (its disk layer), if any.
    savedState: text('saved_state'),
    // The host the VM lives on (its lab's host).
    hostId: uuid('host_id').references((): AnyPgColumn => hosts.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('vms_lab_name_key').on(t.labId, t.name),
    uniqueIndex('vms_driver_name_key').on(t.driverName),
    check('vms_status_check', sql`${t.status} in ('pending', 'stopped', 'starting', 'running', 'paused', 'error', 'missing', 'deleted')`),
  ],
);

export const labSteps = pgTable(
  'lab_steps',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    labId: uuid('lab_id')
      .notNull()
      .references(() => labs.id, { onDelete: 'cascade' }),
    // Steps of the lab's latest operation (provision, start, stop, reset, delete).
    operation: text('operation').notNull(),
    seq: integer('seq').notNull(),
    name: text('name').notNull(),
    status: text('status').notNull().default('pending'),
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
    error: text('error'),
  },
  (t) => [
    uniqueIndex('lab_steps_lab_seq_key').on(t.labId, t.seq),
    check('lab_steps_status_check', sql`${t.status} in ('pending', 'running', 'done', 'failed')`),
  ],
);

export const userLabs = pgTable(
  'user_labs',
  {
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    labId: uuid('lab_id')
      .notNull()
      .references(() => labs.id, { onDelete: 'cascade' }),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.labId] }), index('user_labs_lab_idx').on(t.labId)],
);

export const labEvents = pgTable(
  'lab_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    labId: uuid('lab_id').notNull(),
    type: text('type').notNull(),
    data: jsonb('data').notNull().default({}),
  },
  (t) => [index('lab_events_lab_idx').on(t.labId, t.id)],
);

export const accessTickets = pgTable(
  'access_tickets',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    // Short-lived single-use tickets that open WebSockets without a token in the URL.
    tokenHash: text('token_hash').notNull(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    kind: text('kind').notNull(),
    targetId: text('target_id'),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    usedAt: timestamp('used_at', { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('access_tickets_token_hash_key').on(t.tokenHash), index('access_tickets_expires_idx').on(t.expiresAt)],
);

export const auditEvents = pgTable(
  'audit_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    actorId: uuid('actor_id'),
    actorUsername: text('actor_username'),
    action: text('action').notNull(),
    targetType: text('target_type'),
    targetId: text('target_id'),
    outcome: text('outcome').notNull(),
    statusCode: integer('status_code'),
    ip: text('ip'),
    requestId: text('request_id'),
    details: jsonb('details').notNull().default({}),
  },
  (t) => [
    index('audit_events_at_idx').on(t.at),
    index('audit_events_actor_idx').on(t.actorId, t.at),
    index('audit_events_action_idx').on(t.action, t.at),
    index('audit_events_target_idx').on(t.targetId),
    index('audit_events_ip_idx').on(t.ip, t.at),
    check('audit_events_outcome_check', sql`${t.outcome} in ('success', 'failure', 'denied')`),
  ],
);

export const images = pgTable(
  'images',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    // What templates name the image by.
    name: text('name').notNull(),
    // disk (a standalone qcow2), iso (attached as a CD-ROM) or kernel (direct kernel boot).
    kind: text('kind').notNull(),
    sourceFormat: text('source_format').notNull(),
    status: text('status').notNull().default('ready'),
    progress: integer('progress').notNull().default(0),
    error: text('error'),
    osFamily: text('os_family').notNull().default('other'),
    firmware: text('firmware').notNull().default('bios'),
    defaultCpus: integer('default_cpus').notNull().default(1),
    defaultMemoryMiB: integer('default_memory_mib').notNull().default(512),
    defaultNics: integer('default_nics'),
    configMethod: text('config_method').notNull().default('none'),
    defaultUser: text('default_user'),
    notes: text('notes').notNull().default(''),
    // Stored files, relative to the image's folder: { disk?, iso?, kernel?, initrd?, cmdline? }.
    files: jsonb('files').notNull().default({}),
    sizeBytes: bigint('size_bytes', { mode: 'number' }).notNull().default(0),
    virtualSizeBytes: bigint('virtual_size_bytes', { mode: 'number' }),
    sha256: text('sha256'),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('images_name_key').on(t.name),
    check('images_kind_check', sql`${t.kind} in ('disk', 'iso', 'kernel')`),
    check('images_status_check', sql`${t.status} in ('converting', 'ready', 'failed')`),
    check('images_firmware_check', sql`${t.firmware} in ('bios', 'uefi')`),
    check('images_config_method_check', sql`${t.configMethod} in ('cloud-init', 'dhcp', 'none')`),
  ],
);

export const templateStates = pgTable(
  'template_states',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    templateId: uuid('template_id')
      .notNull()
      .references(() => labTemplates.id, { onDelete: 'cascade' }),
    templateVersion: integer('template_version').notNull(),
    vmName: text('vm_name').notNull(),
    // A hash of everything the state depends on: the template version's VM and networks, the
    // image files, the hypervisor and its version, the machine type. Any change: a new key.
    key: text('key').notNull(),
    image: text('image').notNull(),
    hypervisorVersion: text('hypervisor_version').notNull(),
    machine: text('machine').notNull(),
    // The name the driver keeps the state under; never shown to students.
    stateName: text('state_name').notNull(),
    status: text('status').notNull().default('preparing'),
    error: text('error'),
    sizeBytes: bigint('size_bytes', { mode: 'number' }),
    prepareMs: integer('prepare_ms'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    // One live state per key; failed and stale ones stay until no VM uses them.
    uniqueIndex('template_states_live_key')
      .on(t.key)
      .where(sql`${t.status} in ('preparing', 'ready')`),
    index('template_states_template_idx').on(t.templateId, t.templateVersion),
    check('template_states_status_check', sql`${t.status} in ('preparing', 'ready', 'failed', 'stale')`),
  ],
);

export const labSecrets = pgTable(
  'lab_secrets',
  {
    labId: uuid('lab_id')
      .notNull()
      .references(() => labs.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    // Only an HMAC of the value is kept (values are derived on demand from the platform key):
    // enough to find which lab a shared answer came from.
    digest: text('digest').notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.labId, t.name] }), index('lab_secrets_digest_idx').on(t.digest)],
);

export const taskAttempts = pgTable(
  'task_attempts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    labId: uuid('lab_id')
      .notNull()
      .references(() => labs.id, { onDelete: 'cascade' }),
    taskId: text('task_id').notNull(),
    userId: uuid('user_id').references(() => users.id, { onDelete: 'set null' }),
    // `answer`: a submitted answer (counts against maxAttempts); `check`: an automatic check run.
    kind: text('kind').notNull(),
    answer: text('answer'),
    correct: boolean('correct').notNull(),
    // Set when the answer was another lab's secret.
    sharedFromLabId: uuid('shared_from_lab_id'),
    output: text('output'),
    createdAt: createdAt(),
  },
  (t) => [index('task_attempts_lab_idx').on(t.labId, t.taskId), check('task_attempts_kind_check', sql`${t.kind} in ('answer', 'check')`)],
);

export const taskReveals = pgTable(
  'task_reveals',
  {
    labId: uuid('lab_id')
      .notNull()
      .references(() => labs.id, { onDelete: 'cascade' }),
    taskId: text('task_id').notNull(),
    kind: text('kind').notNull(),
    // The hint's id; '' for a solution.
    hintId: text('hint_id').notNull().default(''),
    userId: uuid('user_id').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.labId, t.taskId, t.kind, t.hintId] }),
    check('task_reveals_kind_check', sql`${t.kind} in ('hint', 'solution')`),
  ],
);
// One row a minute (the stats-sample job), kept CTP_STATS_RETENTION_DAYS: the admin overview's charts.
export const platformSamples = pgTable('platform_samples', {
  sampledAt: timestamp('sampled_at', { withTimezone: true }).primaryKey(),
  labs: jsonb('labs').notNull().default({}),
  vmsRunning: integer('vms_running').notNull(),
  vmsTotal: integer('vms_total').notNull(),
  vmCpus: integer('vm_cpus').notNull(),
  vmMemoryMiB: integer('vm_memory_mib').notNull(),
  hostCpus: integer('host_cpus').notNull(),
  hostMemoryMiB: integer('host_memory_mib').notNull(),
  provisions: integer('provisions').notNull(),
  provisionFailures: integer('provision_failures').notNull(),
  provisionP50Seconds: doublePrecision('provision_p50_seconds'),
  provisionP95Seconds: doublePrecision('provision_p95_seconds'),
  readyP50Seconds: doublePrecision('ready_p50_seconds'),
  readyP95Seconds: doublePrecision('ready_p95_seconds'),
});

export const classes = pgTable(
  'classes',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    // An archived class keeps its records (grades stay exportable) but takes no new enrolments or assignments.
    archived: boolean('archived').notNull().default(false),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('classes_archived_idx').on(t.archived)],
);

export const classInstructors = pgTable(
  'class_instructors',
  {
    classId: uuid('class_id')
      .notNull()
      .references(() => classes.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.classId, t.userId] }), index('class_instructors_user_idx').on(t.userId)],
);

export const classStudents = pgTable(
  'class_students',
  {
    classId: uuid('class_id')
      .notNull()
      .references(() => classes.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.classId, t.userId] }), index('class_students_user_idx').on(t.userId)],
);

export const assignments = pgTable(
  'assignments',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    classId: uuid('class_id')
      .notNull()
      .references(() => classes.id, { onDelete: 'cascade' }),
    templateId: uuid('template_id')
      .notNull()
      .references(() => labTemplates.id, { onDelete: 'restrict' }),
    opensAt: timestamp('opens_at', { withTimezone: true }).notNull(),
    closesAt: timestamp('closes_at', { withTimezone: true }).notNull(),
    labLifetimeMinutes: integer('lab_lifetime_minutes').notNull(),
    // Students of the class may see everyone's scores when the instructor turns this on.
    scoreboard: boolean('scoreboard').notNull().default(false),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('assignments_class_idx').on(t.classId),
    index('assignments_closes_idx').on(t.closesAt),
    check('assignments_window_check', sql`${t.closesAt} > ${t.opensAt}`),
    check('assignments_lifetime_check', sql`${t.labLifetimeMinutes} > 0`),
  ],
);

// Pre-class verification runs of a template: a fresh lab, each task's reference solution, its checks and answers.
export const templateVerifications = pgTable(
  'template_verifications',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    templateId: uuid('template_id')
      .notNull()
      .references(() => labTemplates.id, { onDelete: 'cascade' }),
    templateVersion: integer('template_version').notNull(),
    status: text('status').notNull().default('running'),
    requestedBy: uuid('requested_by').references(() => users.id, { onDelete: 'set null' }),
    labId: uuid('lab_id'),
    message: text('message'),
    results: jsonb('results').notNull().default([]),
    createdAt: createdAt(),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [
    index('template_verifications_template_idx').on(t.templateId, t.createdAt),
    check('template_verifications_status_check', sql`${t.status} in ('running', 'passed', 'failed', 'error')`),
  ],
);

// Platform settings an admin changes at run time (e.g. admission control), one JSON value per key.
export const platformSettings = pgTable('platform_settings', {
  key: text('key').primaryKey(),
  value: jsonb('value').notNull(),
  updatedAt: updatedAt(),
});

// The help queue: a student's "Ask for help" on a lab, taken and resolved by staff.
export const helpRequests = pgTable(
  'help_requests',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    labId: uuid('lab_id')
      .notNull()
      .references(() => labs.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    message: text('message').notNull(),
    status: text('status').notNull().default('open'),
    takenBy: uuid('taken_by').references(() => users.id, { onDelete: 'set null' }),
    takenAt: timestamp('taken_at', { withTimezone: true }),
    resolvedBy: uuid('resolved_by').references(() => users.id, { onDelete: 'set null' }),
    resolvedAt: timestamp('resolved_at', { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [
    index('help_requests_status_idx').on(t.status, t.createdAt),
    index('help_requests_lab_idx').on(t.labId),
    check('help_requests_status_check', sql`${t.status} in ('open', 'taken', 'resolved', 'cancelled')`),
    // One waiting request per lab at a time.
    uniqueIndex('help_requests_one_waiting_key')
      .on(t.labId)
      .where(sql`${t.status} in ('open', 'taken')`),
  ],
);

// Announcements to a whole class, shown live as a banner on its students' pages.
export const announcements = pgTable(
  'announcements',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    classId: uuid('class_id')
      .notNull()
      .references(() => classes.id, { onDelete: 'cascade' }),
    authorId: uuid('author_id').references(() => users.id, { onDelete: 'set null' }),
    message: text('message').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('announcements_class_idx').on(t.classId, t.createdAt)],
);

// Quotas an admin sets: concurrent labs, vCPUs and memory per role, per user, or per class
// (a class quota holds each student, for the labs of that class's assignments). Null: no limit.
// The subject is text (role name, user id, class id) so that one table serves every scope;
// user and class rows are removed with their subject by the service, which checks they exist.
export const quotas = pgTable(
  'quotas',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    scope: text('scope').notNull(),
    subject: text('subject').notNull(),
    maxLabs: integer('max_labs'),
    maxVcpus: integer('max_vcpus'),
    maxMemoryMiB: integer('max_memory_mib'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('quotas_scope_subject_key').on(t.scope, t.subject),
    check('quotas_scope_check', sql`${t.scope} in ('role', 'user', 'class')`),
    check(
      'quotas_limits_check',
      sql`coalesce(${t.maxLabs}, 0) >= 0 and coalesce(${t.maxVcpus}, 0) >= 0 and coalesce(${t.maxMemoryMiB}, 0) >= 0`,
    ),
  ],
);
