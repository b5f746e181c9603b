import Type, { type Static } from 'typebox';
import { Page, PageQuery, Timestamp, Uuid } from './common.js';

const Name = Type.String({
  minLength: 1,
  maxLength: 32,
  pattern: '^[a-z][a-z0-9-]*$',
  description: 'Lower-case letters, digits and dashes.',
});

/** A guest setting's name: lower-case, starts with a letter. */
export const SETTING_KEY_PATTERN = '^[a-z][a-z0-9_]{0,31}$';
/** A guest setting's value: no blanks, quotes, backslashes or control characters. */
export const SETTING_VALUE_PATTERN = '^[A-Za-z0-9._:/@+,=%{}~!#?&*^-]*$';

export const TemplateNetwork = Type.Object(
  {
    name: Name,
    cidr: Type.String({ maxLength: 18, pattern: '^\\d{1,3}(\\.\\d{1,3}){3}/\\d{1,2}$', description: 'IPv4 network, e.g. 10.0.0.0/24.' }),
    gateway: Type.Optional(
      Type.String({ maxLength: 15, format: 'ipv4', description: "Default route of this network's guests (cloud-init images)." }),
    ),
    dns: Type.Optional(
      Type.Array(Type.String({ maxLength: 15, format: 'ipv4' }), { maxItems: 3, description: 'DNS servers handed to guests.' }),
    ),
    dhcp: Type.Optional(
      Type.Boolean({
        description:
          "Run a DHCP server on this network (static leases by MAC from the VMs' addresses); on by default where an image is configured by DHCP only.",
      }),
    ),
  },
  { additionalProperties: false },
);

export const TemplateNic = Type.Object(
  {
    network: Name,
    address: Type.Optional(Type.String({ maxLength: 15, format: 'ipv4', description: 'Static address inside the network CIDR.' })),
    mac: Type.Optional(
      Type.String({
        pattern: '^([0-9a-f]{2}:){5}[0-9a-f]{2}$',
        description: 'Fixed MAC (lower case); otherwise one is derived per VM and NIC.',
      }),
    ),
  },
  { additionalProperties: false },
);

export const TemplateVm = Type.Object(
  {
    name: Name,
    image: Type.String({ minLength: 1, maxLength: 64, description: 'Base image name, e.g. demo-attacker.' }),
    cpus: Type.Optional(Type.Integer({ minimum: 1, maximum: 8, default: 1 })),
    memoryMiB: Type.Optional(Type.Integer({ minimum: 32, maximum: 16384, default: 128 })),
    nics: Type.Array(TemplateNic, { maxItems: 4 }),
    /** Students see this VM (state, console); hidden VMs are infrastructure. */
    studentVisible: Type.Optional(Type.Boolean({ default: true })),
    /** Students may start, stop, reboot and revert this VM. */
    studentControl: Type.Optional(Type.Boolean({ default: true })),
    /** The login cloud-init creates (default: the image's default user); its password is generated per lab. */
    user: Type.Optional(Type.String({ minLength: 1, maxLength: 32, pattern: '^[a-z_][a-z0-9_-]*$' })),
    /** SSH public keys authorized for that login (cloud-init images). */
    sshKeys: Type.Optional(Type.Array(Type.String({ maxLength: 2000, pattern: '^(ssh|ecdsa)-[^\\n]+$' }), { maxItems: 16 })),
    /**
     * How labs start this VM: `saved-state` (default) resumes a running state the platform saved
     * once per template version (falling back to a boot while there is none); `cold` always boots.
     */
    boot: Type.Optional(
      Type.Union([Type.Literal('saved-state'), Type.Literal('cold')], { default: 'saved-state', description: 'saved-state or cold.' }),
    ),
    /**
     * Values handed to the guest (kernel images: on the command line as ctp.KEY=VALUE, except
     * secrets such as `flag`, which never go on a command line). Keys and values have a strict
     * charset so that nothing can break out of the kernel command line.
     */
    settings: Type.Optional(
      Type.Record(Type.String({ pattern: SETTING_KEY_PATTERN }), Type.String({ maxLength: 128, pattern: SETTING_VALUE_PATTERN }), {
        additionalProperties: false,
        maxProperties: 32,
      }),
    ),
  },
  { additionalProperties: false },
);

