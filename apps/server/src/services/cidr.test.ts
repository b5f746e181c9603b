import { networkInterfaces } from 'node:os';
import { describe, expect, it } from 'vitest';
import {
  broadcastAddress,
  contains,
  formatCidr,
  formatIpv4,
  hostAddressProblem,
  hostNetworks,
  maskOf,
  networkAddress,
  overlaps,
  parseIpv4,
  parseLabCidr,
  parseProcRoutes,
  reservedBlock,
  type Cidr,
} from './cidr.js';

const ip = (text: string) => parseIpv4(text)!;
const cidr = (text: string): Cidr => {
  const parsed = parseLabCidr(text);
  if ('error' in parsed) throw new Error(parsed.error);
  return parsed.cidr;
};

describe('IPv4 addresses', () => {
  it('parses dotted quads to unsigned numbers and back', () => {
    expect(parseIpv4('0.0.0.0')).toBe(0);
    expect(parseIpv4('0.0.0.1')).toBe(1);
    expect(parseIpv4('0.0.1.0')).toBe(256);
    expect(parseIpv4('1.2.3.4')).toBe(0x01020304);
    expect(parseIpv4('255.255.255.255')).toBe(0xffffffff);
    expect(parseIpv4('10.0.0.10')).toBe(167772170);
    expect(formatIpv4(0xffffffff)).toBe('255.255.255.255');
    expect(formatIpv4(0x01020304)).toBe('1.2.3.4');
    expect(formatIpv4(0)).toBe('0.0.0.0');
  });

  it.each([
    '',
    '1.2.3',
    '1.2.3.4.5',
    '256.0.0.1',
    '1.2.3.-4',
    '01.2.3.4',
    '1.2.3.4 ',
    ' 1.2.3.4',
    '1.2.3.x',
    '1..2.3',
    '1.2.3.1000',
    '0x1.2.3.4',
  ])('refuses %j', (text) => expect(parseIpv4(text)).toBeUndefined());

  it('computes masks', () => {
    expect(maskOf(0)).toBe(0);
    expect(maskOf(1)).toBe(0x80000000);
    expect(maskOf(8)).toBe(0xff000000);
    expect(maskOf(24)).toBe(0xffffff00);
    expect(maskOf(30)).toBe(0xfffffffc);
    expect(maskOf(32)).toBe(0xffffffff);
  });
});

