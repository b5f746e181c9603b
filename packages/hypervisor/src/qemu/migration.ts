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

const QUIT = 'QEMU quit while loading the saved state (damaged or incompatible)';

/**
 * Loads a saved state into a QEMU waiting with `-incoming defer` and waits until the guest runs
 * again, on one QMP connection: the capability the state was saved with first (a stream without
 * RAM reads differently), then the file. A state saved from a running guest resumes by itself
 * (QEMU's RESUME event, watched without a round trip); QEMU's status is asked only now and then
 * (when a class starts, many restores share the host's cores), and a state that ends paused is
 * continued. Throws when QEMU exits instead (a damaged or incompatible state: QEMU refuses it
 * and quits). With `ramInFile`, the capability is turned off again once loaded: later snapshots
 * of the VM are ordinary streams.
 */
export async function restoreFromFile(
  client: QmpClient,
  file: string,
  options: { ramInFile: boolean; alive: () => boolean; timeoutMs?: number },
): Promise<void> {
  if (/['\n]/.test(file)) throw new HypervisorError('invalid', `unsafe path for a saved state: ${file}`);
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const guard = async <T>(work: Promise<T>): Promise<T> => {
    try {
      return await work;
    } catch (error) {
      // QEMU closing the connection mid-load means it gave up.
      if (error instanceof HypervisorError && error.message.includes('connection closed'))
        throw new HypervisorError('command_failed', QUIT);
      throw error;
    }
  };
  if (options.ramInFile) await guard(setIgnoreShared(client, true));
  await guard(client.execute('migrate-incoming', { uri: `exec:cat '${file}'` }));
  let askAt = Date.now() + 50;
  for (;;) {
    if (!options.alive()) throw new HypervisorError('command_failed', QUIT);
    if (client.receivedEvents().some((e) => e.event === 'RESUME')) break;
    if (Date.now() >= askAt) {
      const { status } = await guard(client.execute<{ status: string }>('query-status'));
      if (status === 'running') break;
      if (status === 'paused' || status === 'postmigrate') {
        await guard(client.execute('cont'));
        break;
      }
      if (status !== 'inmigrate' && status !== 'prelaunch' && status !== 'restore-vm')
        throw new HypervisorError('command_failed', `the VM is ${status} after loading its saved state`);
      askAt = Date.now() + 100;
    }
    if (Date.now() > deadline)
      throw new HypervisorError('timeout', `loading the saved state took longer than ${options.timeoutMs ?? 60_000} ms`);
    await sleep(10);
  }
  if (options.ramInFile) await guard(setIgnoreShared(client, false));
}