const SecretName = Type.String({ pattern: '^[a-z][a-z0-9_]{0,31}$', description: 'Lower-case letters, digits and underscores.' });

/** A value generated per lab (HMAC of the platform key and the lab id): stable for the lab, different between labs. */
export const TemplateSecret = Type.Object(
  {
    name: SecretName,
    type: Type.Union([Type.Literal('flag'), Type.Literal('password'), Type.Literal('port'), Type.Literal('word'), Type.Literal('text')]),
    /** flag: the format, `<hex:N>` replaced by N random hex digits; default `CTP{<hex:32>}`. */
    format: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: '<hex:\\d{1,2}>' })),
    /** password, text: how many characters (default 16). */
    length: Type.Optional(Type.Integer({ minimum: 4, maximum: 128 })),
    /** port: the range (default 1024–65535). */
    min: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    max: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    /** word: the list to pick from. */
    words: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64, pattern: '^\\S+$' }), { minItems: 1, maxItems: 1000 })),
  },
  { additionalProperties: false },
);
export type TemplateSecret = Static<typeof TemplateSecret>;

/** A file written into a VM over the private guest channel after it starts, a revert or a restore. */
export const TemplateInject = Type.Object(
  {
    vm: Name,
    path: Type.String({ minLength: 2, maxLength: 255, pattern: '^/[^\\0]*$', description: 'Absolute path inside the guest.' }),
    /** Text with `{{secret}}` placeholders. */
    content: Type.String({ maxLength: 65_536 }),
    mode: Type.Optional(Type.String({ pattern: '^0?[0-7]{3}$', description: 'Octal, e.g. "0644".' })),
    owner: Type.Optional(Type.String({ maxLength: 64, pattern: '^[a-z_][a-z0-9_-]*(:[a-z_][a-z0-9_-]*)?$' })),
  },
  { additionalProperties: false },
);
export type TemplateInject = Static<typeof TemplateInject>;

const caseInsensitive = Type.Optional(Type.Boolean({ description: 'Ignore upper/lower case.' }));
/** One accepted answer: a literal, a regular expression, a lab secret, or a set of items in any order. */
export const TemplateAnswer = Type.Union([
  Type.Object({ equals: Type.String({ minLength: 1, maxLength: 1000 }), caseInsensitive }, { additionalProperties: false }),
  Type.Object({ regex: Type.String({ minLength: 1, maxLength: 1000 }), caseInsensitive }, { additionalProperties: false }),
  Type.Object({ secret: SecretName }, { additionalProperties: false }),
  Type.Object(
    {
      set: Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { minItems: 1, maxItems: 100 }),
      caseInsensitive,
    },
    { additionalProperties: false, description: 'Items in any order, separated by commas or spaces.' },
  ),
]);
export type TemplateAnswer = Static<typeof TemplateAnswer>;

export const TemplateHint = Type.Object(
  { id: Name, text: Type.String({ minLength: 1, maxLength: 5000 }), cost: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000 })) },
  { additionalProperties: false },
);
export type TemplateHint = Static<typeof TemplateHint>;

export const TemplateCheck = Type.Object(
  {
    /** The VM the command runs in: the student's own, or another (hidden) VM that probes it. */
    vm: Name,
    /** Run as `sh -c RUN`. */
    run: Type.String({ minLength: 1, maxLength: 4000 }),
    expect: Type.Optional(
      Type.Object(
        {
          exitCode: Type.Optional(Type.Integer({ minimum: 0, maximum: 255 })),
          stdoutRegex: Type.Optional(Type.String({ maxLength: 1000 })),
        },
        { additionalProperties: false },
      ),
    ),
    /** Seconds (default 10). */
    timeout: Type.Optional(Type.Integer({ minimum: 1, maximum: 120 })),
  },
  { additionalProperties: false },
);
export type TemplateCheck = Static<typeof TemplateCheck>;

