import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { AppError } from '../errors.js';
import { formatCidr, hostNetworks } from './cidr.js';
import { createImageCatalog } from './image-catalog.js';
import { TemplateService } from './template.service.js';
import { validateTemplate } from './template-validation.js';

const imagesDir = mkdtempSync(path.join(tmpdir(), 'ctp-images-'));
mkdirSync(imagesDir, { recursive: true });
for (const file of ['vmlinux', 'attacker.initrd', 'target.initrd']) writeFileSync(path.join(imagesDir, file), '');
// The real catalog and the real host networks, as the server wires them.
const builtins = createImageCatalog(imagesDir);
const service = new TemplateService(null as never, {
  names: async () => builtins.list().map((b) => b.name),
  resolve: async (name) => builtins.get(name),
});

type Config = {
  version: 1;
  title: string;
  networks: { name: string; cidr: string }[];
  vms: { name: string; image: string; nics: { network: string; address?: string }[]; settings?: Record<string, string> }[];
};
const base = (): Config => ({
  version: 1,
  title: 'Rules',
  networks: [
    { name: 'lan', cidr: '10.50.0.0/24' },
    { name: 'dmz', cidr: '10.60.0.0/24' },
  ],
  vms: [
    { name: 'attacker', image: 'demo-attacker', nics: [{ network: 'lan', address: '10.50.0.10' }] },
    { name: 'target', image: 'demo-target', nics: [{ network: 'dmz', address: '10.60.0.20' }] },
  ],
});

/** Validates the config as YAML text and returns the problems (none if it passed). */
async function problemsOf(config: Config): Promise<{ field: string; message: string; line?: number }[]> {
  try {
    await service.validate(stringify(config));
    return [];
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    return error.details as { field: string; message: string; line?: number }[];
  }
}

/** The 1-based line of the first occurrence of `text` in the YAML of `config`. */
const lineOf = (config: Config, text: string) =>
  stringify(config)
    .split('\n')
    .findIndex((l) => l.includes(text)) + 1;

