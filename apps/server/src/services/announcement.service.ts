import type { Announcement, AnnouncementList } from '@ctp/contracts';
import { AppError } from '../errors.js';
import type { Actor } from '../policy/policy.js';
import type { AnnouncementsRepository, AnnouncementView } from '../repositories/announcements.repository.js';
import type { ClassesRepository } from '../repositories/classes.repository.js';
import type { ClassService } from './class.service.js';
import type { EventBus } from './event-bus.js';

/** How long an announcement stays on students' pages. */
const SHOWN_FOR_MS = 24 * 60 * 60_000;

/**
 * Announcements to a whole class. They travel live on the event socket as `class.announcement`,
 * an event keyed by the class (in place of a lab) whose audience is the class's students, so
 * that a student sees it whether or not they have a lab; pages also read the recent ones.
 */
export class AnnouncementService {
  constructor(
    private readonly announcements: AnnouncementsRepository,
    private readonly classService: ClassService,
    private readonly classes: ClassesRepository,
    private readonly events: EventBus,
  ) {}

  /** A class's teacher announces to all its students. */
  async announce(actor: Actor, classId: string, message: string): Promise<Announcement> {
    const klass = await this.classService.teachable(actor, classId);
    const text = message.trim();
    if (!text) throw new AppError(400, 'validation_failed', 'The announcement is empty');
    const row = await this.announcements.create({ classId: klass.id, authorId: actor.id, message: text });
    const students = await this.classes.studentsOf(klass.id);
    const view = present({ ...row, className: klass.name, by: actor.username });
    await this.events.publish(klass.id, 'class.announcement', { ...view }, { ownerId: actor.id, memberIds: students.map((s) => s.id) });
    return view;
  }

  /** The signed-in user's recent announcements (a student's classes). */
  async mine(actor: Actor): Promise<AnnouncementList> {
    const rows = await this.announcements.recent({ studentId: actor.id, after: new Date(Date.now() - SHOWN_FOR_MS), limit: 10 });
    return { items: rows.map(present) };
  }
}

function present(row: AnnouncementView): Announcement {
  return {
    id: row.id,
    classId: row.classId,
    className: row.className,
    message: row.message,
    by: row.by,
    createdAt: row.createdAt.toISOString(),
  };
}
