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

export const TemplateTask = Type.Object(
  {
    id: Name,
    title: Type.String({ minLength: 1, maxLength: 200 }),
    description: Type.Optional(Type.String({ maxLength: 20_000 })),
    points: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000 })),
  },
  { additionalProperties: true },
);

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
  },
  { additionalProperties: false, $id: 'https://ctp.example/schemas/lab-template-v1.json', title: 'Lab template' },
);
export type LabTemplateConfig = Static<typeof LabTemplateConfig>;

export const TemplateStatus = Type.Union([Type.Literal('draft'), Type.Literal('published'), Type.Literal('archived')]);
export type TemplateStatus = Static<typeof TemplateStatus>;

export const Template = Type.Object({
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

export const TemplateSummary = Type.Omit(Template, ['config']);
export type TemplateSummary = Static<typeof TemplateSummary>;

export const TemplateList = Page(TemplateSummary);
export type TemplateList = Static<typeof TemplateList>;

export const ListTemplatesQuery = Type.Object(
  { ...PageQuery, status: Type.Optional(TemplateStatus), search: Type.Optional(Type.String({ maxLength: 100 })) },
  { additionalProperties: false },
);
export type ListTemplatesQuery = Static<typeof ListTemplatesQuery>;

/** Creating or updating takes the config as JSON, or YAML text sent as `application/yaml`. */
export const TemplateBody = Type.Object({ config: Type.Unknown() }, { additionalProperties: false });
export type TemplateBody = Static<typeof TemplateBody>;
