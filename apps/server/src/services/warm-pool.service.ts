import type { LabTemplateConfig, WarmPool } from '@ctp/contracts';
import { conflict, notFound } from '../errors.js';
import { authorize, type Actor } from '../policy/policy.js';
import type { LabRow, LabsRepository } from '../repositories/labs.repository.js';
import type { TemplateRow, TemplatesRepository } from '../repositories/templates.repository.js';

/** What the pool needs of the lab service: make a pool lab, delete a lab. */
export interface PoolLabs {
  provisionPoolLab(ownerId: string, template: TemplateRow): Promise<string>;
  /** Starts deleting a lab (a job); false when its state does not allow it now. */
  deletePoolLab(labId: string): Promise<boolean>;
}

export interface WarmPoolOptions {
  /** Host memory (MiB) that pool labs must leave free: a refill stops short of it. */
  reserveMiB: number;
  /** Free host memory now, in MiB. */
  freeMemoryMiB: () => number;
  /** Whether this process's host takes new labs (`up`: not draining, not down). */
  hostTakesLabs?: () => Promise<boolean>;
}

// Labs of a pool on their way to running: they count as filling it.
const PENDING = ['provisioning', 'starting', 'resetting'];

/**
 * Warm pools: for a template whose staff asked for one, N labs are kept provisioned and
 * unassigned, so that `POST /api/v1/labs` hands one over at once (see `LabService.create`). A
 * background job refills the pool within the host's capacity and replaces labs of older
 * template versions; pool labs carry no secrets or content until they are handed over.
 */
export class WarmPoolService {
  constructor(
    private readonly templates: TemplatesRepository,
    private readonly labs: LabsRepository,
    private readonly poolLabs: PoolLabs,
    private readonly enqueueRefill: (templateId: string) => Promise<void>,
    private readonly options: WarmPoolOptions,
  ) {}

  /** A template's pool (staff who may edit the template). */
  async get(actor: Actor, templateId: string): Promise<WarmPool> {
    const template = await this.editable(actor, templateId);
    return this.view(template);
  }

  /** Sets a template's pool size; the pool's labs are its owner's (the actor) until handed over. */
  async setSize(actor: Actor, templateId: string, size: number): Promise<WarmPool> {
    const template = await this.editable(actor, templateId);
    if (size > 0 && template.status !== 'published') throw conflict('Only a published template can keep a warm pool');
    const updated = (await this.templates.setWarmPool(templateId, size, actor.id))!;
    await this.enqueueRefill(templateId);
    return this.view(updated);
  }

  /**
   * The refill job: deletes pool labs that failed, belong to an older template version or exceed
   * the size, then provisions the missing ones while the host has memory to spare for them.
   */
  async refill(templateId: string): Promise<{ created: number; removed: number }> {
    const template = await this.templates.findById(templateId);
    if (!template) return { created: 0, removed: 0 };
    const size = template.status === 'published' ? template.warmPoolSize : 0;
    const pool = await this.labs.poolLabs(templateId);
    const usable = pool.filter((l) => l.templateVersion === template.version && (l.status === 'running' || PENDING.includes(l.status)));
    const kept = usable.slice(0, size);
    let removed = 0;
    for (const lab of pool.filter((l) => !kept.includes(l))) if (await this.poolLabs.deletePoolLab(lab.id)) removed++;
    const owner = template.warmPoolOwnerId;
    if (!owner) return { created: 0, removed };
    const needMiB = ((template.config as LabTemplateConfig).vms ?? []).reduce((sum, vm) => sum + (vm.memoryMiB ?? 128), 0);
    let created = 0;
    // A draining or down host gets no new labs, pool labs included.
    const placeable = kept.length < size && (await (this.options.hostTakesLabs?.() ?? true));
    for (let i = kept.length; placeable && i < size; i++) {
      // Within capacity: a pool lab's VMs must fit while leaving the reserve free.
      if (this.options.freeMemoryMiB() - needMiB * (created + 1) < this.options.reserveMiB) break;
      await this.poolLabs.provisionPoolLab(owner, template);
      created++;
    }
    return { created, removed };
  }

  /** Every pool (the periodic reconciliation refills them, e.g. after a restart or a new template version). */
  async refillAll(): Promise<void> {
    for (const id of await this.templates.withWarmPool()) await this.enqueueRefill(id);
  }

  private async view(template: TemplateRow): Promise<WarmPool> {
    const labs: LabRow[] = await this.labs.poolLabs(template.id);
    return {
      templateId: template.id,
      size: template.warmPoolSize,
      ready: labs.filter((l) => l.status === 'running' && l.templateVersion === template.version).length,
      pending: labs.filter((l) => PENDING.includes(l.status)).length,
      labs: labs.map((l) => ({ id: l.id, status: l.status, templateVersion: l.templateVersion })),
    };
  }

  /** The template, if the actor may change it (404 when it does not exist). */
  private async editable(actor: Actor, templateId: string): Promise<TemplateRow> {
    authorize(actor, 'template.readConfig');
    const template = await this.templates.findById(templateId);
    if (!template) throw notFound('Template');
    authorize(actor, 'template.update', { ownerId: template.ownerId });
    return template;
  }
}
