import type { AdmissionSettings, AdmissionStatus } from '@ctp/contracts';
import { AppError } from '../errors.js';
import { authorize, type Actor } from '../policy/policy.js';
import type { AdmissionRepository, Resources } from '../repositories/admission.repository.js';
import type { LabsRepository } from '../repositories/labs.repository.js';
import type { EventBus } from './event-bus.js';

const SETTINGS_KEY = 'admission';
/** OpenStack's classic allocation ratios and host reserve: 16 vCPUs per core, RAM not overcommitted, 512 MiB kept. */
export const DEFAULT_ADMISSION: AdmissionSettings = { cpuOvercommit: 16, memoryOvercommit: 1, reservedMemoryMiB: 512, queueWhenFull: true };

/**
 * Admission control and placement: a lab starts only when its VMs' vCPUs and memory fit on one
 * `up` host, in what that host may promise (its CPUs and RAM times the overcommit ratios the admin
 * sets); it goes to the host with the most memory free. Others wait in a FIFO queue (status
 * `queued`, with a position) and start in order as labs end or hosts come back.
 */
export class AdmissionService {
  // Admission decisions of this instance run one after another (the database lock orders instances).
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly repository: AdmissionRepository,
    private readonly labs: LabsRepository,
    private readonly events: EventBus,
    private readonly startProvisioning: (labId: string) => Promise<void>,
    /** Registers this process's own host (if it runs a driver) before anything is placed. */
    private readonly hosts: { ensureLocal(): Promise<string | null> },
  ) {}

  async settings(): Promise<AdmissionSettings> {
    return { ...DEFAULT_ADMISSION, ...((await this.repository.setting(SETTINGS_KEY)) as Partial<AdmissionSettings> | undefined) };
  }

  /** What labs may hold at most on one host of this capacity, from the settings. */
  private static limitOf(host: Resources, settings: AdmissionSettings): Resources {
    return {
      cpus: Math.floor(host.cpus * settings.cpuOvercommit),
      memoryMiB: Math.floor(Math.max(0, host.memoryMiB - settings.reservedMemoryMiB) * settings.memoryOvercommit),
    };
  }

  /** The registered hosts (the local one registered first). */
  private async registeredHosts() {
    await this.hosts.ensureLocal();
    return this.repository.hosts();
  }

  /** What labs may hold at most on the `up` hosts together, and those hosts' capacity. */
  async limit(): Promise<Resources & { hostCpus: number; hostMemoryMiB: number }> {
    const [settings, hosts] = await Promise.all([this.settings(), this.registeredHosts()]);
    const total = { cpus: 0, memoryMiB: 0, hostCpus: 0, hostMemoryMiB: 0 };
    for (const host of hosts.filter((h) => h.state === 'up')) {
      const limit = AdmissionService.limitOf(host, settings);
      total.cpus += limit.cpus;
      total.memoryMiB += limit.memoryMiB;
      total.hostCpus += host.cpus;
      total.hostMemoryMiB += host.memoryMiB;
    }
    return total;
  }

  /** Refuses a lab that could never fit, even on the largest registered host when empty (it would wait forever). */
  async assertCouldFit(need: Resources): Promise<void> {
    const [settings, hosts] = await Promise.all([this.settings(), this.registeredHosts()]);
    // No host yet (agents not started): the lab waits for one.
    if (!hosts.length) return;
    const limits = hosts.map((h) => AdmissionService.limitOf(h, settings));
    if (limits.some((l) => need.cpus <= l.cpus && need.memoryMiB <= l.memoryMiB)) return;
    const largest = limits.sort((a, b) => b.memoryMiB - a.memoryMiB)[0]!;
    throw new AppError(
      409,
      'exceeds_capacity',
      `This lab needs ${need.cpus} vCPUs and ${need.memoryMiB} MiB; the host can give labs at most ${largest.cpus} vCPUs and ${largest.memoryMiB} MiB`,
    );
  }

  /** The local host's id (warm pool labs, which skip admission, live there); null without one. */
  localHostId(): Promise<string | null> {
    return this.hosts.ensureLocal();
  }

  /** Starts every queued lab that fits now, in order, and tells the rest their new positions. */
  admit(): Promise<string[]> {
    const next = this.chain.then(() => this.admitNow());
    this.chain = next.catch(() => {});
    return next;
  }

  private async admitNow(): Promise<string[]> {
    const settings = await this.settings();
    await this.hosts.ensureLocal();
    const admitted = await this.repository.admit((host) => AdmissionService.limitOf(host, settings));
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
    return {
      settings,
      hostCpus: limit.hostCpus,
      hostMemoryMiB: limit.hostMemoryMiB,
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
