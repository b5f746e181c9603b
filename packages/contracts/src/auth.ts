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
});
export type TokenResponse = Static<typeof TokenResponse>;

export const MeResponse = Type.Object({ user: User });
export type MeResponse = Static<typeof MeResponse>;

/** How users may sign in here: shown by the sign-in page before anyone is signed in. */
export const SignInMethods = Type.Object({
  localPasswords: Type.Union([Type.Literal('all'), Type.Literal('admins')], {
    description: '`admins`: only administrators may sign in with a local password; everyone else signs in through single sign-on.',
  }),
  sso: Type.Union([
    Type.Object({
      name: Type.String({ description: 'The identity provider, as the sign-in button names it.' }),
      loginUrl: Type.String({ description: 'Where the browser goes to sign in through the provider.' }),
    }),
    Type.Null(),
  ]),
});
export type SignInMethods = Static<typeof SignInMethods>;
