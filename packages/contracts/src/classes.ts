import Type, { type Static } from 'typebox';
import { Timestamp, Uuid } from './common.js';
import { Username } from './users.js';

const ClassName = Type.String({ minLength: 1, maxLength: 120 });
const ClassDescription = Type.String({ maxLength: 4000 });

export const CreateClassBody = Type.Object(
  { name: ClassName, description: Type.Optional(ClassDescription) },
  { additionalProperties: false },
);
export type CreateClassBody = Static<typeof CreateClassBody>;

export const UpdateClassBody = Type.Object(
  {
    name: Type.Optional(ClassName),
    description: Type.Optional(ClassDescription),
    archived: Type.Optional(Type.Boolean({ description: 'An archived class takes no new students or assignments; its grades stay.' })),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateClassBody = Static<typeof UpdateClassBody>;

export const ClassPerson = Type.Object({
  id: Uuid,
  username: Type.String(),
  email: Type.Union([Type.String(), Type.Null()]),
  name: Type.Union([Type.String(), Type.Null()]),
});
export type ClassPerson = Static<typeof ClassPerson>;

/** A class as a list shows it. Students get only id, name, description, archived and their teachers' usernames. */
export const ClassSummary = Type.Object({
  id: Uuid,
  name: Type.String(),
  description: Type.String(),
  archived: Type.Boolean(),
  createdAt: Timestamp,
  instructors: Type.Array(Type.String(), { description: 'Usernames of the class’s instructors.' }),
  studentCount: Type.Optional(Type.Integer({ description: 'Staff only.' })),
});
export type ClassSummary = Static<typeof ClassSummary>;

export const ClassList = Type.Object({ items: Type.Array(ClassSummary) });
export type ClassList = Static<typeof ClassList>;

export const ListClassesQuery = Type.Object(
  { includeArchived: Type.Optional(Type.Boolean({ description: 'Archived classes too (default: only active ones).' })) },
  { additionalProperties: false },
);
export type ListClassesQuery = Static<typeof ListClassesQuery>;

/** A class for its instructors (and admins): who teaches it, who is enrolled. */
export const ClassDetail = Type.Object({
  id: Uuid,
  name: Type.String(),
  description: Type.String(),
  archived: Type.Boolean(),
  createdAt: Timestamp,
  instructors: Type.Array(ClassPerson),
  students: Type.Array(ClassPerson),
});
export type ClassDetail = Static<typeof ClassDetail>;

export const ClassUsernameBody = Type.Object({ username: Username }, { additionalProperties: false });
export type ClassUsernameBody = Static<typeof ClassUsernameBody>;

export const ClassUserParams = Type.Object({ id: Uuid, username: Username }, { additionalProperties: false });
export type ClassUserParams = Static<typeof ClassUserParams>;

/** Enrol existing accounts by username (JSON). A CSV upload (text/csv) may also create accounts. */
export const EnrolStudentsBody = Type.Object(
  { usernames: Type.Array(Username, { minItems: 1, maxItems: 2000 }) },
  { additionalProperties: false },
);
export type EnrolStudentsBody = Static<typeof EnrolStudentsBody>;

export const EnrolResult = Type.Object({
  enrolled: Type.Array(
    Type.Object({
      username: Type.String(),
      created: Type.Boolean({ description: 'The account was created by this import.' }),
      alreadyEnrolled: Type.Boolean(),
    }),
  ),
  credentials: Type.Array(Type.Object({ username: Type.String(), password: Type.String() }), {
    description: 'Generated passwords of created accounts whose file gave none: shown once, never stored in clear.',
  }),
});
export type EnrolResult = Static<typeof EnrolResult>;
