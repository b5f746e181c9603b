import net from 'node:net';
import type { Command } from 'commander';
import { createBackup, loadConfig, restoreBackup, type Config } from '@ctp/server/cli';
import { ApiClient } from '../api-client.js';
import { CliError, EXIT } from '../errors.js';
import { emit } from '../output.js';

/** Whether something listens on the server's PORT on this machine (the platform runs). */
function serverListening(config: Config): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port: config.port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** `ctp backup FILE` and `ctp restore FILE`, with the server's environment (CTP_DATA_DIR, DATABASE_URL, PORT). */
export function registerOperations(program: Command): void {
  program
    .command('backup')
    .description('back up the database, JWT secret and image list (optionally the images) into FILE, while the platform runs or not')
    .argument('<file>', 'the backup file to write (tar.gz)')
    .option('--with-images', 'include the base image files')
    .action(async (file: string, options: { withImages?: boolean }) => {
      const config = loadConfig(process.env);
      const running = !config.databaseUrl && (await serverListening(config));
      // A running PGlite database belongs to the server process: it dumps it itself.
      const pgliteDump = running
        ? async () => Buffer.from(await (await ApiClient.fromStore().request('GET', '/api/v1/system/database-dump')).arrayBuffer())
        : undefined;
      const manifest = await createBackup(config, file, { withImages: options.withImages, pgliteDump });
      emit(
        { file, ...manifest },
        () => `backup of the ${manifest.engine} database written to ${file}${manifest.withImages ? ' (with images)' : ''}`,
      );
    });

  program
    .command('restore')
    .description('restore FILE into this installation; the platform must be stopped')
    .argument('<file>', 'a file written by ctp backup')
    .option('--replace', 'PGlite: replace a non-empty database (the old one is kept beside it)')
    .action(async (file: string, options: { replace?: boolean }) => {
      const config = loadConfig(process.env);
      if (await serverListening(config))
        throw new CliError(EXIT.conflict, `something listens on port ${config.port}: stop the platform first (systemctl stop ctp)`);
      const manifest = await restoreBackup(config, file, { replace: options.replace });
      emit(
        { file, restored: true, ...manifest },
        () => `restored the ${manifest.engine} database from ${file} (backup of ${manifest.createdAt})`,
      );
    });
}
