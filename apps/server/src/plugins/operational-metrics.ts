import { readFile, statfs } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Gauge } from 'prom-client';
import { LAB_STATUSES } from '@ctp/contracts';
import type { LabsRepository } from '../repositories/labs.repository.js';
import type { HostWithUse } from '../repositories/hosts.repository.js';
import { HOST_STATES } from '@ctp/contracts';
import type { Metrics } from './metrics.js';

export interface OperationalSources {
  labs: LabsRepository;
  /** Lab operations waiting and running in the durable queue. */
  queueCounts: () => Promise<{ queued: number; active: number }>;
  /** The directory whose file system holds VM disks and the database. */
  dataDir: string;
  /** Registered hypervisor hosts with what their labs hold. */
  hosts: () => Promise<HostWithUse[]>;
}

/** statfs of the directory, or of its nearest existing parent (before the first start made it). */
export async function statfsNearest(dir: string) {
  for (let current = dir; ; current = path.dirname(current)) {
    try {
      return await statfs(current);
    } catch (error) {
      if (current === path.dirname(current)) throw error;
    }
  }
}

/** Available memory from /proc/meminfo (what new VMs can use), falling back to free memory. */
async function memoryAvailableBytes(): Promise<number> {
  try {
    const match = /^MemAvailable:\s+(\d+) kB/m.exec(await readFile('/proc/meminfo', 'utf8'));
    if (match) return Number(match[1]) * 1024;
  } catch {
    // Not Linux: free memory is the nearest figure.
  }
  return os.freemem();
}

/**
 * Gauges read at scrape time (labs and VMs by state, queue depth, host capacity and use), and the
 * count of open console and event WebSockets. Idempotent per registry: tests build several apps.
 */