/** A task's reference solution: Markdown for students (if allowed) and commands verification runs. */
export const TemplateSolution = Type.Object(
  {
    /** Markdown, revealable when the template sets `allowSolutions`. */
    text: Type.Optional(Type.String({ maxLength: 20_000 })),
    /** The VM the commands run in (over the private guest channel). */
    vm: Type.Optional(Name),
    /** Run as `sh -c RUN`; for an answer task its trimmed output is the answer submitted, unless `answer` is given. */
    run: Type.Optional(Type.String({ minLength: 1, maxLength: 4000 })),
    /** What verification submits (default: the output of `run`, else the task's literal or secret answer). */
    answer: Type.Optional(Type.String({ minLength: 1, maxLength: 1000 })),
    /** Seconds (default 30). */
    timeout: Type.Optional(Type.Integer({ minimum: 1, maximum: 300 })),
  },
  { additionalProperties: false },
);
export type TemplateSolution = Static<typeof TemplateSolution>;

export const TaskType = Type.Union([Type.Literal('info'), Type.Literal('answer'), Type.Literal('choice'), Type.Literal('check')]);
export type TaskType = Static<typeof TaskType>;

export const TemplateTask = Type.Object(
  {
    id: Name,
    title: Type.String({ minLength: 1, maxLength: 200 }),
    /** Default: `check` with a check, `choice` with options, `answer` with answers, else `info`. */
    type: Type.Optional(TaskType),
    /** Markdown shown to the student. */
    body: Type.Optional(Type.String({ maxLength: 20_000 })),
    /** Version-1 name of `body`. */
    description: Type.Optional(Type.String({ maxLength: 20_000 })),
    points: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000 })),
    answers: Type.Optional(Type.Array(TemplateAnswer, { minItems: 1, maxItems: 20 })),
    options: Type.Optional(
      Type.Array(
        Type.Object(
          { id: Name, text: Type.String({ minLength: 1, maxLength: 1000 }), correct: Type.Optional(Type.Boolean()) },
          { additionalProperties: false },
        ),
        {
          minItems: 2,
          maxItems: 20,
        },
      ),
    ),
    check: Type.Optional(TemplateCheck),
    hints: Type.Optional(Type.Array(TemplateHint, { maxItems: 10 })),
    maxAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    requires: Type.Optional(Type.Array(Name, { maxItems: 20 })),
    /**
     * Markdown, revealable when the template sets `allowSolutions` (the task is then worth 0); or
     * an object whose `text` is that Markdown and whose `run` is the reference solution that
     * pre-class verification performs (staff only, never shown to students).
     */
    solution: Type.Optional(Type.Union([Type.String({ maxLength: 20_000 }), TemplateSolution])),
  },
  { additionalProperties: false },
);
export type TemplateTask = Static<typeof TemplateTask>;

/** The lab template format, version 1: what an instructor writes (YAML or JSON). */
export const LabTemplateConfig = Type.Object(
  {
    version: Type.Literal(1),
    title: Type.String({ minLength: 1, maxLength: 200 }),
    description: Type.Optional(Type.String({ maxLength: 50_000, description: 'Markdown.' })),
    lifetimeMinutes: Type.Optional(Type.Integer({ minimum: 5, maximum: 7 * 24 * 60, default: 120 })),
    networks: Type.Array(TemplateNetwork, { minItems: 1, maxItems: 8 }),
    vms: Type.Array(TemplateVm, { minItems: 1, maxItems: 16 }),
    tasks: Type.Optional(Type.Array(TemplateTask, { maxItems: 100 })),
    secrets: Type.Optional(Type.Array(TemplateSecret, { maxItems: 32 })),
    inject: Type.Optional(Type.Array(TemplateInject, { maxItems: 32 })),
    /** Students may reveal a task's solution (the task then scores 0). */
    allowSolutions: Type.Optional(Type.Boolean({ default: false })),
  },
  { additionalProperties: false, $id: 'https://ctp.example/schemas/lab-template-v1.json', title: 'Lab template' },
);
export type LabTemplateConfig = Static<typeof LabTemplateConfig>;

