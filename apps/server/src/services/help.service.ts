import type { HelpRequest, HelpRequestList } from '@ctp/contracts';
import { AppError, conflict, notFound } from '../errors.js';
import { authorize, can, type Actor } from '../policy/policy.js';
import type { HelpRepository, HelpView } from '../repositories/help.repository.js';
import type { LabsRepository, LabWithOwner } from '../repositories/labs.repository.js';
import type { EventBus } from './event-bus.js';
import type { LabAccess } from './lab-access.js';

/**
 * The help queue: a student asks for help on their lab with a message; staff who may watch the
 * lab see the queue live (lab events `help.*`), take a request and resolve it. One request per
 * lab waits at a time.
 */
export class HelpService {
  constructor(
    private readonly help: HelpRepository,
    private readonly labs: LabsRepository,
    private readonly events: EventBus,
    private readonly access: LabAccess,
  ) {}

  /** A lab user asks for help. */
  async ask(actor: Actor, labId: string, message: string): Promise<HelpRequest> {
    const lab = await this.visibleLab(actor, labId);
    authorize(actor, 'help.ask', await this.resourceOf(lab));
    if (lab.status === 'deleted' || lab.status === 'deleting') throw conflict(`The lab is ${lab.status}`);
    const text = message.trim();
    if (!text) throw new AppError(400, 'validation_failed', 'Say what you need help with');
    const row = await this.help.create({ labId: lab.id, userId: actor.id, message: text });
    if (!row) throw conflict('This lab already has a help request waiting');
    const view = await this.present((await this.help.findById(row.id))!);
    await this.publish(lab, 'help.requested', { requestId: row.id, by: actor.username, message: text, position: view.position });
    return view;
  }

  /** The lab's requests, newest first (its users and staff). */
  async ofLab(actor: Actor, labId: string): Promise<HelpRequestList> {
    const lab = await this.visibleLab(actor, labId);
    const rows = await this.help.list({ waitingOnly: false, labId: lab.id, limit: 50 });
    const open = await this.help.openIds();
    return { items: rows.map((r) => this.presentWith(r, open)) };
  }

  /** Staff: the queue (waiting requests oldest first, or all recent ones). */
  async queue(actor: Actor, status: 'waiting' | 'all' = 'waiting'): Promise<HelpRequestList> {
    authorize(actor, 'help.queue');
    // Instructors see the requests of the labs they may watch (their students'); admins all.
    const visible = await this.access.labIdsVisibleTo(actor);
    const rows = (await this.help.list({ waitingOnly: status === 'waiting' })).filter((r) => !visible || visible.has(r.labId));
    const open = await this.help.openIds();
    return { items: rows.map((r) => this.presentWith(r, open)) };
  }

  /** Staff take an open request (the student sees who is coming). */
  async take(actor: Actor, id: string): Promise<HelpRequest> {
    const { request, lab } = await this.answerable(actor, id);
    const moved = await this.help.transition(id, ['open'], { status: 'taken', takenBy: actor.id, takenAt: new Date() });
    if (!moved) throw conflict(`This request is ${request.status}${request.takenByName ? ` (by ${request.takenByName})` : ''}`);
    await this.publish(lab, 'help.taken', { requestId: id, by: actor.username });
    await this.publishPositions();
    return this.present((await this.help.findById(id))!);
  }

  /** Staff resolve a waiting request; the student who asked may withdraw theirs. */
  async resolve(actor: Actor, id: string): Promise<HelpRequest> {
    const request = await this.help.findById(id);
    if (!request) throw notFound('Help request');
    const lab = await this.visibleLab(actor, request.labId).catch(() => {
      throw notFound('Help request');
    });
    const asker = request.userId === actor.id;
    if (!asker) authorize(actor, 'help.answer', await this.resourceOf(lab));
    const status = asker && !can(actor, 'help.answer') ? 'cancelled' : 'resolved';
    const moved = await this.help.transition(id, ['open', 'taken'], { status, resolvedBy: actor.id, resolvedAt: new Date() });
    if (!moved) throw conflict(`This request is already ${request.status}`);
    await this.publish(lab, 'help.resolved', { requestId: id, by: actor.username, status });
    await this.publishPositions();
    return this.present((await this.help.findById(id))!);
  }

  private async answerable(actor: Actor, id: string): Promise<{ request: HelpView; lab: LabWithOwner }> {
    const request = await this.help.findById(id);
    if (!request) throw notFound('Help request');
    const lab = await this.visibleLab(actor, request.labId).catch(() => {
      throw notFound('Help request');
    });
    authorize(actor, 'help.answer', await this.resourceOf(lab));
    return { request, lab };
  }

  /** Students waiting learn their new place when the queue moves. */
  private async publishPositions(): Promise<void> {
    const open = await this.help.openIds();
    for (const [i, id] of open.entries()) {
      const request = await this.help.findById(id);
      const lab = request && (await this.labs.findById(request.labId));
      if (lab) await this.publish(lab, 'help.position', { requestId: id, position: i + 1 });
    }
  }

  private async present(row: HelpView): Promise<HelpRequest> {
    return this.presentWith(row, await this.help.openIds());
  }

  private presentWith(row: HelpView, openIds: string[]): HelpRequest {
    const index = openIds.indexOf(row.id);
    return {
      id: row.id,
      labId: row.labId,
      labName: row.labName,
      username: row.username,
      message: row.message,
      status: row.status as HelpRequest['status'],
      position: row.status === 'open' && index >= 0 ? index + 1 : null,
      takenBy: row.takenByName,
      resolvedBy: row.resolvedByName,
      createdAt: row.createdAt.toISOString(),
      takenAt: row.takenAt?.toISOString() ?? null,
      resolvedAt: row.resolvedAt?.toISOString() ?? null,
    };
  }

  private async visibleLab(actor: Actor, labId: string): Promise<LabWithOwner> {
    const lab = await this.labs.findById(labId);
    if (!lab || !can(actor, 'lab.read', await this.resourceOf(lab))) throw notFound('Lab');
    return lab;
  }

  private resourceOf(lab: LabWithOwner) {
    return this.access.resourceOf(lab);
  }

  private async publish(lab: LabWithOwner, type: string, data: Record<string, unknown>): Promise<void> {
    await this.events.publish(lab.id, type, data, { ownerId: lab.userId, memberIds: await this.labs.memberIds(lab.id) });
  }
}
