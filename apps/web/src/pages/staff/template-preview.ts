import type { LabDetail } from '@ctp/contracts';
import { parse, parseDocument } from 'yaml';

/** A topology preview from template YAML as typed, or null while it does not parse. */
export function previewFromYaml(source: string): Pick<LabDetail, 'networks' | 'vms'> | null {
  try {
    const config = parse(source) as {
      networks?: { name: string; cidr: string }[];
      vms?: { name: string; nics?: { network: string; address?: string }[] }[];
    };
    if (!Array.isArray(config?.networks) || !Array.isArray(config?.vms)) return null;
    return {
      networks: config.networks.map((n) => ({ name: String(n.name), cidr: String(n.cidr) })),
      vms: config.vms.map((vm, i) => ({
        id: String(i),
        name: String(vm.name),
        status: 'stopped',
        addresses: (vm.nics ?? []).map((nic) => ({ network: nic.network, address: nic.address ?? null })),
        consoles: [],
        studentControl: true,
        cpus: 1,
        memoryMiB: 128,
        credentials: null,
      })),
    };
  } catch {
    return null;
  }
}

export interface TaskPreview {
  id: string;
  title: string;
  type: string;
  points: number;
  hints: number;
  body: string;
  requires: string[];
}

/** The tasks of template YAML as typed (what students will see of them), or [] while it does not parse. */
export function tasksFromYaml(source: string): TaskPreview[] {
  try {
    const config = parse(source) as { tasks?: Record<string, unknown>[] };
    if (!Array.isArray(config?.tasks)) return [];
    return config.tasks.map((t) => ({
      id: String(t.id ?? ''),
      title: String(t.title ?? ''),
      type: String(t.type ?? (t.check ? 'check' : t.options ? 'choice' : t.answers ? 'answer' : 'info')),
      points: Number(t.points ?? 0),
      hints: Array.isArray(t.hints) ? t.hints.length : 0,
      body: String(t.body ?? t.description ?? ''),
      requires: Array.isArray(t.requires) ? t.requires.map(String) : [],
    }));
  } catch {
    return [];
  }
}

/** Adds a task (e.g. imported from CTFd) to the template YAML's `tasks`, keeping the rest of the text as written. */
export function appendTask(source: string, task: object): string {
  const document = parseDocument(source);
  if (!document.has('tasks')) document.set('tasks', document.createNode([]));
  const tasks = document.get('tasks') as { add?: (value: unknown) => void } | undefined;
  if (!tasks?.add) throw new Error('tasks is not a list');
  tasks.add(document.createNode(task));
  return document.toString();
}
