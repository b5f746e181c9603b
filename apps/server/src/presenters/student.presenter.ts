import type { Lab, LabDetail, LabHost, LabEvent, LabTemplateConfig, StudentTemplate } from '@ctp/contracts';
import type { LabNetworkRow, LabStepRow, LabWithOwner, VmRow } from '../repositories/labs.repository.js';
import type { TemplateRow } from '../repositories/templates.repository.js';
import { taskType } from '../services/answer-matching.js';
import { presentLab, presentLabDetail } from './staff.presenter.js';

// What students receive: only what they may see. Settings, hidden VMs (names, images, addresses),
// answers, check commands, solutions and secret values never get past here.

const HIDDEN = '(lab infrastructure)';

/** Replaces every mention of a hidden VM's name in a text. */
export function redactHiddenNames(text: string, hiddenNames: readonly string[]): string {
  let out = text;
  for (const name of hiddenNames) {
    out = out.replace(new RegExp(`(?<![A-Za-z0-9_])${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![A-Za-z0-9_])`, 'g'), HIDDEN);
  }
  return out;
}

/** Walks any JSON value and redacts hidden names in every string. */
function redactDeep(value: unknown, hiddenNames: readonly string[]): unknown {
  if (typeof value === 'string') return redactHiddenNames(value, hiddenNames);
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, hiddenNames));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v, hiddenNames)]));
  return value;
}

/** A template as students see it: title, description, the VMs they may see, tasks without answers. */
export function presentStudentTemplate(row: TemplateRow): StudentTemplate {
  const config = row.config as LabTemplateConfig;
  const visible = config.vms.filter((vm) => vm.studentVisible !== false);
  const hiddenNames = config.vms.filter((vm) => vm.studentVisible === false).map((vm) => vm.name);
  return {
    audience: 'student',
    id: row.id,
    title: row.name,
    description: redactHiddenNames(row.description, hiddenNames),
    status: row.status as StudentTemplate['status'],
    version: row.version,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    lifetimeMinutes: config.lifetimeMinutes ?? 120,
    // Only networks a visible VM is on.
    networks: config.networks
      .filter((n) => visible.some((vm) => vm.nics.some((nic) => nic.network === n.name)))
      .map((n) => ({ name: n.name, cidr: n.cidr })),
    vms: visible.map((vm) => ({
      name: vm.name,
      cpus: vm.cpus ?? 1,
      memoryMiB: vm.memoryMiB ?? 128,
      addresses: vm.nics.map((nic) => ({ network: nic.network, address: nic.address ?? null })),
    })),
    tasks: (config.tasks ?? []).map((t) => ({
      id: t.id,
      title: redactHiddenNames(t.title, hiddenNames),
      type: taskType(t),
      points: t.points ?? 0,
    })),
  };
}

/** A lab for a student's list: progress without hidden VMs' names. */
export function presentStudentLab(
  row: LabWithOwner,
  steps: LabStepRow[],
  hiddenNames: readonly string[],
  queuePosition: number | null = null,
): Lab {
  return redactDeep(presentLab(row, steps, queuePosition), hiddenNames) as Lab;
}

/** A lab's detail for a student: only visible VMs, step names and errors without hidden VMs. */
export function presentStudentLabDetail(
  row: LabWithOwner,
  parts: {
    networks: LabNetworkRow[];
    vms: VmRow[];
    steps: LabStepRow[];
    members: { id: string; username: string }[];
    consoles: ('serial' | 'vnc')[];
    queuePosition?: number | null;
    host?: LabHost | null;
  },
): LabDetail {
  const hiddenNames = parts.vms.filter((vm) => !vm.studentVisible).map((vm) => vm.name);
  const visible = parts.vms.filter((vm) => vm.studentVisible);
  const networks = parts.networks.filter((n) =>
    visible.some((vm) => (vm.nics as { network: string }[]).some((nic) => nic.network === n.name)),
  );
  // Students learn whether their lab's host is reachable, never which host it is.
  const { host: _host, ...detail } = presentLabDetail(row, { ...parts, networks, vms: visible });
  return redactDeep(detail, hiddenNames) as LabDetail;
}

/**
 * An event as a student sees it, or null when it must not reach them: events about hidden VMs and
 * staff-only events are dropped; hidden VMs' names are redacted from the rest.
 */
export function presentStudentEvent(event: LabEvent, hiddenNames: readonly string[], staffOnly: boolean): LabEvent | null {
  if (staffOnly) return null;
  const data = event.data;
  const about = [data.name, data.vm].filter((v): v is string => typeof v === 'string');
  if (about.some((name) => hiddenNames.includes(name))) return null;
  return { ...event, data: redactDeep(data, hiddenNames) as Record<string, unknown> };
}
