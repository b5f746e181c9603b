import Type, { type Static } from 'typebox';
import { Timestamp, Uuid } from './common.js';

/** A message from a class's instructors to all its students (a banner on their pages). */
export const Announcement = Type.Object({
  id: Uuid,
  classId: Uuid,
  className: Type.String(),
  message: Type.String(),
  by: Type.Union([Type.String(), Type.Null()]),
  createdAt: Timestamp,
});
export type Announcement = Static<typeof Announcement>;

export const AnnouncementList = Type.Object({ items: Type.Array(Announcement) });
export type AnnouncementList = Static<typeof AnnouncementList>;

export const AnnounceBody = Type.Object({ message: Type.String({ minLength: 1, maxLength: 2000 }) }, { additionalProperties: false });
export type AnnounceBody = Static<typeof AnnounceBody>;
