import os from 'node:os';
import type { PlatformStats } from '@ctp/contracts';
import { authorize, type Actor } from '../policy/policy.js';
import type { LabsRepository } from '../repositories/labs.repository.js';
import type { PlatformSampleRow, StatsRepository } from '../repositories/stats.repository.js';

/** The value below which `q` of the sorted values fall (nearest rank). */
export function percentile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

/** Samples how the platform runs every minute, into PostgreSQL, so a site without Prometheus sees it too. */
export class StatsService {
  constructor(
    private readonly stats: StatsRepository,
    private readonly labs: LabsRepository,
    private readonly retentionDays: number,
  ) {}

  /** Takes the sample of the minute that ends at `now`, and drops samples past retention. */
  async sample(now = new Date()): Promise<PlatformSampleRow> {
    const minute = new Date(Math.floor(now.getTime() / 60_000) * 60_000);
    const from = new Date(minute.getTime() - 60_000);
    const counts = await this.labs.countsByState();
    const times = (await this.stats.provisioningTimes(from, minute)).sort((a, b) => a - b);
    const ready = (await this.stats.readyTimes(from, minute)).sort((a, b) => a - b);
    const sample: PlatformSampleRow = {
      sampledAt: minute,
      labs: Object.fromEntries(counts.labs.map((c) => [c.status, c.n])),
      vmsRunning: counts.vms.find((c) => c.status === 'running')?.n ?? 0,
      vmsTotal: counts.vms.reduce((sum, c) => sum + c.n, 0),
      vmCpus: counts.running.cpus,
      vmMemoryMiB: counts.running.memoryMiB,
      hostCpus: os.availableParallelism(),
      hostMemoryMiB: Math.round(os.totalmem() / 2 ** 20),
      provisions: times.length,
      provisionFailures: await this.stats.provisioningFailures(from, minute),
      provisionP50Seconds: percentile(times, 0.5),
      provisionP95Seconds: percentile(times, 0.95),
      readyP50Seconds: percentile(ready, 0.5),
      readyP95Seconds: percentile(ready, 0.95),
    };
    await this.stats.insert(sample);
    await this.stats.deleteBefore(new Date(now.getTime() - this.retentionDays * 86_400_000));
    return sample;
  }

  /** The samples of the last `hours` (staff). */
  async recent(actor: Actor, hours: number): Promise<PlatformStats> {
    authorize(actor, 'system.read');
    const rows = await this.stats.since(new Date(Date.now() - hours * 3600_000));
    return {
      samples: rows.map((r) => ({
        at: r.sampledAt.toISOString(),
        labs: r.labs as Record<string, number>,
        vmsRunning: r.vmsRunning,
        vmsTotal: r.vmsTotal,
        vmCpus: r.vmCpus,
        vmMemoryMiB: r.vmMemoryMiB,
        hostCpus: r.hostCpus,
        hostMemoryMiB: r.hostMemoryMiB,
        provisions: r.provisions,
        provisionFailures: r.provisionFailures,
        provisionP50Seconds: r.provisionP50Seconds,
        provisionP95Seconds: r.provisionP95Seconds,
        readyP50Seconds: r.readyP50Seconds,
        readyP95Seconds: r.readyP95Seconds,
      })),
    };
  }
}