describe('lab network CIDRs', () => {
  it('parses a network', () => {
    expect(parseLabCidr('10.0.0.0/24')).toEqual({ cidr: { base: ip('10.0.0.0'), bits: 24 } });
    expect(parseLabCidr('10.0.0.0/8')).toEqual({ cidr: { base: ip('10.0.0.0'), bits: 8 } });
    expect(parseLabCidr('192.168.1.4/30')).toEqual({ cidr: { base: ip('192.168.1.4'), bits: 30 } });
  });

  it.each([
    ['10.0.0.0', /not an IPv4 network/],
    ['10.0.0.0/', /not an IPv4 network/],
    ['10.0.0.0/024', /not an IPv4 network/],
    ['10.0.0.0/33', /not an IPv4 network/],
    ['10.0.0.0/24/1', /not an IPv4 network/],
    ['10.0.0/24', /not an IPv4 network/],
    ['10.0.0.0/7', /prefix of \/8 to \/30/],
    ['10.0.0.0/31', /prefix of \/8 to \/30/],
    ['10.0.0.0/32', /prefix of \/8 to \/30/],
    ['10.50.0.77/24', /host bits set; the network is 10\.50\.0\.0\/24/],
    ['10.0.0.1/30', /host bits set; the network is 10\.0\.0\.0\/30/],
    ['10.128.0.0/8', /host bits set; the network is 10\.0\.0\.0\/8/],
  ])('refuses %s', (text, message) => {
    const parsed = parseLabCidr(text);
    expect('error' in parsed && parsed.error).toMatch(message);
  });

  it('finds the network and broadcast addresses', () => {
    expect(formatIpv4(networkAddress(cidr('10.1.2.0/24')))).toBe('10.1.2.0');
    expect(formatIpv4(broadcastAddress(cidr('10.1.2.0/24')))).toBe('10.1.2.255');
    expect(formatIpv4(broadcastAddress(cidr('10.0.0.0/8')))).toBe('10.255.255.255');
    expect(formatIpv4(broadcastAddress(cidr('192.168.1.4/30')))).toBe('192.168.1.7');
    expect(formatCidr({ base: ip('10.1.2.3'), bits: 24 })).toBe('10.1.2.0/24');
  });

  it('knows which addresses a network contains', () => {
    const lan = cidr('10.1.2.0/24');
    expect(contains(lan, ip('10.1.2.0'))).toBe(true);
    expect(contains(lan, ip('10.1.2.255'))).toBe(true);
    expect(contains(lan, ip('10.1.3.0'))).toBe(false);
    expect(contains(lan, ip('10.1.1.255'))).toBe(false);
    expect(contains(cidr('128.0.0.0/8'), ip('128.255.0.1'))).toBe(true);
    expect(contains(cidr('128.0.0.0/8'), ip('129.0.0.1'))).toBe(false);
  });

  it('says why an address cannot be a host', () => {
    const lan = cidr('10.1.2.0/24');
    expect(hostAddressProblem(lan, ip('10.1.2.1'))).toBeUndefined();
    expect(hostAddressProblem(lan, ip('10.1.2.254'))).toBeUndefined();
    expect(hostAddressProblem(lan, ip('10.1.2.0'))).toBe('is the network address of');
    expect(hostAddressProblem(lan, ip('10.1.2.255'))).toBe('is the broadcast address of');
    expect(hostAddressProblem(lan, ip('10.1.3.1'))).toBe('is outside');
    const tiny = cidr('192.168.1.4/30');
    expect(hostAddressProblem(tiny, ip('192.168.1.5'))).toBeUndefined();
    expect(hostAddressProblem(tiny, ip('192.168.1.6'))).toBeUndefined();
    expect(hostAddressProblem(tiny, ip('192.168.1.7'))).toBe('is the broadcast address of');
    expect(hostAddressProblem(tiny, ip('192.168.1.8'))).toBe('is outside');
  });

  it('detects overlaps both ways, and only real ones', () => {
    expect(overlaps(cidr('10.0.0.0/8'), cidr('10.50.0.0/24'))).toBe(true);
    expect(overlaps(cidr('10.50.0.0/24'), cidr('10.0.0.0/8'))).toBe(true);
    expect(overlaps(cidr('10.50.0.0/24'), cidr('10.50.0.0/24'))).toBe(true);
    expect(overlaps(cidr('10.50.0.0/24'), cidr('10.50.1.0/24'))).toBe(false);
    expect(overlaps(cidr('10.50.0.0/23'), cidr('10.50.1.0/24'))).toBe(true);
    expect(overlaps(cidr('10.50.2.0/23'), cidr('10.50.1.0/24'))).toBe(false);
    expect(overlaps(cidr('11.0.0.0/8'), cidr('10.0.0.0/8'))).toBe(false);
  });

  it('names the reserved blocks a network touches', () => {
    expect(reservedBlock(cidr('10.0.0.0/8'))).toBeUndefined();
    expect(reservedBlock(cidr('172.16.0.0/12'))).toBeUndefined();
    expect(reservedBlock(cidr('192.168.0.0/16'))).toBeUndefined();
    expect(reservedBlock(cidr('1.0.0.0/8'))).toBeUndefined();
    expect(reservedBlock(cidr('126.0.0.0/8'))).toBeUndefined();
    expect(reservedBlock(cidr('128.0.0.0/8'))).toBeUndefined();
    expect(reservedBlock(cidr('169.253.0.0/16'))).toBeUndefined();
    expect(reservedBlock(cidr('169.255.0.0/16'))).toBeUndefined();
    expect(reservedBlock(cidr('223.255.255.0/24'))).toBeUndefined();
    expect(reservedBlock(cidr('0.0.0.0/8'))).toMatch(/this network/);
    expect(reservedBlock(cidr('127.0.0.0/8'))).toMatch(/loopback/);
    expect(reservedBlock(cidr('127.1.2.0/24'))).toMatch(/loopback/);
    expect(reservedBlock(cidr('169.254.169.0/24'))).toMatch(/link-local/);
    expect(reservedBlock(cidr('224.0.0.0/8'))).toMatch(/multicast/);
    expect(reservedBlock(cidr('239.255.0.0/16'))).toMatch(/multicast/);
    expect(reservedBlock(cidr('240.0.0.0/8'))).toMatch(/reserved/);
    expect(reservedBlock(cidr('255.255.255.0/24'))).toMatch(/reserved/);
    // A wide network that contains a reserved block overlaps it too.
    expect(reservedBlock({ base: ip('96.0.0.0'), bits: 3 })).toMatch(/loopback/);
  });
});

