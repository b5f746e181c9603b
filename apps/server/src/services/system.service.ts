import os from 'node:os';
import type { SystemInfo } from '@ctp/contracts';
import type { HypervisorDriver } from '@ctp/hypervisor';
import { authorize, type Actor } from '../policy/policy.js';
import type { LabsRepository } from '../repositories/labs.repository.js';
import type { ImageCatalog } from './image-catalog.js';

/** What staff see on the system page: the hypervisor and its capabilities, images, capacity. */
export class SystemService {
  constructor(
    private readonly driver: HypervisorDriver,
    private readonly images: ImageCatalog,
    private readonly labs: LabsRepository,
    private readonly engine: string,
  ) {}

  async info(actor: Actor): Promise<SystemInfo> {
    authorize(actor, 'system.read');
    const host = await this.driver.probe();
    const usage = await this.labs.usage();
    return {
      hypervisor: { ...host, capabilities: { ...host.capabilities } },
      images: await Promise.all(
        (await this.images.names()).map(async (name) => {
          const image = await this.images.resolve(name);
          return { name, kind: image?.base.kind ?? 'unknown', available: image !== undefined };
        }),
      ),
      capacity: {
        hostCpus: os.cpus().length,
        hostMemoryMiB: Math.round(os.totalmem() / 2 ** 20),
        freeMemoryMiB: Math.round(os.freemem() / 2 ** 20),
        ...usage,
      },
      database: this.engine,
    };
  }
}
