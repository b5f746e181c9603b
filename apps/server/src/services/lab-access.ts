import { can, type Actor, type Resource } from '../policy/policy.js';
import type { ClassesRepository } from '../repositories/classes.repository.js';
import type { LabsRepository } from '../repositories/labs.repository.js';

const TEACHERS_TTL_MS = 5_000;

/**
 * What the policy needs to know about a lab: its owner, its members and the instructors who teach
 * its owner in an active class. One place, so that labs, tasks, consoles and events agree.
 */
export class LabAccess {
  // The event stream asks for every event: who teaches an owner is cached for a few seconds.
  private readonly teachers = new Map<string, { at: number; ids: Promise<string[]> }>();

  constructor(
    private readonly labs: LabsRepository,
    private readonly classes: ClassesRepository,
  ) {}

  /** The lab as a policy resource. */
  async resourceOf(lab: { id: string; userId: string }): Promise<Resource> {
    const [memberIds, teacherIds] = await Promise.all([this.labs.memberIds(lab.id), this.classes.teacherIdsOfStudent(lab.userId)]);
    return { ownerId: lab.userId, memberIds, teacherIds };
  }

  /** An event's audience (owner and members at publication) as a policy resource, with the owner's teachers. */
  async audienceResource(audience: { ownerId: string; memberIds: readonly string[] }): Promise<Resource> {
    return { ownerId: audience.ownerId, memberIds: audience.memberIds, teacherIds: await this.teachersOf(audience.ownerId) };
  }

  /** Ids of the labs whose events the actor may replay; undefined for every lab. */
  async labIdsVisibleTo(actor: Actor): Promise<Set<string> | undefined> {
    if (can(actor, 'lab.listAll')) return undefined;
    if (can(actor, 'lab.listTaught')) return new Set(await this.labs.labIdsWatchedBy(actor.id));
    return new Set(await this.labs.labIdsOf(actor.id));
  }

  private teachersOf(ownerId: string): Promise<string[]> {
    const cached = this.teachers.get(ownerId);
    if (cached && Date.now() - cached.at < TEACHERS_TTL_MS) return cached.ids;
    const ids = this.classes.teacherIdsOfStudent(ownerId);
    if (this.teachers.size > 10_000) this.teachers.clear();
    this.teachers.set(ownerId, { at: Date.now(), ids });
    return ids;
  }
}
