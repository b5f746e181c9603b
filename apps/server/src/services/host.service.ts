import type { Host, HostList } from '@ctp/contracts';
import { notFound } from '../errors.js';
import { authorize, type Actor } from '../policy/policy.js';
import type { HostRow, HostsRepository, HostWithUse } from '../repositories/hosts.repository.js';
import type { LabsRepository } from '../repositories/labs.repository.js';
import type { AuditService } from './audit.service.js';
import type { EventBus } from './event-bus.js';

/** The machine this process runs a driver on, as it registers itself. */
export interface LocalHost {
  name: string;
  address: string | null;
  /** Its capacity, read from the machine. */
  capacity: () => Promise<{ cpus: number; memoryMiB: number; diskBytes: number }>;
  /** The probed driver: its kind and accelerator. */
  probe: () => Promise<{ driver: string; accelerator: string }>;
}

export interface HostTimings {
  /** How often the local host heartbeats. */
  heartbeatSeconds: number;
  /** A host not heard from for this long is `down`. */
  downAfterSeconds: number;
}

/** What the host service tells the metrics and the log. */
export interface HostObserver {
  wentDown(host: string): void;
  /** A periodic heartbeat or staleness check failed (e.g. the database is away); the next one retries. */
  failed(what: 'heartbeat' | 'check', error: unknown): void;
}

/** Turns a host row (with use) into the API's shape. */
function presentHost(row: HostWithUse): Host {
  return {
    id: row.id,
    name: row.name,
    address: row.address,
    state: row.state as Host['state'],
    accelerator: row.accelerator,
    driver: row.driver,
    capacity: { cpus: row.cpus, memoryMiB: row.memoryMiB, diskBytes: row.diskBytes },
    use: { cpus: row.usedCpus, memoryMiB: row.usedMemoryMiB },
    labs: row.labs,
    vms: row.vms,
    lastHeartbeatAt: row.lastHeartbeatAt.toISOString(),
    createdAt: row.createdAt.toISOString(),
  };
}

/**
 * Hypervisor hosts: the local host registers and heartbeats; any instance marks hosts that stopped
 * heartbeating `down` (their labs are flagged, an audit event and a metric record it) and they
 * come back when they heartbeat again; admins list, drain and undrain hosts.
 */
