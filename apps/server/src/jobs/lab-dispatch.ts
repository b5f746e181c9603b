import type { LabsRepository } from '../repositories/labs.repository.js';
import type { EventBus } from '../services/event-bus.js';
import type { LabOperationJob } from './job-queue.js';
import type { LabOperation } from '../labs/lab-operation.js';

/** Where lab operations go: the durable queue of one host. */
export interface HostQueues {
  enqueueLabOperation(job: LabOperationJob, hostId: string): Promise<void>;
}

/**
 * Sends each lab operation to the queue of the lab's host, which only that host's agent works, so
 * the process that runs a lab's VMs is always the one that operates them. A lab without a host
 * (never placed, or recorded before hosts existed) goes to this process's own host when it runs an
 * agent; otherwise it holds nothing on any hypervisor, and only a delete makes sense: it is
 * finished here, with no hypervisor work.
 */
export class LabDispatch {
  constructor(
    private readonly labs: LabsRepository,
    private readonly queues: HostQueues,
    private readonly events: EventBus,
    /** This process's own host, or null where no agent runs (the `api` role). */
    private readonly localHost: () => Promise<string | null>,
    /** Called when an unplaced lab is deleted here (queued labs may start). */
    private readonly released: () => Promise<unknown> = async () => {},
  ) {}

  /** Enqueues the operation for the lab's host (or finishes an unplaced lab's deletion at once). */
  async enqueue(labId: string, operation: LabOperation): Promise<void> {
    const lab = await this.labs.findById(labId);
    if (!lab) return;
    // Asked every time: an agent whose host registered anew starts working its new queue here.
    const own = await this.localHost();
    const hostId = lab.hostId ?? own;
    if (hostId) return this.queues.enqueueLabOperation({ labId, operation }, hostId);
    if (operation !== 'delete') throw new Error(`Lab ${labId} has no host to ${operation} it on`);
    const moved = await this.labs.transition(labId, ['deleting', 'queued', 'error'], 'deleted', { deletedAt: new Date() });
    if (!moved) return;
    await this.events.publish(
      labId,
      'lab.status',
      { status: 'deleted' },
      { ownerId: moved.userId, memberIds: await this.labs.memberIds(labId) },
    );
    await this.released();
  }
}
