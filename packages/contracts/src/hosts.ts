import Type, { type Static } from 'typebox';
import { Timestamp, Uuid } from './common.js';

export const HOST_STATES = ['up', 'draining', 'down'] as const;
export const HostState = Type.Union([Type.Literal('up'), Type.Literal('draining'), Type.Literal('down')]);
export type HostState = Static<typeof HostState>;

/** A hypervisor host as admins see it: capacity, what admitted labs hold, state, last heartbeat. */
export const Host = Type.Object({
  id: Uuid,
  name: Type.String(),
  address: Type.Union([Type.String(), Type.Null()], { description: "Where the API reaches the host's agent; null for the local process." }),
  state: HostState,
  accelerator: Type.String({ description: 'kvm or tcg (QEMU), hardware (VirtualBox)' }),
  driver: Type.String({ description: 'qemu or virtualbox' }),
  capacity: Type.Object({ cpus: Type.Integer(), memoryMiB: Type.Integer(), diskBytes: Type.Integer() }),
  use: Type.Object(
    { cpus: Type.Integer(), memoryMiB: Type.Integer() },
    { description: 'vCPUs and memory held by the labs admitted onto the host.' },
  ),
  labs: Type.Integer({ description: 'Live labs on the host.' }),
  vms: Type.Integer({ description: 'VMs of those labs.' }),
  lastHeartbeatAt: Timestamp,
  createdAt: Timestamp,
});
export type Host = Static<typeof Host>;

export const HostList = Type.Object({ items: Type.Array(Host) });
export type HostList = Static<typeof HostList>;

/** A lab's host as staff see it in the lab's detail. */
export const LabHost = Type.Object({ id: Uuid, name: Type.String(), state: HostState });
export type LabHost = Static<typeof LabHost>;
