import Type, { type Static } from 'typebox';
import { User } from './users.js';

export const LoginBody = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 64 }),
    password: Type.String({ minLength: 1, maxLength: 256 }),
  },
  { additionalProperties: false },
);
export type LoginBody = Static<typeof LoginBody>;

/** Answer of login and refresh; the refresh token travels only in an httpOnly cookie. */
export const TokenResponse = Type.Object({
  accessToken: Type.String(),
  expiresIn: Type.Integer({ description: 'Seconds until the access token expires.' }),
  user: User,
  permissions: Type.Array(Type.String(), { description: 'The named permissions of the user (e.g. `class.teach`, `lab.watch`).' }),
});
export type TokenResponse = Static<typeof TokenResponse>;

export const MeResponse = Type.Object({
  user: User,
  permissions: Type.Array(Type.String(), { description: 'The named permissions of the user (e.g. `class.teach`, `lab.watch`).' }),
});
export type MeResponse = Static<typeof MeResponse>;
