import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';

/** An IPv4 network: its first address as an unsigned 32-bit number and its prefix length. */
export interface Cidr {
  base: number;
  bits: number;
}

/** Lab networks are at least /30 (two hosts) and at most /8. */
export const MIN_PREFIX = 8;
export const MAX_PREFIX = 30;

/** Address blocks a lab network may never use, with why. */
const RESERVED: { cidr: Cidr; name: string }[] = [
  ['0.0.0.0/8', '"this network" (0.0.0.0/8)'],
  ['127.0.0.0/8', 'loopback (127.0.0.0/8)'],
  ['169.254.0.0/16', 'link-local (169.254.0.0/16)'],
  ['224.0.0.0/4', 'multicast (224.0.0.0/4)'],
  ['240.0.0.0/4', 'reserved (240.0.0.0/4)'],
].map(([text, name]) => ({ cidr: parseCidrOrThrow(text!), name: name! }));

/** Parses a dotted-quad IPv4 address strictly (four decimal octets 0–255, no leading zeros). */
export function parseIpv4(text: string): number | undefined {
  const octets = text.split('.');
  if (octets.length !== 4) return undefined;
  let value = 0;
  for (const octet of octets) {
    if (!/^(0|[1-9]\d{0,2})$/.test(octet)) return undefined;
    const n = Number(octet);
    if (n > 255) return undefined;
    value = value * 256 + n;
  }
  return value;
}

/** Writes an unsigned 32-bit number as a dotted quad. */
export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 255).join('.');
}

/** The netmask of a prefix length as an unsigned 32-bit number. */
export function maskOf(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** Parses `a.b.c.d/n` (any prefix 0–32), host bits allowed; `undefined` if it is not one. */
function parsePrefix(text: string): { address: number; bits: number } | undefined {
  const parts = text.split('/');
  if (parts.length !== 2 || !/^(0|[1-9]\d?)$/.test(parts[1]!)) return undefined;
  const address = parseIpv4(parts[0]!);
  const bits = Number(parts[1]);
  if (address === undefined || bits > 32) return undefined;
  return { address, bits };
}

function parseCidrOrThrow(text: string): Cidr {
  const parsed = parsePrefix(text)!;
  return { base: parsed.address, bits: parsed.bits };
}

/** Parses a lab network CIDR, or says what is wrong with it (syntax, prefix range, host bits set). */
export function parseLabCidr(text: string): { cidr: Cidr } | { error: string } {
  const parsed = parsePrefix(text);
  if (!parsed) return { error: `"${text}" is not an IPv4 network such as 10.0.0.0/24` };
  if (parsed.bits < MIN_PREFIX || parsed.bits > MAX_PREFIX)
    return { error: `"${text}" must have a prefix of /${MIN_PREFIX} to /${MAX_PREFIX}` };
  const base = (parsed.address & maskOf(parsed.bits)) >>> 0;
  if (base !== parsed.address) return { error: `"${text}" has host bits set; the network is ${formatIpv4(base)}/${parsed.bits}` };
  return { cidr: { base, bits: parsed.bits } };
}

/** The network's own (first) address. */
export function networkAddress(cidr: Cidr): number {
  return (cidr.base & maskOf(cidr.bits)) >>> 0;
}

/** The network's broadcast (last) address. */
export function broadcastAddress(cidr: Cidr): number {
  return (networkAddress(cidr) | ~maskOf(cidr.bits)) >>> 0;
}

/** Whether an address lies inside a network. */
export function contains(cidr: Cidr, address: number): boolean {
  return (address & maskOf(cidr.bits)) >>> 0 === networkAddress(cidr);
}

/** Whether two networks share any address. */
export function overlaps(a: Cidr, b: Cidr): boolean {
  const bits = Math.min(a.bits, b.bits);
  return (a.base & maskOf(bits)) >>> 0 === (b.base & maskOf(bits)) >>> 0;
}

/** `a.b.c.d/n` of a network. */
export function formatCidr(cidr: Cidr): string {
  return `${formatIpv4(networkAddress(cidr))}/${cidr.bits}`;
}

/** The name of the reserved block a network overlaps, if any. */
export function reservedBlock(cidr: Cidr): string | undefined {
  return RESERVED.find((r) => overlaps(r.cidr, cidr))?.name;
}

/**
 * Why an address cannot be a host of a network (outside it, its network or broadcast address),
 * or `undefined` when it can.
 */
export function hostAddressProblem(cidr: Cidr, address: number): string | undefined {
  if (!contains(cidr, address)) return 'is outside';
  if (address === networkAddress(cidr)) return 'is the network address of';
  if (address === broadcastAddress(cidr)) return 'is the broadcast address of';
  return undefined;
}

/** Parses the IPv4 routes of `/proc/net/route` (hex, little-endian), skipping the default route. */
export function parseProcRoutes(text: string): { iface: string; cidr: Cidr }[] {
  const routes: { iface: string; cidr: Cidr }[] = [];
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 8) continue;
    const destination = Number.parseInt(fields[1]!, 16);
    const mask = Number.parseInt(fields[7]!, 16);
    if (!Number.isFinite(destination) || !Number.isFinite(mask) || mask === 0) continue;
    const swap = (n: number) => (((n & 255) << 24) | (((n >>> 8) & 255) << 16) | (((n >>> 16) & 255) << 8) | ((n >>> 24) & 255)) >>> 0;
    const maskValue = swap(mask);
    const bits = 32 - Math.log2((~maskValue >>> 0) + 1);
    if (!Number.isInteger(bits)) continue;
    routes.push({ iface: fields[0]!, cidr: { base: (swap(destination) & maskValue) >>> 0, bits } });
  }
  return routes;
}

/** Lab bridges and taps of any installation on this host (`ctpb…`, `ctpt…`) are not the host's networks. */
const isLabDevice = (iface: string) => iface.startsWith('ctp');

/** Reads the routing table, or nothing where there is none (not Linux). */
function readRoutes(): string {
  try {
    return readFileSync('/proc/net/route', 'utf8');
  } catch {
    return '';
  }
}

/**
 * The networks this host is on: its interfaces' IPv4 networks (loopback and lab devices aside)
 * and its routes. A lab network overlapping one of them would shadow real hosts, so templates
 * may not use them.
 */
export function hostNetworks(
  interfaces: ReturnType<typeof networkInterfaces> = networkInterfaces(),
  routes: string = readRoutes(),
): Cidr[] {
  const found: Cidr[] = [];
  for (const [iface, addresses] of Object.entries(interfaces)) {
    if (isLabDevice(iface)) continue;
    for (const entry of addresses ?? []) {
      if (entry.family !== 'IPv4' || entry.internal || !entry.cidr) continue;
      const parsed = parsePrefix(entry.cidr);
      if (parsed) found.push({ base: (parsed.address & maskOf(parsed.bits)) >>> 0, bits: parsed.bits });
    }
  }
  for (const route of parseProcRoutes(routes)) if (!isLabDevice(route.iface)) found.push(route.cidr);
  const unique = new Map(found.map((cidr) => [formatCidr(cidr), cidr]));
  return [...unique.values()];
}