export function registerOperationalMetrics(app: FastifyInstance, metrics: Metrics, sources: OperationalSources): void {
  const registry = metrics.registry;
  const host = metrics.host;
  const gauge = (name: string, help: string, labelNames: string[], collect: (g: Gauge) => Promise<void>) => {
    if (registry.getSingleMetric(name)) return;
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        await collect(this);
      },
    });
  };
  gauge('ctp_labs', 'Labs by state (deleted ones not counted)', ['state'], async (g) => {
    const counts = await sources.labs.countsByState();
    g.reset();
    // Every state is present (zero too), so alerts and dashboards always have a series.
    for (const state of LAB_STATUSES) if (state !== 'deleted') g.set({ state }, counts.labs.find((c) => c.status === state)?.n ?? 0);
  });
  // VMs without a host (made before hosts were registered) are this machine's.
  gauge('ctp_vms', 'VMs by state and host (deleted ones not counted)', ['state', 'host'], async (g) => {
    const counts = await sources.labs.countsByState();
    g.reset();
    for (const state of ['pending', 'stopped', 'running', 'error']) g.set({ state, host }, 0);
    const byKey = new Map<string, { state: string; host: string; n: number }>();
    for (const c of counts.vmsByHost) {
      const key = `${c.host ?? host}\u0000${c.status}`;
      const entry = byKey.get(key) ?? { state: c.status, host: c.host ?? host, n: 0 };
      entry.n += c.n;
      byKey.set(key, entry);
    }
    for (const e of byKey.values()) g.set({ state: e.state, host: e.host }, e.n);
  });
  gauge('ctp_job_queue_depth', 'Lab operations in the durable queue, by state (queued, active)', ['queue', 'state'], async (g) => {
    const counts = await sources.queueCounts();
    g.set({ queue: 'lab-operation', state: 'queued' }, counts.queued);
    g.set({ queue: 'lab-operation', state: 'active' }, counts.active);
  });
  gauge('ctp_host_cpus', 'CPUs of the host', ['host'], async (g) => g.set({ host }, os.availableParallelism()));
  gauge('ctp_host_memory_bytes', 'Memory of the host', ['host'], async (g) => g.set({ host }, os.totalmem()));
  gauge('ctp_host_memory_available_bytes', 'Memory the host can still give (MemAvailable)', ['host'], async (g) =>
    g.set({ host }, await memoryAvailableBytes()),
  );
  gauge('ctp_host_load1', 'One-minute load average of the host', ['host'], async (g) => g.set({ host }, os.loadavg()[0] ?? 0));
  const runningOn = async (g: Gauge, value: (r: { cpus: number; memoryMiB: number }) => number) => {
    const rows = (await sources.labs.countsByState()).runningByHost;
    g.reset();
    g.set({ host }, 0);
    const sums = new Map<string, { cpus: number; memoryMiB: number }>();
    for (const r of rows) {
      const sum = sums.get(r.host ?? host) ?? { cpus: 0, memoryMiB: 0 };
      sum.cpus += r.cpus;
      sum.memoryMiB += r.memoryMiB;
      sums.set(r.host ?? host, sum);
    }
    for (const [name, sum] of sums) g.set({ host: name }, value(sum));
  };
  gauge('ctp_host_vm_cpus_allocated', 'vCPUs of running VMs on the host', ['host'], (g) => runningOn(g, (r) => r.cpus));
  gauge('ctp_host_vm_memory_allocated_bytes', 'Memory of running VMs on the host', ['host'], (g) =>
    runningOn(g, (r) => r.memoryMiB * 1024 * 1024),
  );
  gauge('ctp_host_disk_bytes', 'Size of the file system holding the data directory', ['host'], async (g) => {
    const fs = await statfsNearest(sources.dataDir);
    g.set({ host }, fs.blocks * fs.bsize);
  });
  gauge('ctp_host_disk_free_bytes', 'Free space (for unprivileged users) on the data directory file system', ['host'], async (g) => {
    const fs = await statfsNearest(sources.dataDir);
    g.set({ host }, fs.bavail * fs.bsize);
  });

  // Registered hypervisor hosts (from the database: every instance reports every host).
  gauge('ctp_hosts', 'Registered hypervisor hosts by state', ['state'], async (g) => {
    const rows = await sources.hosts();
    for (const state of HOST_STATES) g.set({ state }, rows.filter((h) => h.state === state).length);
  });
  gauge('ctp_host_up', 'Whether a registered hypervisor host heartbeats (1: up or draining, 0: down)', ['host'], async (g) => {
    g.reset();
    for (const h of await sources.hosts()) g.set({ host: h.name }, h.state === 'down' ? 0 : 1);
  });
  const perHost = (name: string, help: string, value: (h: HostWithUse) => number) =>
    gauge(name, help, ['host'], async (g) => {
      g.reset();
      for (const h of await sources.hosts()) g.set({ host: h.name }, value(h));
    });
  perHost('ctp_host_capacity_cpus', 'CPUs a registered host declared', (h) => h.cpus);
  perHost('ctp_host_capacity_memory_bytes', 'Memory a registered host declared', (h) => h.memoryMiB * 2 ** 20);
  perHost('ctp_host_capacity_disk_bytes', 'Disk (data directory file system) a registered host declared', (h) => h.diskBytes);
  perHost('ctp_host_used_cpus', 'vCPUs held by the labs admitted onto a host', (h) => h.usedCpus);
  perHost('ctp_host_used_memory_bytes', 'Memory held by the labs admitted onto a host', (h) => h.usedMemoryMiB * 2 ** 20);
  perHost('ctp_host_labs', 'Live labs on a host', (h) => h.labs);

  for (const kind of ['console', 'events']) metrics.websocketsOpen.set({ kind }, 0);
  app.addHook('onRequest', async (request) => {
    if (!(request as { ws?: boolean }).ws) return;
    const kind = request.url.includes('/events/') ? 'events' : 'console';
    // Counted from the upgrade until its TCP connection closes, whatever the handler does.
    metrics.websocketsOpen.inc({ kind });
    request.raw.socket.once('close', () => metrics.websocketsOpen.dec({ kind }));
  });
}