export const TemplateStatus = Type.Union([Type.Literal('draft'), Type.Literal('published'), Type.Literal('archived')]);
export type TemplateStatus = Static<typeof TemplateStatus>;

export const Template = Type.Object({
  audience: Type.Literal('staff'),
  id: Uuid,
  title: Type.String(),
  description: Type.String(),
  status: TemplateStatus,
  version: Type.Integer(),
  ownerId: Type.Union([Uuid, Type.Null()]),
  config: LabTemplateConfig,
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type Template = Static<typeof Template>;

export const TemplateSummary = Type.Omit(Template, ['config', 'audience']);
export type TemplateSummary = Static<typeof TemplateSummary>;

export const TemplateList = Page(TemplateSummary);
export type TemplateList = Static<typeof TemplateList>;

export const ListTemplatesQuery = Type.Object(
  { ...PageQuery, status: Type.Optional(TemplateStatus), search: Type.Optional(Type.String({ maxLength: 100 })) },
  { additionalProperties: false },
);
export type ListTemplatesQuery = Static<typeof ListTemplatesQuery>;

/** The most labs a template's warm pool may keep. */
export const MAX_WARM_POOL_SIZE = 20;

/** Staff set how many labs of a template are kept provisioned and unassigned. */
export const WarmPoolBody = Type.Object(
  { size: Type.Integer({ minimum: 0, maximum: MAX_WARM_POOL_SIZE, description: 'Labs to keep ready (0: no pool).' }) },
  { additionalProperties: false },
);
export type WarmPoolBody = Static<typeof WarmPoolBody>;

/** A template's warm pool as staff see it. */
export const WarmPool = Type.Object({
  templateId: Uuid,
  size: Type.Integer(),
  /** Running and unassigned: handed over at once by `POST /api/v1/labs`. */
  ready: Type.Integer(),
  /** Being provisioned (or in another state on the way). */
  pending: Type.Integer(),
  labs: Type.Array(Type.Object({ id: Uuid, status: Type.String(), templateVersion: Type.Integer() })),
});
export type WarmPool = Static<typeof WarmPool>;

/** Creating or updating takes the config as JSON, or YAML text sent as `application/yaml`. */
export const TemplateBody = Type.Object({ config: Type.Unknown() }, { additionalProperties: false });
export type TemplateBody = Static<typeof TemplateBody>;

/** What a student sees of a template: no settings, no hidden VMs, no answers, checks, solutions or secrets. */
export const StudentTemplate = Type.Object({
  audience: Type.Literal('student'),
  id: Uuid,
  title: Type.String(),
  description: Type.String(),
  status: TemplateStatus,
  version: Type.Integer(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  lifetimeMinutes: Type.Integer(),
  networks: Type.Array(Type.Object({ name: Type.String(), cidr: Type.String() })),
  vms: Type.Array(
    Type.Object({
      name: Type.String(),
      cpus: Type.Integer(),
      memoryMiB: Type.Integer(),
      addresses: Type.Array(Type.Object({ network: Type.String(), address: Type.Union([Type.String(), Type.Null()]) })),
    }),
  ),
  tasks: Type.Array(Type.Object({ id: Type.String(), title: Type.String(), type: TaskType, points: Type.Integer() })),
});
export type StudentTemplate = Static<typeof StudentTemplate>;

/** A template as its reader's audience sees it. */
export const TemplateView = Type.Union([Template, StudentTemplate]);
export type TemplateView = Static<typeof TemplateView>;

/** A CTFd `challenge.yml` (its YAML text) to turn into a task. */
export const CtfdImportBody = Type.Object(
  { challenge: Type.String({ minLength: 1, maxLength: 200_000 }) },
  { additionalProperties: false },
);
export type CtfdImportBody = Static<typeof CtfdImportBody>;

/** The task made from a CTFd challenge, and every field that could not be carried over (never silently dropped). */
export const CtfdImportResult = Type.Object({
  task: TemplateTask,
  unsupported: Type.Array(Type.Object({ field: Type.String(), reason: Type.String() })),
});
export type CtfdImportResult = Static<typeof CtfdImportResult>;