describe('host networks', () => {
  it('parses /proc/net/route, skipping the default route and the header', () => {
    const text = [
      'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
      'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
      'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
      'tun0\t0000000A\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0',
      'bad\tzz\t00000000\t0001\t0\t0\t0\tzz\t0\t0\t0',
      'odd\t0000000A\t00000000\t0001\t0\t0\t0\t00FF00FF\t0\t0\t0',
      '',
    ].join('\n');
    expect(parseProcRoutes(text).map((r) => `${r.iface} ${formatCidr(r.cidr)}`)).toEqual(['eth0 192.0.2.0/24', 'tun0 10.0.0.0/8']);
  });

  it('takes interface networks and routes, skipping loopback, IPv6, lab devices and duplicates', () => {
    const entry = (address: string, cidr: string, extra: object = {}) => ({
      address,
      cidr,
      netmask: '',
      mac: '00:00:00:00:00:00',
      family: 'IPv4' as const,
      internal: false,
      ...extra,
    });
    const interfaces = {
      lo: [entry('127.0.0.1', '127.0.0.1/8', { internal: true })],
      eth0: [entry('192.0.2.2', '192.0.2.2/24'), { ...entry('fe80::1', 'fe80::1/64'), family: 'IPv6' as const, scopeid: 0 }],
      eth1: [entry('172.16.5.9', '172.16.5.9/12'), entry('10.9.9.9', '10.9.9.9/24', { cidr: null })],
      ctpb12345678: [entry('10.0.0.1', '10.0.0.1/24')],
    };
    const routes = [
      'Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT',
      'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
      'ctpbabcdef01\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
      'tun0\t0000A8C0\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
    ].join('\n');
    expect(hostNetworks(interfaces, routes).map(formatCidr)).toEqual(['192.0.2.0/24', '172.16.0.0/12', '192.168.0.0/16']);
    expect(hostNetworks({}, '')).toEqual([]);
  });

  it("finds every IPv4 network of this host's interfaces", () => {
    const found = hostNetworks().map(formatCidr);
    const expected = Object.entries(networkInterfaces())
      .filter(([iface]) => !iface.startsWith('ctp'))
      .flatMap(([, addresses]) => addresses ?? [])
      .filter((a) => a && a.family === 'IPv4' && !a.internal)
      .map((a) => {
        const [address, bits] = a!.cidr!.split('/');
        return formatCidr({ base: ip(address!), bits: Number(bits) });
      });
    expect(expected.length).toBeGreaterThan(0);
    for (const network of expected) expect(found).toContain(network);
    expect(found).not.toContain('127.0.0.0/8');
    // Lab bridges (any installation's, with or without a host address) are not the host's networks.
    const labDevices = Object.entries(networkInterfaces()).filter(([iface]) => iface.startsWith('ctp'));
    for (const [, addresses] of labDevices)
      for (const a of addresses ?? [])
        if (a.family === 'IPv4') expect(found).not.toContain(formatCidr({ base: ip(a.address), bits: Number(a.cidr!.split('/')[1]) }));
    expect(new Set(found).size).toBe(found.length);
  });
});
