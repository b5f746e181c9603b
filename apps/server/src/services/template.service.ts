import { isDeepStrictEqual } from 'node:util';
import type {
  CtfdImportResult,
  LabTemplateConfig,
  ListTemplatesQuery,
  Template,
  TemplateList,
  TemplateStatus,
  TemplateView,
} from '@ctp/contracts';
import { stringify as toYaml } from 'yaml';
import { notFound } from '../errors.js';
import { authorize, can, type Actor } from '../policy/policy.js';
import { presentTemplate, presentTemplateSummary } from '../presenters/staff.presenter.js';
import { presentStudentTemplate } from '../presenters/student.presenter.js';
import type { TemplateRow, TemplatesRepository } from '../repositories/templates.repository.js';
import { hostNetworks as defaultHostNetworks, type Cidr } from './cidr.js';
import type { ImageCatalog } from './image-catalog.js';
import { importCtfdChallenge } from './ctfd-import.js';
import { DEMO_TEMPLATE } from './demo-template.js';
import { validateTemplate } from './template-validation.js';

export { DEMO_TEMPLATE } from './demo-template.js';

/** The full-OS demo: two Debian 12 guests booted from disk overlays, configured by cloud-init. */
export const DEBIAN_PAIR_TEMPLATE: LabTemplateConfig = {
  version: 1,
  title: 'Debian pair',
  description:
    '# Debian pair\n\nTwo full Debian 12 machines on a private network, configured by cloud-init. Sign in on `attacker` ' +
    '(10.0.1.10) with the credentials shown on the lab page, then explore `target` (10.0.1.20) with `nmap`, `curl` and `nc`.',
  lifetimeMinutes: 120,
  networks: [{ name: 'lan', cidr: '10.0.1.0/24' }],
  vms: [
    { name: 'attacker', image: 'debian-12', cpus: 1, memoryMiB: 512, nics: [{ network: 'lan', address: '10.0.1.10' }] },
    { name: 'target', image: 'debian-12', cpus: 1, memoryMiB: 512, nics: [{ network: 'lan', address: '10.0.1.20' }] },
  ],
  tasks: [{ id: 'ssh', title: "Find target's SSH server and sign in to it from attacker", points: 10 }],
};

/** The text to keep for export: the uploaded YAML itself, or YAML made from a JSON body. */
function sourceOf(input: unknown, config: LabTemplateConfig): string {
  return typeof input === 'string' ? input : toYaml(config);
}

/** Lab templates: write, version, publish, archive, export; students read published ones. */
export class TemplateService {
  constructor(
    private readonly templates: TemplatesRepository,
    private readonly images: ImageCatalog,
    private readonly hostNetworks: () => Cidr[] = defaultHostNetworks,
    /** Called when a version becomes the published one: its VMs' saved states are prepared in the background. */
    private readonly onPublished?: (templateId: string, version: number) => Promise<void>,
  ) {}

  /** Validates a template given as an object or as YAML/JSON text. */
  async validate(input: unknown): Promise<LabTemplateConfig> {
    const known = new Set(await this.images.names());
    return validateTemplate(input, (name) => known.has(name), this.hostNetworks());
  }

  async list(actor: Actor, query: ListTemplatesQuery): Promise<TemplateList> {
    authorize(actor, 'template.list');
    const limit = query.limit ?? 50;
    const offset = query.offset ?? 0;
    // Students see the catalog: published templates only.
    const onlyStatus: TemplateStatus | undefined = can(actor, 'template.create') ? undefined : 'published';
    const { rows, total } = await this.templates.list({ limit, offset, status: query.status, search: query.search, onlyStatus });
    return { items: rows.map(presentTemplateSummary), total, limit, offset };
  }

  /** A template as the actor's audience sees it: the whole config for staff, the student view for others. */
  async get(actor: Actor, id: string): Promise<TemplateView> {
    const row = await this.readable(actor, id);
    return can(actor, 'template.readConfig') ? presentTemplate(row) : presentStudentTemplate(row);
  }

