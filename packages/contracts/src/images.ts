import Type, { type Static } from 'typebox';
import { Page, PageQuery, Timestamp, Uuid } from './common.js';

export const IMAGE_FORMATS = ['qcow2', 'raw', 'vmdk', 'vdi', 'vhdx', 'ova', 'iso', 'kernel'] as const;
export const ImageFormat = Type.Union([
  Type.Literal('qcow2'),
  Type.Literal('raw'),
  Type.Literal('vmdk'),
  Type.Literal('vdi'),
  Type.Literal('vhdx'),
  Type.Literal('ova'),
  Type.Literal('iso'),
  Type.Literal('kernel'),
]);
export type ImageFormat = (typeof IMAGE_FORMATS)[number];

export const ImageName = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: '^[a-z0-9][a-z0-9._-]*$',
  description: 'What templates name the image by: lower-case letters, digits, dots, dashes, underscores.',
});
export const Firmware = Type.Union([Type.Literal('bios'), Type.Literal('uefi')]);
export const ConfigMethod = Type.Union([Type.Literal('cloud-init'), Type.Literal('dhcp'), Type.Literal('none')], {
  description: 'How a guest gets its hostname, addresses and login: a cloud-init NoCloud seed, DHCP only, or nothing.',
});

const metadataFields = {
  osFamily: Type.Optional(Type.String({ maxLength: 40, pattern: '^[a-z0-9._-]*$', description: 'e.g. debian, kali, windows, other.' })),
  firmware: Type.Optional(Firmware),
  defaultCpus: Type.Optional(Type.Integer({ minimum: 1, maximum: 8 })),
  defaultMemoryMiB: Type.Optional(Type.Integer({ minimum: 32, maximum: 16384 })),
  configMethod: Type.Optional(ConfigMethod),
  defaultUser: Type.Optional(Type.String({ maxLength: 32, pattern: '^[a-z_][a-z0-9_-]*$' })),
  notes: Type.Optional(Type.String({ maxLength: 4000 })),
};

export const ImageStatus = Type.Union([Type.Literal('converting'), Type.Literal('ready'), Type.Literal('failed')]);

export const Image = Type.Object({
  id: Uuid,
  name: Type.String(),
  kind: Type.Union([Type.Literal('disk'), Type.Literal('iso'), Type.Literal('kernel')]),
  sourceFormat: ImageFormat,
  status: ImageStatus,
  progress: Type.Integer({ minimum: 0, maximum: 100, description: 'Conversion progress, percent.' }),
  error: Type.Union([Type.String(), Type.Null()]),
  builtin: Type.Boolean({ description: 'A demo image shipped with the platform: read-only.' }),
  osFamily: Type.String(),
  firmware: Firmware,
  defaultCpus: Type.Integer(),
  defaultMemoryMiB: Type.Integer(),
  defaultNics: Type.Union([Type.Integer(), Type.Null()]),
  configMethod: ConfigMethod,
  defaultUser: Type.Union([Type.String(), Type.Null()]),
  notes: Type.String(),
  sizeBytes: Type.Integer({ description: 'Disk space the stored files use.' }),
  virtualSizeBytes: Type.Union([Type.Integer(), Type.Null()]),
  sha256: Type.Union([Type.String(), Type.Null()], { description: 'sha256 of the uploaded file.' }),
  usedBy: Type.Object({
    templates: Type.Array(Type.Object({ id: Uuid, title: Type.String() })),
    labs: Type.Integer({ description: 'Labs (not deleted) with a VM on this image.' }),
  }),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type Image = Static<typeof Image>;

export const ImageList = Type.Object({
  ...Page(Image).properties,
  usage: Type.Object({ usedBytes: Type.Integer(), quotaBytes: Type.Integer() }),
});
export type ImageList = Static<typeof ImageList>;

export const ListImagesQuery = Type.Object(
  { ...PageQuery, search: Type.Optional(Type.String({ maxLength: 100 })) },
  { additionalProperties: false },
);
export type ListImagesQuery = Static<typeof ListImagesQuery>;

/** The upload's query string: the file itself is the raw request body (`application/octet-stream`). */
export const UploadImageQuery = Type.Object(
  {
    name: ImageName,
    format: ImageFormat,
    sha256: Type.Optional(Type.String({ pattern: '^[0-9a-fA-F]{64}$', description: 'Expected sha256 of the body; refused on mismatch.' })),
    cmdline: Type.Optional(
      Type.String({ maxLength: 512, description: 'Kernel command line (format=kernel: a tar of vmlinuz and initrd).' }),
    ),
    ...metadataFields,
  },
  { additionalProperties: false },
);
export type UploadImageQuery = Static<typeof UploadImageQuery>;

export const UpdateImageBody = Type.Object({ name: Type.Optional(ImageName), ...metadataFields }, { additionalProperties: false });
export type UpdateImageBody = Static<typeof UpdateImageBody>;

export const SaveVmImageBody = Type.Object(
  { name: ImageName, notes: Type.Optional(Type.String({ maxLength: 4000 })) },
  { additionalProperties: false },
);
export type SaveVmImageBody = Static<typeof SaveVmImageBody>;
