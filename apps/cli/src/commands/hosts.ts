import type { Command } from 'commander';
import type { Host, HostList } from '@ctp/contracts';
import { ApiClient } from '../api-client.js';
import { CliError, EXIT } from '../errors.js';
import { emit } from '../output.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const gib = (mib: number) => `${(mib / 1024).toFixed(1)} GiB`;

/** One line per host: state, vCPUs and RAM held of the capacity, labs, last heartbeat. */
function line(h: Host): string {
  return [
    h.name.padEnd(20),
    h.state.padEnd(9),
    `cpu ${h.use.cpus}/${h.capacity.cpus}`.padEnd(12),
    `ram ${gib(h.use.memoryMiB)}/${gib(h.capacity.memoryMiB)}`.padEnd(22),
    `labs ${h.labs}`.padEnd(9),
    `seen ${h.lastHeartbeatAt}`,
  ].join(' ');
}

/** A host's id from its name or id (names are unique); exit 6 when there is none. */
async function resolve(client: ApiClient, nameOrId: string): Promise<string> {
  const hosts = (await client.json<HostList>('GET', '/api/v1/hosts')).items;
  const host = hosts.find((h) => h.name === nameOrId) ?? (UUID.test(nameOrId) ? hosts.find((h) => h.id === nameOrId) : undefined);
  if (!host) throw new CliError(EXIT.notFound, `no host named "${nameOrId}"`);
  return host.id;
}

/** `ctp hosts list|drain|undrain` (admins). */
export function registerHosts(program: Command): void {
  const hosts = program.command('hosts').description('hypervisor hosts (admins)');
  hosts
    .command('list')
    .description('every host: state, vCPUs and memory held of its capacity, labs, last heartbeat')
    .action(async () => {
      const list = await ApiClient.fromStore().json<HostList>('GET', '/api/v1/hosts');
      emit(list, () => (list.items.length ? list.items.map(line).join('\n') : 'no hosts'));
    });
  for (const [action, what] of [
    ['drain', 'place no new labs on the host (its labs keep running)'],
    ['undrain', 'place new labs on the host again'],
  ] as const)
    hosts
      .command(action)
      .description(what)
      .argument('<host>', 'the host’s name or id')
      .action(async (nameOrId: string) => {
        const client = ApiClient.fromStore();
        const host = await client.json<Host>('POST', `/api/v1/hosts/${await resolve(client, nameOrId)}/${action}`);
        emit(host, () => `${host.name}: ${host.state}`);
      });
}
