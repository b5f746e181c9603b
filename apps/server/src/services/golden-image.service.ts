import type { Image, SaveVmImageBody } from '@ctp/contracts';
import type { HypervisorDriver } from '@ctp/hypervisor';
import { AppError, conflict, notFound } from '../errors.js';
import { authorize, can, type Actor } from '../policy/policy.js';
import type { LabsRepository } from '../repositories/labs.repository.js';
import type { ImageLibraryService } from './image-library.service.js';

/**
 * Golden images: staff prepare a machine by hand in a lab, then save it as a new image. A job
 * stops the VM (so its disk is consistent) and flattens its overlay and base into a standalone
 * qcow2; the new image keeps how its source is booted and configured (kernel, cloud-init).
 */
export class GoldenImageService {
  constructor(
    private readonly labs: LabsRepository,
    private readonly driver: HypervisorDriver,
    private readonly library: ImageLibraryService,
  ) {}

  async saveVm(actor: Actor, vmId: string, body: SaveVmImageBody): Promise<Image> {
    authorize(actor, 'image.create');
    const vm = await this.labs.findVm(vmId);
    const lab = vm ? await this.labs.findById(vm.labId) : undefined;
    if (!vm || !lab || !can(actor, 'lab.read', { ownerId: lab.userId, memberIds: await this.labs.memberIds(lab.id) })) throw notFound('VM');
    const source = await this.library.resolve(vm.image);
    if (!source || (source.base.kind !== 'disk' && source.base.kind !== 'iso'))
      throw conflict(`VM ${vm.name} runs the ${vm.image} image, which has no disk to save (only disk and ISO images can be saved)`);
    if (!this.driver.exportDisk) throw new AppError(501, 'unsupported', `The ${this.driver.kind} driver cannot save VMs as images`);
    const exportDisk = this.driver.exportDisk.bind(this.driver);
    return this.library.registerDisk(actor, {
      name: body.name,
      notes: body.notes ?? `Saved from VM ${vm.name} of lab "${lab.name}" (image ${vm.image}).`,
      from: source,
      produce: async (target, progress) => {
        await exportDisk(vm.driverName, target, progress);
        // The VM was stopped for a consistent copy: the lab shows it.
        await this.labs.setVmStatus(vm.id, 'stopped');
      },
    });
  }
}
