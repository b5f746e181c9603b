import { execFile } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import type { Config } from '../config.js';

const run = promisify(execFile);

export const BACKUP_FORMAT = 'ctp-backup';
const DATABASE_FILES = { pglite: 'database.pglite.tar.gz', postgres: 'database.pgdump' } as const;

/** What a backup holds, written as `manifest.json` inside it. */
export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  version: 1;
  createdAt: string;
  engine: 'pglite' | 'postgres';
  /** The JWT signing secret from the data directory (absent when CTP_JWT_SECRET is set instead). */
  jwtSecret: boolean;
  /** Base image files: always listed (metadata); their content only with `withImages`. */
  images: { name: string; bytes: number }[];
  withImages: boolean;
}

export type BackupConfig = Pick<Config, 'dataDir' | 'databaseUrl' | 'imagesDir'>;

/** Where PGlite keeps its files inside the data directory (as main.ts opens it). */
export function pgliteDir(config: BackupConfig): string {
  return path.join(config.dataDir, 'pglite');
}

function listImages(dir: string | undefined): { name: string; bytes: number }[] {
  if (!dir || !existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => ({ name: entry.name, bytes: statSync(path.join(dir, entry.name)).size }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** A consistent dump of a stopped installation's PGlite database (a gzipped tarball of its files). */
export async function dumpStoppedPglite(config: BackupConfig): Promise<Buffer> {
  if (!existsSync(pgliteDir(config))) throw new Error(`no PGlite database in ${pgliteDir(config)}`);
  const db = new PGlite(pgliteDir(config));
  try {
    return Buffer.from(await (await db.dumpDataDir('gzip')).arrayBuffer());
  } finally {
    await db.close();
  }
}

/**
 * Writes a backup file: the database (PGlite's files, or `pg_dump --format=custom` of the server,
 * consistent while the platform runs), the JWT secret and the image list, optionally the images.
 * `pgliteDump` gives the database of a running PGlite installation (the server dumps it itself).
 */
export async function createBackup(
  config: BackupConfig,
  file: string,
  options: { withImages?: boolean; pgliteDump?: () => Promise<Buffer> } = {},
): Promise<BackupManifest> {
  const staging = mkdtempSync(path.join(tmpdir(), 'ctp-backup-'));
  try {
    const engine = config.databaseUrl ? 'postgres' : 'pglite';
    if (config.databaseUrl) {
      await run('pg_dump', [
        '--format=custom',
        '--no-owner',
        '--no-privileges',
        `--file=${path.join(staging, DATABASE_FILES.postgres)}`,
        config.databaseUrl,
      ]);
    } else {
      const dump = options.pgliteDump ? await options.pgliteDump() : await dumpStoppedPglite(config);
      writeFileSync(path.join(staging, DATABASE_FILES.pglite), dump);
    }
    const secretFile = path.join(config.dataDir, 'jwt-secret');
    const jwtSecret = existsSync(secretFile);
    if (jwtSecret) copyFileSync(secretFile, path.join(staging, 'jwt-secret'));
    const images = listImages(config.imagesDir);
    if (options.withImages && config.imagesDir && images.length) {
      mkdirSync(path.join(staging, 'images'));
      for (const image of images) copyFileSync(path.join(config.imagesDir, image.name), path.join(staging, 'images', image.name));
    }
    const manifest: BackupManifest = {
      format: BACKUP_FORMAT,
      version: 1,
      createdAt: new Date().toISOString(),
      engine,
      jwtSecret,
      images,
      withImages: Boolean(options.withImages && images.length),
    };
    writeFileSync(path.join(staging, 'manifest.json'), JSON.stringify(manifest, null, 2));
    // Written beside the target, then renamed: a failed backup never leaves a half file under its name.
    const partial = `${path.resolve(file)}.partial`;
    await run('tar', ['-czf', partial, '-C', staging, '.']);
    chmodSync(partial, 0o600);
    renameSync(partial, file);
    return manifest;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Reads the manifest of a backup file without restoring anything. */
export async function readBackup(file: string): Promise<{ manifest: BackupManifest; dir: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ctp-restore-'));
  try {
    await run('tar', ['-xzf', file, '-C', dir]);
    const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as BackupManifest;
    if (manifest.format !== BACKUP_FORMAT || manifest.version !== 1) throw new Error(`${file} is not a ctp backup (version 1)`);
    return { manifest, dir };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error instanceof Error && !/ctp backup/.test(error.message)
      ? new Error(`${file} is not a readable ctp backup: ${error.message}`)
      : error;
  }
}

/**
 * Restores a backup into a stopped installation: the database (PGlite: into an empty data
 * directory; a server: `pg_restore --clean` into DATABASE_URL), the JWT secret and the images.
 * The platform must not run meanwhile (the caller checks).
 */
export async function restoreBackup(config: BackupConfig, file: string, options: { replace?: boolean } = {}): Promise<BackupManifest> {
  const { manifest, dir } = await readBackup(file);
  try {
    const engine = config.databaseUrl ? 'postgres' : 'pglite';
    if (manifest.engine !== engine)
      throw new Error(
        `the backup is of a ${manifest.engine} database, this installation uses ${engine} (${config.databaseUrl ? 'DATABASE_URL is set' : 'DATABASE_URL is not set'})`,
      );
    if (engine === 'postgres') {
      await run('pg_restore', [
        '--clean',
        '--if-exists',
        '--no-owner',
        '--no-privileges',
        '--exit-on-error',
        '--single-transaction',
        `--dbname=${config.databaseUrl}`,
        path.join(dir, DATABASE_FILES.postgres),
      ]);
    } else {
      const target = pgliteDir(config);
      if (existsSync(target) && readdirSync(target).length > 0) {
        if (!options.replace)
          throw new Error(
            `${target} is not empty: restore into an empty data directory, or pass --replace (the old one is kept beside it)`,
          );
        renameSync(target, `${target}.before-restore-${Date.now()}`);
      }
      mkdirSync(target, { recursive: true });
      const db = new PGlite(target, { loadDataDir: new Blob([readFileSync(path.join(dir, DATABASE_FILES.pglite))]) });
      await db.waitReady;
      await db.query('select 1');
      await db.close();
    }
    if (manifest.jwtSecret) {
      mkdirSync(config.dataDir, { recursive: true });
      copyFileSync(path.join(dir, 'jwt-secret'), path.join(config.dataDir, 'jwt-secret'));
      chmodSync(path.join(config.dataDir, 'jwt-secret'), 0o600);
    }
    if (manifest.withImages && config.imagesDir) {
      mkdirSync(config.imagesDir, { recursive: true });
      cpSync(path.join(dir, 'images'), config.imagesDir, { recursive: true });
    }
    return manifest;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