export class HostService {
  private registered: Promise<HostRow> | undefined;
  private timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly hosts: HostsRepository,
    private readonly labs: LabsRepository,
    private readonly audit: AuditService,
    private readonly events: EventBus,
    /** The machine this process drives; undefined where it runs no driver. */
    private readonly local: LocalHost | undefined,
    private readonly timings: HostTimings,
    private readonly observer: HostObserver = { wentDown: () => {}, failed: () => {} },
    private readonly now: () => Date = () => new Date(),
    /** Called when a host comes back or is undrained (queued labs may now fit). */
    private readonly capacityFreed: () => Promise<unknown> = async () => {},
  ) {}

  /** Registers the local host once per process (idempotent by name; again if its row is gone); its id, or null without a local driver. */
  async ensureLocal(): Promise<string | null> {
    if (!this.local) return null;
    const known = this.registered && (await this.registered.catch(() => undefined));
    if (known && (await this.hosts.findById(known.id))) return known.id;
    const registering = this.registerRow();
    this.registered = registering.then((r) => r.row);
    try {
      const { row, previous } = await registering;
      // After `registered` resolved: coming back admits queued labs, which asks for this host's id.
      await this.afterRegister(row, previous);
      return row.id;
    } catch (error) {
      this.registered = undefined;
      throw error;
    }
  }

  /** Whether the local host takes new labs now (`up`); true without a local driver (nothing to ask). */
  async localTakesLabs(): Promise<boolean> {
    const id = await this.ensureLocal();
    return id === null || (await this.hosts.findById(id))?.state === 'up';
  }

  /** Registers (or refreshes) the local host: capacity from the machine, driver and accelerator from the probe. */
  async register(): Promise<HostRow> {
    const { row, previous } = await this.registerRow();
    await this.afterRegister(row, previous);
    return row;
  }

  private async registerRow() {
    const local = this.local!;
    const [capacity, probe] = await Promise.all([local.capacity(), local.probe()]);
    return this.hosts.register(
      { name: local.name, address: local.address, ...capacity, driver: probe.driver, accelerator: probe.accelerator },
      this.now(),
    );
  }

  private async afterRegister(row: HostRow, previous: string | undefined): Promise<void> {
    if (previous === undefined) await this.record('host.register', row, { cpus: row.cpus, memoryMiB: row.memoryMiB });
    else if (previous === 'down') await this.cameBack(row);
  }

  /** One heartbeat of the local host (re-registering it if its row is gone). */
  async heartbeat(): Promise<void> {
    const id = await this.ensureLocal();
    if (!id) return;
    const beat = await this.hosts.heartbeat(id, this.now());
    if (!beat) {
      this.registered = undefined;
      await this.ensureLocal();
      return;
    }
    if (beat.previous === 'down') await this.cameBack((await this.hosts.findById(id))!);
  }

  /** Marks hosts that stopped heartbeating `down`, flags their labs, records it; returns their names. */
  async checkStale(): Promise<string[]> {
    const now = this.now();
    const stale = await this.hosts.markStale(new Date(now.getTime() - this.timings.downAfterSeconds * 1000), now);
    for (const host of stale) {
      this.observer.wentDown(host.name);
      const labs = await this.flagLabs(host.id, true);
      await this.record('host.down', host, { lastHeartbeatAt: host.lastHeartbeatAt.toISOString(), labs });
    }
    return stale.map((h) => h.name);
  }

  /** Starts heartbeating (agents) and checking for stale hosts (API instances), each every `heartbeatSeconds`. */
  start(what: { heartbeat: boolean; checkStale: boolean } = { heartbeat: true, checkStale: true }): void {
    const every = Math.max(1, this.timings.heartbeatSeconds) * 1000;
    const safely = (work: () => Promise<unknown>) => () => void work().catch(() => {});
    if (what.heartbeat)
      this.timers.push(
        setInterval(
          safely(() => this.heartbeat()),
          every,
        ).unref(),
      );
    if (what.checkStale)
      this.timers.push(
        setInterval(
          safely(() => this.checkStale()),
          every,
        ).unref(),
      );
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
  }

  /** Admins: every host with capacity and use. */
  async list(actor: Actor): Promise<HostList> {
    authorize(actor, 'host.read');
    await this.ensureLocal();
    return { items: (await this.hosts.listWithUse()).map(presentHost) };
  }

  async get(actor: Actor, id: string): Promise<Host> {
    authorize(actor, 'host.read');
    const row = (await this.hosts.listWithUse()).find((h) => h.id === id);
    if (!row) throw notFound('Host');
    return presentHost(row);
  }

  /** Admins: no new labs on the host (its labs keep running), or new labs again. */
  async setDrained(actor: Actor, id: string, drained: boolean): Promise<Host> {
    authorize(actor, 'host.manage');
    const row = await this.hosts.setDrained(id, drained, this.now());
    if (!row) throw notFound('Host');
    if (!drained) await this.capacityFreed();
    return this.get(actor, id);
  }

  /** The host of a lab as staff see it (null when it has none). */
  async ofLab(hostId: string | null): Promise<{ id: string; name: string; state: Host['state'] } | null> {
    if (!hostId) return null;
    const row = await this.hosts.findById(hostId);
    return row ? { id: row.id, name: row.name, state: row.state as Host['state'] } : null;
  }

  private async cameBack(row: HostRow): Promise<void> {
    const labs = await this.flagLabs(row.id, false);
    await this.record('host.up', row, { state: row.state, labs });
    await this.capacityFreed();
  }

  /** Tells the users of every live lab on the host whether it is reachable; returns how many labs. */
  private async flagLabs(hostId: string, unreachable: boolean): Promise<number> {
    const labs = await this.hosts.liveLabsOn(hostId);
    for (const lab of labs)
      await this.events.publish(
        lab.id,
        'lab.host',
        { status: lab.status, hostUnreachable: unreachable },
        { ownerId: lab.userId, memberIds: await this.labs.memberIds(lab.id) },
      );
    return labs.length;
  }

  private async record(action: string, host: HostRow, details: Record<string, unknown>): Promise<void> {
    await this.audit.record({
      action,
      targetType: 'host',
      targetId: host.id,
      outcome: 'success',
      details: { name: host.name, ...details },
    });
  }
}
