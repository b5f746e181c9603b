import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEBIAN_PAIR_TEMPLATE } from '../services/template.service.js';
import { cloudInitSeed, generatePassword, macFor } from './guest-config.js';

describe('guest configuration (cloud-init NoCloud seed)', () => {
  const config = {
    ...DEBIAN_PAIR_TEMPLATE,
    networks: [
      { name: 'lan', cidr: '10.0.1.0/24', gateway: '10.0.1.1', dns: ['10.0.1.1'] },
      { name: 'dmz', cidr: '10.0.2.0/24' },
    ],
  };
  const seed = cloudInitSeed({
    instanceId: 'l1234-attacker',
    hostname: 'attacker',
    credentials: { username: 'debian', password: 'pw-from-the-lab' },
    sshKeys: ['ssh-ed25519 AAAAC3Nza teacher@example'],
    nics: [
      { network: 'lan', address: '10.0.1.10', mac: '52:54:00:aa:bb:01' },
      { network: 'dmz', address: null, mac: '52:54:00:aa:bb:02' },
    ],
    config,
  });

  it('names the host and instance', () => {
    expect(parse(seed.metaData)).toEqual({ 'instance-id': 'l1234-attacker', 'local-hostname': 'attacker' });
  });

  it('creates the login with the generated password and the template keys', () => {
    expect(seed.userData.startsWith('#cloud-config\n')).toBe(true);
    const user = parse(seed.userData).users[0];
    expect(user).toMatchObject({
      name: 'debian',
      plain_text_passwd: 'pw-from-the-lab',
      lock_passwd: false,
      ssh_authorized_keys: ['ssh-ed25519 AAAAC3Nza teacher@example'],
    });
  });

  it('gives each NIC, matched by MAC, its template address, route and DNS, or DHCP without an address', () => {
    expect(parse(seed.networkConfig!)).toEqual({
      version: 2,
      ethernets: {
        nic0: {
          match: { macaddress: '52:54:00:aa:bb:01' },
          'set-name': 'eth0',
          addresses: ['10.0.1.10/24'],
          routes: [{ to: '0.0.0.0/0', via: '10.0.1.1' }],
          nameservers: { addresses: ['10.0.1.1'] },
        },
        nic1: { match: { macaddress: '52:54:00:aa:bb:02' }, 'set-name': 'eth1', dhcp4: true },
      },
    });
  });

  it('makes stable MACs per VM and NIC, and fresh passwords', () => {
    expect(macFor('l1-attacker', 0)).toBe(macFor('l1-attacker', 0));
    expect(macFor('l1-attacker', 0)).not.toBe(macFor('l1-attacker', 1));
    expect(macFor('l1-attacker', 0)).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
    expect(generatePassword()).toMatch(/^[a-zA-Z2-9]{14}$/);
    expect(generatePassword()).not.toBe(generatePassword());
  });
});
