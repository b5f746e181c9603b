import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseListVms } from './list-vms.parser.js';
import { parseMachineReadable } from './machine-readable.parser.js';
import { parseSnapshotList } from './snapshot-list.parser.js';
import { adapterFor } from './vbox-cli.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('VBoxManage output parsers', () => {
  it('reads showvminfo --machinereadable of 6.1 (powered off) and 7.0 (running)', () => {
    const off = parseMachineReadable(fixture('showvminfo-6.1-poweroff.txt'));
    expect(off.get('VMState')).toBe('poweroff');
    expect(off.get('memory')).toBe('1024');
    expect(off.get('nic1')).toBe('intnet');
    expect(off.get('intnet1')).toBe('ctp-3f9a1c2e7b');
    expect(off.get('uartmode1')).toBe('server,/var/lib/ctp/vbox/lab1-attacker.serial');
    expect(off.get('SATA Controller-0-0')).toContain('.vmdk');
    expect(off.get('vrdeproperty[TCP/Ports]')).toBe('5947');
    const on = parseMachineReadable(fixture('showvminfo-7.0-running.txt'));
    expect(on.get('VMState')).toBe('running');
    expect(on.get('cpus')).toBe('2');
    // A value followed by more text after its closing quote.
    expect(on.get('VideoMode')).toBe('1024,768,32');
    expect(on.get('intnet2')).toBe('ctp-8e0d44a1c9');
    expect(on.get('vrdeport')).toBe('5951');
  });

  it('reads list vms, names with spaces included', () => {
    expect(parseListVms(fixture('list-vms.txt'))).toEqual([
      { name: 'ubuntu-18.04-amd64_1549746024485_35372', uuid: '6294f16b-4f05-4430-afb9-773bdb237aec' },
      { name: 'ctpbase-5d41402abc', uuid: '0b7a1d3e-2c4f-4e6a-8b9c-1d2e3f4a5b6c' },
      { name: 'lab1-attacker', uuid: '3c9e1a7b-5d2f-4b8e-a6c0-7e9f1b3d5a2c' },
      { name: 'name with spaces', uuid: '7d2a4c6e-8f0b-4d1e-9a3c-5e7f9b1d3a5c' },
    ]);
    expect(parseListVms('')).toEqual([]);
  });

  it('reads the snapshot tree, escapes and multi-line descriptions included', () => {
    expect(parseSnapshotList(fixture('snapshot-list.txt'))).toEqual([
      { name: 'initial', uuid: 'a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d', description: 'ctp:memory=0', depth: 0, current: false },
      { name: 'before-exploit', uuid: 'd4c3b2a1-f5e4-4b6a-8d7c-4c3b2a1f0e9d', description: 'ctp:memory=1', depth: 1, current: true },
      {
        name: 'after "quoted" step',
        uuid: 'e5d4c3b2-a1f0-4e9d-8c7b-6a5f4e3d2c1b',
        description: 'multi-line\ndescription',
        depth: 2,
        current: false,
      },
    ]);
    expect(parseSnapshotList(fixture('no-snapshots.txt'))).toEqual([]);
  });

  it('dispatches on the VBoxManage version like Vagrant does', () => {
    expect(adapterFor('6.1.50r161033\n')).toMatchObject({ version: '6.1.50', adapter: { series: '6.1' } });
    expect(adapterFor('7.0.14r161095')).toMatchObject({ version: '7.0.14', adapter: { series: '7' } });
    expect(adapterFor('7.1.4r165100').adapter.uartMode(1)).toBe('--uart-mode1');
    expect(adapterFor('6.1.50r161033').adapter.uartMode(1)).toBe('--uartmode1');
    expect(() => adapterFor('5.2.44r139111')).toThrow(/too old/);
    expect(() => adapterFor('garbage')).toThrow(/unrecognised/);
  });
});
