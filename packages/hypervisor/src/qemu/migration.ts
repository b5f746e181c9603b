import { HypervisorError } from '../errors.js';
import type { QmpClient } from './qmp.client.js';

/** Bandwidth for saving to a local file: QEMU's default (128 MiB/s) is meant for networks. */
const SAVE_BANDWIDTH_BYTES = 8 * 1024 ** 3;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Turns QEMU's `x-ignore-shared` migration capability on or off: RAM in a shared file is left out of the stream (the file is the RAM image). */
export async function setIgnoreShared(client: QmpClient, on: boolean): Promise<void> {
  await client.execute('migrate-set-capabilities', { capabilities: [{ capability: 'x-ignore-shared', state: on }] });
}

/**
 * Saves a running VM's state (RAM, CPUs, devices) into `file` with QMP `migrate` to `exec:cat`.
 * The guest keeps running while RAM is copied and is paused for the last pages; once saved,
 * QEMU leaves it paused (`postmigrate`) with its disk flushed, so the disk matches the state.
 * With `ramInFile` (guest RAM mapped shared from a file), the RAM stays out of the stream: the
 * file, as the paused guest left it, is the RAM image.
 */
export async function migrateToFile(
  client: QmpClient,
  file: string,
  options: { ramInFile?: boolean; timeoutMs?: number } = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  if (/['\n]/.test(file)) throw new HypervisorError('invalid', `unsafe path for a saved state: ${file}`);
  await client.execute('migrate-set-parameters', { 'max-bandwidth': SAVE_BANDWIDTH_BYTES });
  if (options.ramInFile) await setIgnoreShared(client, true);
  await client.execute('migrate', { uri: `exec:cat > '${file}'` });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await client.execute<{ status?: string; 'error-desc'?: string }>('query-migrate');
    if (info.status === 'completed') return;
    if (info.status === 'failed' || info.status === 'cancelled')
      throw new HypervisorError('command_failed', `saving the VM state failed: ${info['error-desc'] ?? info.status}`);
    if (Date.now() > deadline) {
      await client.execute('migrate_cancel').catch(() => {});
      throw new HypervisorError('timeout', `saving the VM state took longer than ${timeoutMs} ms`);
    }
    await sleep(20);
  }
}

/**
 * Starts loading a saved state into a QEMU waiting with `-incoming defer`: the capability the
 * state was saved with first (a stream without RAM reads differently), then the file.
 */
export async function loadFromFile(client: QmpClient, file: string, ramInFile: boolean): Promise<void> {
  if (/['\n]/.test(file)) throw new HypervisorError('invalid', `unsafe path for a saved state: ${file}`);
  if (ramInFile) await setIgnoreShared(client, true);
  await client.execute('migrate-incoming', { uri: `exec:cat '${file}'` });
}

/**
 * Waits until a QEMU started with `-incoming` has loaded its saved state and runs again. A state
 * saved from a running guest resumes by itself; one that ends paused is continued. Throws when
 * QEMU exits instead (a damaged or incompatible state: QEMU refuses it and quits).
 */
export async function waitForIncoming(connect: () => Promise<QmpClient>, alive: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!alive()) throw new HypervisorError('command_failed', 'QEMU quit while loading the saved state (damaged or incompatible)');
    const client = await connect().catch(() => undefined);
    if (client) {
      try {
        for (;;) {
          const { status } = await client.execute<{ status: string }>('query-status');
          if (status === 'running') return;
          if (status === 'paused' || status === 'postmigrate') {
            await client.execute('cont');
            return;
          }
          if (status !== 'inmigrate' && status !== 'prelaunch' && status !== 'restore-vm')
            throw new HypervisorError('command_failed', `the VM is ${status} after loading its saved state`);
          if (Date.now() > deadline) throw new HypervisorError('timeout', `loading the saved state took longer than ${timeoutMs} ms`);
          await sleep(10);
        }
      } catch (error) {
        // QEMU closing the connection mid-load means it gave up; the loop above reports it.
        if (error instanceof HypervisorError && error.message.includes('connection closed')) continue;
        throw error;
      } finally {
        client.close();
      }
    }
    if (Date.now() > deadline) throw new HypervisorError('timeout', `loading the saved state took longer than ${timeoutMs} ms`);
    await sleep(20);
  }
}
