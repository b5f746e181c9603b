import type { AdmissionSettings, AdmissionStatus } from '@ctp/contracts';
import { AppError } from '../errors.js';
import { authorize, type Actor } from '../policy/policy.js';
import type { AdmissionRepository, Resources } from '../repositories/admission.repository.js';
import type { LabsRepository } from '../repositories/labs.repository.js';
import type { EventBus } from './event-bus.js';

const SETTINGS_KEY = 'admission';
/** OpenStack's classic allocation ratios and host reserve: 16 vCPUs per core, RAM not overcommitted, 512 MiB kept. */
export const DEFAULT_ADMISSION: AdmissionSettings = { cpuOvercommit: 16, memoryOvercommit: 1, reservedMemoryMiB: 512 };

/**
 * Admission control: a lab starts only when its VMs' vCPUs and memory fit in what the host may
 * promise (its CPUs and RAM times the overcommit ratios the admin sets); others wait in a FIFO
 * queue (status `queued`, with a position) and start in order as labs end.
 */
export class AdmissionService {
  // Admission decisions of this instance run one after another (the database lock orders instances).
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly repository: AdmissionRepository,
    private readonly labs: LabsRepository,
    private readonly events: EventBus,
    private readonly startProvisioning: (labId: string) => Promise<void>,
    private readonly host: () => Resources,
  ) {}

  async settings(): Promise<AdmissionSettings> {
    return { ...DEFAULT_ADMISSION, ...((await this.repository.setting(SETTINGS_KEY)) as Partial<AdmissionSettings> | undefined) };
  }

  /** What labs may hold at most, from the host and the settings. */
  async limit(): Promise<Resources> {
    const settings = await this.settings();
    const host = this.host();
    return {
      cpus: Math.floor(host.cpus * settings.cpuOvercommit),
      memoryMiB: Math.floor(Math.max(0, host.memoryMiB - settings.reservedMemoryMiB) * settings.memoryOvercommit),
    };
  }

  /** Refuses a lab that could never fit, even on an empty host (it would wait forever). */
  async assertCouldFit(need: Resources): Promise<void> {
    const limit = await this.limit();
    if (need.cpus > limit.cpus || need.memoryMiB > limit.memoryMiB)
      throw new AppError(
        409,
        'exceeds_capacity',
        `This lab needs ${need.cpus} vCPUs and ${need.memoryMiB} MiB; the host can give labs at most ${limit.cpus} vCPUs and ${limit.memoryMiB} MiB`,
      );
  }

  /** Starts every queued lab that fits now, in order, and tells the rest their new positions. */
  admit(): Promise<string[]> {
    const next = this.chain.then(() => this.admitNow());
    this.chain = next.catch(() => {});
    return next;
  }

  private async admitNow(): Promise<string[]> {
    const admitted = await this.repository.admit(await this.limit());
    for (const labId of admitted) {
      await this.startProvisioning(labId);
      await this.publish(labId, 'lab.status', { status: 'provisioning' });
    }
    if (admitted.length) await this.publishPositions();
    return admitted;
  }

  /** A `lab.queued` event with its position for every queued lab (after the queue moved). */
  async publishPositions(): Promise<void> {
    const queue = await this.repository.queue();
    for (const [i, lab] of queue.entries())
      await this.publish(lab.id, 'lab.queued', { status: 'queued', position: i + 1, of: queue.length });
  }

  /** Queue positions by lab id. */
  async positions(): Promise<Map<string, number>> {
    return new Map((await this.repository.queue()).map((lab, i) => [lab.id, i + 1]));
  }

  /** Staff: limits, what labs hold, the queue's length. */
  async status(actor: Actor): Promise<AdmissionStatus> {
    authorize(actor, 'system.read');
    const [settings, limit, used, queue] = await Promise.all([
      this.settings(),
      this.limit(),
      this.repository.used(),
      this.repository.queue(),
    ]);
    const host = this.host();
    return {
      settings,
      hostCpus: host.cpus,
      hostMemoryMiB: host.memoryMiB,
      cpuLimit: limit.cpus,
      memoryLimitMiB: limit.memoryMiB,
      usedCpus: used.cpus,
      usedMemoryMiB: used.memoryMiB,
      queued: queue.length,
    };
  }

  /** Admin: new ratios; labs that now fit start at once. */
  async update(actor: Actor, settings: AdmissionSettings): Promise<AdmissionStatus> {
    authorize(actor, 'system.configure');
    await this.repository.saveSetting(SETTINGS_KEY, settings);
    await this.admit();
    return this.status(actor);
  }

  private async publish(labId: string, type: string, data: Record<string, unknown>): Promise<void> {
    const lab = await this.labs.findById(labId);
    if (!lab) return;
    await this.events.publish(labId, type, data, { ownerId: lab.userId, memberIds: await this.labs.memberIds(labId) });
  }
}
