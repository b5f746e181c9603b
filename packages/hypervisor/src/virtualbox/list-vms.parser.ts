/** Parses `VBoxManage list vms`: `"name" {uuid}` per line. */
export function parseListVms(output: string): { name: string; uuid: string }[] {
  const vms: { name: string; uuid: string }[] = [];
  for (const line of output.split(/\r?\n/)) {
    const match = line.match(/^"(.*)" \{([0-9a-fA-F-]{36})\}\s*$/);
    if (match) vms.push({ name: match[1]!, uuid: match[2]! });
  }
  return vms;
}
