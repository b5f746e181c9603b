import Type, { type Static } from 'typebox';
import { Page, PageQuery, Timestamp, Uuid } from './common.js';

export const ROLES = ['admin', 'instructor', 'student'] as const;
export const Role = Type.Union([Type.Literal('admin'), Type.Literal('instructor'), Type.Literal('student')]);
export type Role = (typeof ROLES)[number];

export const Username = Type.String({
  minLength: 2,
  maxLength: 64,
  pattern: '^[a-zA-Z0-9][a-zA-Z0-9._-]*$',
  description: 'Letters, digits, dot, dash and underscore; starts with a letter or digit.',
});
export const Password = Type.String({ minLength: 8, maxLength: 256 });
export const Email = Type.String({ format: 'email', maxLength: 254 });

export const User = Type.Object({
  id: Uuid,
  username: Type.String(),
  email: Type.Union([Type.String(), Type.Null()]),
  role: Role,
  disabled: Type.Boolean(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type User = Static<typeof User>;

export const CreateUserBody = Type.Object(
  {
    username: Username,
    password: Password,
    role: Role,
    email: Type.Optional(Email),
  },
  { additionalProperties: false },
);
export type CreateUserBody = Static<typeof CreateUserBody>;

export const UpdateUserBody = Type.Object(
  {
    role: Type.Optional(Role),
    disabled: Type.Optional(Type.Boolean()),
    email: Type.Optional(Type.Union([Email, Type.Null()])),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateUserBody = Static<typeof UpdateUserBody>;

export const ResetPasswordBody = Type.Object({ password: Password }, { additionalProperties: false });
export type ResetPasswordBody = Static<typeof ResetPasswordBody>;

export const ListUsersQuery = Type.Object(
  {
    ...PageQuery,
    search: Type.Optional(Type.String({ maxLength: 100 })),
    role: Type.Optional(Role),
  },
  { additionalProperties: false },
);
export type ListUsersQuery = Static<typeof ListUsersQuery>;

export const UserList = Page(User);
export type UserList = Static<typeof UserList>;
