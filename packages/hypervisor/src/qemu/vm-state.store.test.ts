import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { VmStateStore } from './vm-state.store.js';

describe('QEMU VM state store', () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'ctp-store-'));
  const store = new VmStateStore(stateDir);
  const spec = {
    name: 'box',
    image: { kind: 'disk' as const, path: '/b.qcow2', format: 'qcow2' as const },
    cpus: 1,
    memoryMiB: 64,
    nics: [],
  };
  afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

  it('keeps each VM in its own directory, found again by a new store', () => {
    store.makeDir('box');
    store.write('box', { spec, macs: [] });
    store.makeDir('half-made'); // no spec yet: not a VM
    const again = new VmStateStore(stateDir);
    expect(again.names()).toEqual(['box']);
    expect(again.read('box')).toEqual({ spec, macs: [] });
    expect(again.read('half-made')).toBeUndefined();
    expect(again.paths('box').disk).toBe(path.join(stateDir, 'box', 'disk.qcow2'));
  });

  it('reads the pid of the last run and removes the run files, keeping the spec and log', () => {
    const p = store.paths('box');
    expect(store.pid('box')).toBeUndefined();
    writeFileSync(p.pidFile, '4242\n');
    writeFileSync(p.qmpSocket, '');
    writeFileSync(p.guestAgentSocket, '');
    writeFileSync(p.serialLog, 'old boot');
    expect(store.pid('box')).toBe(4242);
    store.removeRunFiles('box');
    expect(existsSync(p.pidFile) || existsSync(p.qmpSocket) || existsSync(p.guestAgentSocket)).toBe(false);
    expect(readFileSync(p.serialLog, 'utf8')).toBe('old boot');
    store.resetSerialLog('box');
    expect(readFileSync(p.serialLog, 'utf8')).toBe('');
    writeFileSync(p.pidFile, 'garbage');
    expect(store.pid('box')).toBeUndefined();
  });

  it('removes a VM entirely', () => {
    store.remove('box');
    expect(store.exists('box')).toBe(false);
    expect(store.names()).toEqual([]);
  });
});