describe('template validation rules', () => {
  it('accepts the base template', async () => {
    expect(await problemsOf(base())).toEqual([]);
  });

  for (const image of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
    it(`refuses the image name "${image}" (a JavaScript object key)`, async () => {
      const config = base();
      config.vms[1]!.image = image;
      expect(await problemsOf(config)).toEqual([
        { field: 'vms[1].image', message: `unknown image "${image}"`, line: lineOf(config, `image: ${image}`) },
      ]);
      expect(createImageCatalog(imagesDir).get(image)).toBeUndefined();
    });
  }

  const badCidrs: [string, RegExp][] = [
    ['127.0.0.0/8', /loopback/],
    ['0.0.0.0/8', /this network/],
    ['224.0.0.0/8', /multicast/],
    ['239.1.0.0/16', /multicast/],
    ['240.0.0.0/8', /reserved/],
    ['169.254.169.0/24', /link-local/],
    ['10.50.0.77/24', /host bits set; the network is 10\.50\.0\.0\/24/],
    ['10.0.0.0/31', /prefix of \/8 to \/30/],
    ['10.0.0.0/4', /prefix of \/8 to \/30/],
    ['010.0.0.0/24', /not an IPv4 network/],
    ['300.0.0.0/24', /not an IPv4 network/],
  ];
  for (const [cidr, message] of badCidrs) {
    it(`refuses the network ${cidr} naming the field and line`, async () => {
      const config = base();
      config.networks[1]!.cidr = cidr;
      config.vms[1]!.nics = [];
      const problems = await problemsOf(config);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatchObject({ field: 'networks[1].cidr', line: lineOf(config, `cidr: ${cidr}`) });
      expect(problems[0]!.message).toMatch(message);
    });
  }

  it("refuses the host's own networks", async () => {
    const own = hostNetworks().filter((n) => n.bits >= 8 && n.bits <= 30);
    expect(own.length).toBeGreaterThan(0);
    const config = base();
    config.networks[1]!.cidr = formatCidr(own[0]!);
    config.vms[1]!.nics = [];
    const problems = await problemsOf(config);
    expect(problems).toEqual([
      expect.objectContaining({ field: 'networks[1].cidr', line: lineOf(config, `cidr: ${formatCidr(own[0]!)}`) }),
    ]);
    expect(problems[0]!.message).toMatch(/host's own network/);
  });

  it('refuses a network given by injected host networks too', async () => {
    expect(() => validateTemplate(base(), () => true, [{ base: (10 << 24) >>> 0, bits: 8 }])).toThrow(/host's own network/);
  });

  it('refuses duplicate and overlapping networks', async () => {
    const config = base();
    config.networks.push({ name: 'copy', cidr: '10.50.0.0/24' }, { name: 'wide', cidr: '10.0.0.0/8' });
    const problems = await problemsOf(config);
    expect(problems.map((p) => p.field)).toEqual(['networks[2].cidr', 'networks[3].cidr']);
    expect(problems[0]!.message).toMatch(/overlaps network "lan"/);
    expect(problems[0]!.line).toBe(lineOf(config, 'name: copy') + 1);
  });

  const badAddresses: [string, RegExp][] = [
    ['10.50.0.0', /network address of network "lan"/],
    ['10.50.0.255', /broadcast address of network "lan"/],
    ['10.51.0.1', /outside network "lan"/],
  ];
  for (const [address, message] of badAddresses) {
    it(`refuses the NIC address ${address}`, async () => {
      const config = base();
      config.vms[0]!.nics[0]!.address = address;
      const problems = await problemsOf(config);
      expect(problems).toEqual([expect.objectContaining({ field: 'vms[0].nics[0].address', line: lineOf(config, `address: ${address}`) })]);
      expect(problems[0]!.message).toMatch(message);
    });
  }

  it('refuses two NICs of one VM on the same network', async () => {
    const config = base();
    config.vms[0]!.nics.push({ network: 'lan', address: '10.50.0.11' });
    const problems = await problemsOf(config);
    expect(problems).toEqual([expect.objectContaining({ field: 'vms[0].nics[1].network' })]);
    expect(problems[0]!.message).toMatch(/already has a NIC on network "lan"/);
    expect(problems[0]!.line).toBe(lineOf(config, 'address: 10.50.0.11') - 1);
  });

  const badSettings: [Record<string, string>, string][] = [
    [{ 'x ctp.injected': '1' }, 'vms[0].settings.x ctp.injected'],
    [{ 'y\nctp.newline': '1' }, 'vms[0].settings.y\nctp.newline'],
    [{ Upper: '1' }, 'vms[0].settings.Upper'],
    [{ ok: 'a b' }, 'vms[0].settings.ok'],
    [{ ok: 'a"b' }, 'vms[0].settings.ok'],
    [{ ok: 'a\\b' }, 'vms[0].settings.ok'],
    [{ ok: 'a\u0000b' }, 'vms[0].settings.ok'],
    [{ ok: 'x'.repeat(129) }, 'vms[0].settings.ok'],
  ];
  for (const [settings, field] of badSettings) {
    it(`refuses the settings ${JSON.stringify(settings)} as JSON and as YAML`, async () => {
      const config = base();
      config.vms[0]!.settings = settings;
      const problems = await problemsOf(config);
      expect(problems.map((p) => p.field)).toContain(field);
      expect(problems.every((p) => typeof p.line === 'number')).toBe(true);
      expect(() => validateTemplate(config, () => true, [])).toThrow(AppError);
    });
  }

  it('accepts plain settings', async () => {
    const config = base();
    config.vms[0]!.settings = { motd: 'hello', port: '4444', url: 'http://10.50.0.10/x?a=1', flag: 'CTF{x_1}' };
    expect(await problemsOf(config)).toEqual([]);
  });
});
