import type { Database } from '../db/database.js';
import { conflict } from '../errors.js';
import { authorize, type Actor } from '../policy/policy.js';

/** The live database dump `ctp backup` takes from a running PGlite installation (admins only). */
export class BackupService {
  constructor(private readonly database: Database) {}

  /** PGlite's data files as a gzipped tarball, consistent (taken between queries of this process). */
  async pgliteDump(actor: Actor): Promise<Buffer> {
    authorize(actor, 'system.backup');
    // A server database is dumped with pg_dump, which runs beside the platform: no API needed.
    if (!this.database.pglite) throw conflict('The database is a PostgreSQL server: back it up with pg_dump (ctp backup does)');
    return Buffer.from(await (await this.database.pglite.dumpDataDir('gzip')).arrayBuffer());
  }
}
