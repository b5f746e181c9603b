import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { LabTemplateConfig } from '@ctp/contracts';
import type { HypervisorDriver } from '@ctp/hypervisor';
import type { HostRegistration } from '../repositories/hosts.repository.js';
import type { Services } from '../services.js';

// What the class simulation (bench/class-simulation.bench.ts) and its test
// (routes/class-placement.test.ts) share: a realistic 2-VM class lab, simulated hosts registered
// in the database as agents on other machines would register them, a driver with per-call
// latencies, and the placement figures both read.

/** A class lab as instructors write them: an attacker (2 vCPUs, 2 GiB) and a target (1 vCPU, 1 GiB) on one network, a flag in the target. */
export const CLASS_TEMPLATE: LabTemplateConfig = {
  version: 1,
  title: 'Class pair',
  lifetimeMinutes: 120,
  networks: [{ name: 'lan', cidr: '10.0.0.0/24' }],
  vms: [
    { name: 'attacker', image: 'demo-attacker', cpus: 2, memoryMiB: 2048, nics: [{ network: 'lan', address: '10.0.0.10' }] },
    { name: 'target', image: 'demo-target', cpus: 1, memoryMiB: 1024, nics: [{ network: 'lan', address: '10.0.0.20' }] },
  ],
  // A per-lab flag written into the target after boot: provisioning waits for the guest's agent, as real class labs do.
  secrets: [{ name: 'flag', type: 'flag' }],
  inject: [{ vm: 'target', path: '/var/www/flag.txt', content: '{{flag}}\n', mode: '0644' }],
};

/** Milliseconds each driver call takes (calls not named take none). */
export type Latencies = Partial<Record<keyof HypervisorDriver, number>>;

/**
 * The driver with a delay before each named call, as a real hypervisor would take: the platform's
 * work around the calls (jobs, steps, events, database) is what the simulation measures, and the
 * delays keep jobs in flight as long as real ones (concurrency, queueing) without any host's CPUs.
 */
export function withLatencies<T extends HypervisorDriver>(driver: T, latencies: Latencies): T {
  return new Proxy(driver, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      const delay = latencies[property as keyof HypervisorDriver];
      if (typeof value !== 'function' || !delay) return typeof value === 'function' ? value.bind(target) : value;
      return async (...args: unknown[]) => {
        await new Promise((resolve) => setTimeout(resolve, delay));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/** A simulated hypervisor host's capacity. */
export interface SimulatedCapacity {
  cpus: number;
  memoryMiB: number;
  diskBytes: number;
}

/**
 * Registers hosts `sim-02`… (the process's own host is `sim-01`) through the hosts repository,
 * as their agents would; returns every host id by name, the local one first.
 */
export async function registerSimulatedHosts(services: Services, count: number, capacity: SimulatedCapacity): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  const local = await services.hosts.ensureLocal();
  if (local) ids.set((await services.repositories.hosts.findById(local))!.name, local);
  for (let i = ids.size + 1; i <= count; i++) {
    const registration: HostRegistration = {
      name: simulatedHostName(i),
      address: `http://10.0.0.${i}:8081`,
      ...capacity,
      accelerator: 'kvm',
      driver: 'fake',
    };
    const { row } = await services.repositories.hosts.register(registration, new Date());
    // Each host's lab operations go to its own queue: this process stands in for every agent
    // (one fake driver for all: the simulation measures the platform, not the hypervisors).
    await services.jobs.workHost(row.id);
    ids.set(row.name, row.id);
  }
  return ids;
}

/** The name of the i-th simulated host (1-based): `sim-01`. */
export function simulatedHostName(i: number): string {
  return `sim-${String(i).padStart(2, '0')}`;
}

/** Heartbeats every simulated host, as their agents would (every 5 s by default), so none goes `down`. */
export function heartbeatHosts(services: Services, ids: string[], everyMs: number): () => void {
  const timer = setInterval(() => {
    for (const id of ids) void services.repositories.hosts.heartbeat(id, new Date()).catch(() => {});
  }, everyMs);
  return () => clearInterval(timer);
}

/** One host's share of the class: labs, VMs, what they hold against what it has and may promise. */
export interface HostShare {
  name: string;
  state: string;
  labs: number;
  vms: number;
  usedCpus: number;
  usedMemoryMiB: number;
  cpus: number;
  memoryMiB: number;
  /** What admission may promise on it (capacity × ratios, minus the reserve). */
  cpuLimit: number;
  memoryLimitMiB: number;
}

/** Every host's share, by name, with its admission limits from the current settings. */
export async function hostShares(services: Services): Promise<HostShare[]> {
  const settings = await services.admission.settings();
  return (await services.repositories.hosts.listWithUse()).map((h) => ({
    name: h.name,
    state: h.state,
    labs: h.labs,
    vms: h.vms,
    usedCpus: h.usedCpus,
    usedMemoryMiB: h.usedMemoryMiB,
    cpus: h.cpus,
    memoryMiB: h.memoryMiB,
    cpuLimit: Math.floor(h.cpus * settings.cpuOvercommit),
    memoryLimitMiB: Math.floor(Math.max(0, h.memoryMiB - settings.reservedMemoryMiB) * settings.memoryOvercommit),
  }));
}

/** An access token for each student, minted directly: sign-in (a deliberately slow KDF) is not what is simulated. */
export async function studentTokens(
  services: Services,
  count: number,
  prefix = 'student',
): Promise<{ id: string; headers: Record<string, string> }[]> {
  const students = [];
  for (let i = 1; i <= count; i++) {
    const user = await services.repositories.users.insert({
      username: `${prefix}-${String(i).padStart(3, '0')}`,
      role: 'student',
      // Never used to sign in: the tokens are minted below.
      passwordHash: 'x',
      email: null,
    });
    const token = services.tokens.issueAccessToken({ sub: user.id, username: user.username, role: 'student', epoch: user.sessionEpoch });
    students.push({ id: user.id, headers: { authorization: `Bearer ${token}` } });
  }
  return students;
}

/** Empty stand-ins for the demo images under `dir` (the fake driver never reads them; templates naming them validate). */
export function fakeImagesDir(dir: string): string {
  const images = path.join(dir, 'demo-images');
  mkdirSync(images, { recursive: true });
  for (const file of ['vmlinuz', 'attacker.initrd', 'target.initrd']) writeFileSync(path.join(images, file), '');
  return images;
}
