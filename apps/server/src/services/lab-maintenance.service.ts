import type { HypervisorDriver } from '@ctp/hypervisor';
import type { LabOperation } from '../labs/lab-operation.js';
import type { LabsRepository } from '../repositories/labs.repository.js';
import type { AuditService } from './audit.service.js';
import type { EventBus } from './event-bus.js';

export interface ReconcileReport {
  orphansDestroyed: string[];
  vmsMissing: string[];
  vmsChanged: { vm: string; from: string; to: string }[];
  networksDestroyed: string[];
}

/** Scheduled care of labs: expiry warnings and deletion, and reconciliation with the hypervisor. */
export class LabMaintenanceService {
  constructor(
    private readonly labs: LabsRepository,
    private readonly driver: HypervisorDriver,
    private readonly events: EventBus,
    private readonly audit: AuditService,
    private readonly enqueue: (labId: string, operation: LabOperation) => Promise<void>,
    private readonly warningMinutes: number,
    private readonly log: (message: string, details: Record<string, unknown>) => void,
    /** Hypervisor names that belong to work under way outside labs (a template state being prepared): not orphans. */
    private readonly inUse: (driverName: string) => Promise<boolean> = async () => false,
    /** Announces that a lab's audience changed, so its open consoles close on every instance. */
    private readonly labChanged: (labId: string) => Promise<void> = async () => {},
    /**
     * Which labs this process's driver answers for, by the lab's host: an agent sees only its own
     * host's VMs, so another host's VMs are neither "missing" here nor its to repair.
     */
    private readonly ownsHost: () => Promise<(hostId: string | null) => boolean> = async () => () => true,
  ) {}

  /** Warns owners of labs about to expire, and deletes the expired ones. */
  async expireLabs(now = new Date()): Promise<{ warned: string[]; expired: string[] }> {
    const warned: string[] = [];
    for (const lab of await this.labs.labsToWarn(new Date(now.getTime() + this.warningMinutes * 60_000))) {
      if (!lab.expiresAt || lab.expiresAt <= now) continue;
      await this.labs.update(lab.id, { expiryWarnedAt: now });
      await this.events.publish(
        lab.id,
        'lab.expiring',
        { expiresAt: lab.expiresAt.toISOString(), minutesLeft: Math.ceil((lab.expiresAt.getTime() - now.getTime()) / 60_000) },
        { ownerId: lab.userId, memberIds: await this.labs.memberIds(lab.id) },
      );
      warned.push(lab.id);
    }
    const expired: string[] = [];
    for (const lab of await this.labs.expiredLabs(now)) {
      // Labs in the middle of an operation are taken on the next sweep.
      const moved = await this.labs.transition(lab.id, ['running', 'stopped', 'error'], 'deleting');
      if (!moved) continue;
      await this.enqueue(lab.id, 'delete');
      await this.labChanged(lab.id);
      await this.events.publish(
        lab.id,
        'lab.status',
        { status: 'deleting', reason: 'expired' },
        { ownerId: lab.userId, memberIds: await this.labs.memberIds(lab.id) },
      );
      await this.audit.record({
        action: 'lab.expire',
        targetType: 'lab',
        targetId: lab.id,
        outcome: 'success',
        details: { expiresAt: lab.expiresAt?.toISOString() },
      });
      expired.push(lab.id);
    }
    return { warned, expired };
  }

  /**
   * Compares what the hypervisor has with what the database expects: VMs and networks nobody
   * owns are destroyed, VMs that vanished are marked missing, state drift is corrected. Each
   * finding is an audit event and a log line. Only this host's labs are judged; a VM or network
   * that any live lab (of any host) owns is never destroyed, should two agents share a machine.
   */
  async reconcile(): Promise<ReconcileReport> {
    const report: ReconcileReport = { orphansDestroyed: [], vmsMissing: [], vmsChanged: [], networksDestroyed: [] };
    const everyHost = await this.labs.liveDriverNames();
    const mine = await this.ownsHost();
    const expected = { vms: everyHost.vms.filter((vm) => mine(vm.hostId)), networks: everyHost.networks };
    const anyHost = new Set(everyHost.vms.map((vm) => vm.driverName));
    const byName = new Map(expected.vms.map((vm) => [vm.driverName, vm]));
    const actual = await this.driver.listVms();
    const actualNames = new Set(actual.map((vm) => vm.name));
    const transitional = new Set((await this.labs.labsInTransition()).map((l) => l.id));

    for (const vm of actual) {
      const known = byName.get(vm.name);
      if (!known && (anyHost.has(vm.name) || (await this.inUse(vm.name)))) continue;
      if (!known) {
        await this.driver.destroyVm(vm.name);
        report.orphansDestroyed.push(vm.name);
        await this.finding('reconcile.orphan_destroyed', 'vm', vm.name, { state: vm.state });
      } else if (!transitional.has(known.labId) && known.status !== vm.state && ['running', 'stopped', 'paused'].includes(vm.state)) {
        await this.labs.setVmStatus(known.id, vm.state);
        report.vmsChanged.push({ vm: known.id, from: known.status, to: vm.state });
        await this.finding('reconcile.vm_state_changed', 'vm', known.id, { from: known.status, to: vm.state });
      }
    }
    for (const vm of expected.vms) {
      if (actualNames.has(vm.driverName) || transitional.has(vm.labId) || ['pending', 'missing', 'deleted', 'error'].includes(vm.status))
        continue;
      await this.labs.setVmStatus(vm.id, 'missing');
      report.vmsMissing.push(vm.id);
      await this.finding('reconcile.vm_missing', 'vm', vm.id, { was: vm.status });
    }
    const expectedNetworks = new Set(expected.networks);
    for (const network of await this.driver.listNetworks()) {
      if (expectedNetworks.has(network.name) || (await this.inUse(network.name))) continue;
      await this.driver.destroyNetwork(network.name);
      report.networksDestroyed.push(network.name);
      await this.finding('reconcile.network_destroyed', 'network', network.name, {});
    }
    return report;
  }

  private async finding(action: string, targetType: string, targetId: string, details: Record<string, unknown>): Promise<void> {
    this.log(action, { targetType, targetId, ...details });
    await this.audit.record({ action, targetType, targetId, outcome: 'success', details });
  }
}
