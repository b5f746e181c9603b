import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCommand } from '@ctp/hypervisor';
import { DEFAULT_IMAGES_DIR } from '../src/services/image-catalog.js';

/**
 * The baseline the platform is measured against: the same QEMU work as the demo lab, done
 * directly — a bridge and two taps, two qcow2 scratch overlays, two daemonized QEMU guests with
 * the demo kernel and initramfs — timed to the guests' readiness lines, with no API, database or
 * job queue in between.
 */
export async function baselineLab(
  index: number,
  accel: 'kvm' | 'tcg',
): Promise<{ startedMs: number; readyMs: number; cleanup: () => Promise<void> }> {
  const started = Date.now();
  const dir = mkdtempSync(path.join(tmpdir(), `ctp-baseline-${index}-`));
  const bridge = `ctpxb${index}`;
  await runCommand(['ip', 'link', 'add', bridge, 'type', 'bridge']);
  await runCommand(['ip', 'link', 'set', bridge, 'up']);
  const pids: number[] = [];
  const guests = ['attacker', 'target'].map(async (role, i) => {
    const tap = `ctpxt${index}x${i}`;
    await runCommand(['ip', 'tuntap', 'add', tap, 'mode', 'tap']);
    await runCommand(['ip', 'link', 'set', tap, 'master', bridge, 'up']);
    const disk = path.join(dir, `${role}.qcow2`);
    await runCommand(['qemu-img', 'create', '-q', '-f', 'qcow2', disk, '64M']);
    const serial = path.join(dir, `${role}.serial`);
    const pidfile = path.join(dir, `${role}.pid`);
    await runCommand([
      'qemu-system-x86_64',
      '-accel',
      accel,
      '-m',
      '128',
      '-smp',
      '1',
      '-nodefaults',
      '-display',
      'none',
      '-daemonize',
      '-pidfile',
      pidfile,
      '-kernel',
      path.join(DEFAULT_IMAGES_DIR, 'vmlinuz'),
      '-initrd',
      path.join(DEFAULT_IMAGES_DIR, `${role}.initrd`),
      '-append',
      `console=ttyS0 quiet panic=-1 ctp.hostname=${role} ctp.ip=10.0.0.${10 + i * 10}/24`,
      '-drive',
      `file=${disk},if=virtio,format=qcow2`,
      '-netdev',
      `tap,id=n0,ifname=${tap},script=no,downscript=no`,
      '-device',
      `virtio-net-pci,netdev=n0,mac=52:54:00:bb:${index.toString(16).padStart(2, '0')}:0${i}`,
      '-chardev',
      `socket,id=s0,path=${serial},server=on,wait=off`,
      '-serial',
      'chardev:s0',
    ]);
    pids.push(Number((await runCommand(['cat', pidfile])).stdout.trim()));
    return serial;
  });
  const serials = await Promise.all(guests);
  const startedMs = Date.now() - started;
  await Promise.all(serials.map((serial, i) => waitForLine(serial, `CTP-READY ${i === 0 ? 'attacker' : 'target'}`)));
  const readyMs = Date.now() - started;
  return {
    startedMs,
    readyMs,
    cleanup: async () => {
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await runCommand(['ip', 'link', 'del', bridge]).catch(() => {});
      for (const i of [0, 1]) await runCommand(['ip', 'link', 'del', `ctpxt${index}x${i}`]).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Connects to a serial socket and resolves when `line` appears. */
export function waitForLine(socketPath: string, line: string, timeoutMs = 120_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let seen = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`${line} not seen on ${socketPath} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', (chunk) => {
      seen += chunk.toString();
      if (seen.includes(line)) {
        clearTimeout(timer);
        socket.destroy();
        resolve();
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}
