import { parseMachineReadable } from './machine-readable.parser.js';

export interface VBoxSnapshot {
  name: string;
  uuid: string;
  description: string;
  /** Depth in the snapshot tree (0 for the root). */
  depth: number;
  current: boolean;
}

/**
 * Parses `VBoxManage snapshot VM list --machinereadable`: the tree is flattened into keys
 * `SnapshotName`, `SnapshotName-1`, `SnapshotName-1-1`, ... (with matching `SnapshotUUID...`
 * and `SnapshotDescription...`), and `CurrentSnapshotUUID` names the current one. A VM without
 * snapshots prints a sentence instead, which yields an empty list.
 */
export function parseSnapshotList(output: string): VBoxSnapshot[] {
  const values = parseMachineReadable(output);
  const current = values.get('CurrentSnapshotUUID');
  const snapshots: VBoxSnapshot[] = [];
  for (const [key, name] of values) {
    const match = key.match(/^SnapshotName((?:-\d+)*)$/);
    if (!match) continue;
    const suffix = match[1]!;
    const uuid = values.get(`SnapshotUUID${suffix}`) ?? '';
    snapshots.push({
      name,
      uuid,
      description: values.get(`SnapshotDescription${suffix}`) ?? '',
      depth: suffix ? suffix.split('-').length - 1 : 0,
      current: uuid === current,
    });
  }
  return snapshots;
}
