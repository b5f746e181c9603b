import { describe, expect, it } from 'vitest';
import { DEMO_TEMPLATE } from './template.service.js';
import { guestArgs } from './guest-settings.js';
import { isSecretSetting, kernelSettingArgs } from './guest-settings.js';

const LAB = '5accdb63-8da3-426b-9f00-000000000000';

describe('guest settings on the kernel command line', () => {
  it('carries plain settings as ctp.KEY=VALUE', () => {
    const line = guestArgs(LAB, 'attacker', [{ network: 'lan', address: '10.0.0.10' }], DEMO_TEMPLATE, { motd: 'hello', port: '4444' });
    expect(line.split(' ')).toEqual([
      'ctp.hostname=attacker',
      `ctp.lab=l5accdb638da3426b`,
      'ctp.ip0=10.0.0.10/24',
      'ctp.ip=10.0.0.10/24',
      'ctp.motd=hello',
      'ctp.port=4444',
    ]);
  });

  it('never puts a secret on the command line', () => {
    const settings = {
      flag: 'CTF{top}',
      flag_2: 'CTF{two}',
      admin_password: 'pw1',
      api_token: 'tok',
      secret: 's3',
      ssh_key: 'k',
      motd: 'hi',
    };
    const line = guestArgs(LAB, 'target', [], DEMO_TEMPLATE, settings);
    for (const secret of ['CTF{top}', 'CTF{two}', 'pw1', 'tok', 's3', '=k']) expect(line).not.toContain(secret);
    expect(line).toContain('ctp.motd=hi');
    for (const key of ['flag', 'flag_2', 'admin_password', 'api_token', 'secret', 'ssh_key', 'passwd', 'answer'])
      expect(isSecretSetting(key), key).toBe(true);
    for (const key of ['motd', 'port', 'hostname_suffix', 'keyboard']) expect(isSecretSetting(key), key).toBe(false);
  });

  it.each([
    [{ 'x ctp.injected': '1' }],
    [{ 'y\nctp.newline': '1' }],
    [{ Upper: '1' }],
    [{ ok: 'a b' }],
    [{ ok: 'a"b' }],
    [{ ok: 'a\u0000b' }],
    [{ ok: 'x'.repeat(129) }],
  ])('refuses %j even if it got past validation (an old stored template)', (settings) => {
    expect(() => kernelSettingArgs(settings)).toThrow(/setting/);
  });
});
