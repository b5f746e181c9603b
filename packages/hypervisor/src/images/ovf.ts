import { HypervisorError } from '../errors.js';

/** What an OVF descriptor says about its appliance: disk files and hardware defaults. */
export interface OvfSummary {
  /** Disk files (by `ovf:href`) in the order the descriptor lists them. */
  disks: string[];
  cpus?: number;
  memoryMiB?: number;
  nics: number;
  name?: string;
}

const tagText = (xml: string, tag: string): string | undefined =>
  new RegExp(`<(?:\\w+:)?${tag}[^>]*>([^<]*)</(?:\\w+:)?${tag}>`).exec(xml)?.[1]?.trim();

const attr = (element: string, name: string): string | undefined => new RegExp(`(?:\\w+:)?${name}="([^"]*)"`).exec(element)?.[1];

// Units OVF writes for memory (DMTF programmatic units), as multiples of one MiB.
const MEMORY_UNITS: Record<string, number> = { 'byte * 2^20': 1, MB: 1, MiB: 1, 'byte * 2^30': 1024, GB: 1024, GiB: 1024, 'byte * 2^10': 1 / 1024 };

/**
 * Reads the few fields the platform uses from an OVF descriptor: the disks (References/File
 * elements that a Disk names), the CPU count (ResourceType 3), memory (4) and network cards (10).
 */
export function parseOvf(xml: string): OvfSummary {
  if (!/<(?:\w+:)?Envelope[\s>]/.test(xml)) throw new HypervisorError('invalid', 'the OVF descriptor is not an OVF Envelope');
  const files = new Map<string, string>();
  for (const match of xml.matchAll(/<(?:\w+:)?File\b[^>]*>/g)) {
    const id = attr(match[0], 'id');
    const href = attr(match[0], 'href');
    if (id && href) files.set(id, href);
  }
  const disks: string[] = [];
  for (const match of xml.matchAll(/<(?:\w+:)?Disk\b[^>]*>/g)) {
    const href = files.get(attr(match[0], 'fileRef') ?? '');
    if (href && !disks.includes(href)) disks.push(href);
  }
  const summary: OvfSummary = { disks, nics: 0 };
  for (const match of xml.matchAll(/<(?:\w+:)?Item\b[^>]*>([\s\S]*?)<\/(?:\w+:)?Item>/g)) {
    const item = match[1]!;
    const type = tagText(item, 'ResourceType');
    const quantity = Number(tagText(item, 'VirtualQuantity'));
    if (type === '3' && Number.isInteger(quantity) && quantity > 0) summary.cpus = quantity;
    if (type === '4' && quantity > 0) {
      const unit = MEMORY_UNITS[tagText(item, 'AllocationUnits') ?? 'MB'] ?? 1;
      summary.memoryMiB = Math.round(quantity * unit);
    }
    if (type === '10') summary.nics++;
  }
  const name = /<(?:\w+:)?VirtualSystem\b[^>]*>/.exec(xml)?.[0];
  if (name) summary.name = attr(name, 'id');
  return summary;
}
