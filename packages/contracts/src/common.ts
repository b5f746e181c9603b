import Type, { type Static } from 'typebox';

/** The one error body of every failed request. */
export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable machine-readable code, e.g. `validation_failed`.' }),
      message: Type.String({ description: 'What went wrong, for people.' }),
      requestId: Type.Optional(Type.String({ description: 'On server failures: quote it when reporting the problem.' })),
      details: Type.Optional(
        Type.Array(
          Type.Object({
            field: Type.Optional(Type.String({ description: 'Path of the offending field, e.g. `body.username`.' })),
            message: Type.String(),
            line: Type.Optional(Type.Integer({ description: 'Line in an uploaded text document (YAML template), 1-based.' })),
          }),
        ),
      ),
      quota: Type.Optional(
        Type.Object(
          {
            scope: Type.String({ description: '`role`, `user`, `class` or `default` (CTP_MAX_LABS_PER_USER).' }),
            subject: Type.String(),
            field: Type.String({ description: '`maxLabs`, `maxVcpus` or `maxMemoryMiB`.' }),
            limit: Type.Integer(),
            used: Type.Integer(),
            requested: Type.Integer(),
          },
          { description: 'On `quota_exceeded` (429): the quota that refused the request.' },
        ),
      ),
    }),
  },
  { description: 'Error response' },
);
export type ErrorBody = Static<typeof ErrorBody>;

export const Uuid = Type.String({ format: 'uuid', maxLength: 36 });
export const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false });
export type IdParams = Static<typeof IdParams>;

export const Timestamp = Type.String({ format: 'date-time' });

/** Paging query parameters shared by list endpoints. */
export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 })),
};

/** A page of results with the total count. */
export const Page = <T extends Type.TSchema>(item: T) =>
  Type.Object({ items: Type.Array(item), total: Type.Integer(), limit: Type.Integer(), offset: Type.Integer() });