  /** The template row, if the actor may read it (404 otherwise, so drafts stay unseen). */
  async readable(actor: Actor, id: string): Promise<TemplateRow> {
    const row = await this.templates.findById(id);
    if (!row || !can(actor, 'template.read', { ownerId: row.ownerId, published: row.status === 'published' })) throw notFound('Template');
    return row;
  }

  async create(actor: Actor, input: unknown): Promise<Template> {
    authorize(actor, 'template.create');
    const config = await this.validate(input);
    const row = await this.templates.create({
      name: config.title,
      description: config.description ?? '',
      config,
      source: sourceOf(input, config),
      ownerId: actor.id,
    });
    return presentTemplate(row);
  }

  /** Stores a new version; labs already made keep the version they were made from. */
  async update(actor: Actor, id: string, input: unknown): Promise<Template> {
    const current = await this.templates.findById(id);
    if (!current) throw notFound('Template');
    authorize(actor, 'template.update', { ownerId: current.ownerId });
    const config = await this.validate(input);
    const row = await this.templates.addVersion(id, {
      name: config.title,
      description: config.description ?? '',
      config,
      source: sourceOf(input, config),
      createdBy: actor.id,
    });
    if (!row) throw notFound('Template');
    if (row.status === 'published') await this.onPublished?.(row.id, row.version);
    return presentTemplate(row);
  }

  async setStatus(actor: Actor, id: string, status: TemplateStatus): Promise<Template> {
    const current = await this.templates.findById(id);
    if (!current) throw notFound('Template');
    authorize(actor, 'template.publish', { ownerId: current.ownerId });
    const row = await this.templates.setStatus(id, status);
    if (status === 'published') await this.onPublished?.(row!.id, row!.version);
    return presentTemplate(row!);
  }

  /** The template's current version as YAML, as its author wrote it, ready to edit and upload again. */
  async export(actor: Actor, id: string): Promise<string> {
    const row = await this.readable(actor, id);
    // The source holds settings, hidden VMs, answers and checks: staff only.
    authorize(actor, 'template.export');
    return row.source || toYaml(row.config);
  }

  /** Installs the "Debian pair" demo at first start, once its image is built (published, owned by nobody). */
  async ensureDebianPairTemplate(): Promise<TemplateRow | undefined> {
    const existing = await this.templates.findByName(DEBIAN_PAIR_TEMPLATE.title);
    if (existing) return existing;
    if (!(await this.images.resolve('debian-12'))) return undefined;
    return this.templates.create({
      name: DEBIAN_PAIR_TEMPLATE.title,
      description: DEBIAN_PAIR_TEMPLATE.description ?? '',
      config: DEBIAN_PAIR_TEMPLATE,
      source: toYaml(DEBIAN_PAIR_TEMPLATE),
      ownerId: null,
      status: 'published',
    });
  }

  /** Converts a CTFd challenge.yml into a task (authors only: it carries the answers). */
  importCtfd(actor: Actor, challenge: string): CtfdImportResult {
    authorize(actor, 'template.create');
    return importCtfdChallenge(challenge);
  }

  /**
   * Installs the demo template at first start (published, owned by nobody), and brings an
   * installed one up to date while no person has edited it.
   */
  async ensureDemoTemplate(): Promise<TemplateRow> {
    const existing = await this.templates.findByName(DEMO_TEMPLATE.title);
    if (existing) {
      const untouched = existing.ownerId === null && (await this.templates.currentVersionAuthor(existing.id)) === null;
      if (!untouched || isDeepStrictEqual(existing.config, DEMO_TEMPLATE)) return existing;
      const upgraded = await this.templates.addVersion(existing.id, {
        name: DEMO_TEMPLATE.title,
        description: DEMO_TEMPLATE.description ?? '',
        config: DEMO_TEMPLATE,
        source: toYaml(DEMO_TEMPLATE),
        createdBy: null,
      });
      return upgraded ?? existing;
    }
    return this.templates.create({
      name: DEMO_TEMPLATE.title,
      description: DEMO_TEMPLATE.description ?? '',
      config: DEMO_TEMPLATE,
      source: toYaml(DEMO_TEMPLATE),
      ownerId: null,
      status: 'published',
    });
  }
}
