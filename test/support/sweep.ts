// One sweep with no grace period, as another process would run it, against a
// test server's database and data directory (src/maintenance/sweeper.ts).
import pino from 'pino';
import { openBlobStore } from '../../src/blobs/store.ts';
import { createServices } from '../../src/core/services.ts';
import { connectPools } from '../../src/db/session.ts';
import { sweep, type SweepReport } from '../../src/maintenance/sweeper.ts';
import { embeddedDatabaseUrl } from './database.ts';
import type { TestServer } from './server.ts';

export async function sweepOnce(srv: TestServer): Promise<SweepReport> {
  const pools = connectPools(await embeddedDatabaseUrl(srv.dataDir), { max: 4 });
  try {
    const storage = createServices({
      sql: pools.sql,
      blobs: openBlobStore(srv.dataDir),
      log: pino({ level: 'silent' }),
      region: 'us-east-1',
      maxObjectSize: 5 * 1024 ** 3,
      bucketCreators: 'authenticated',
      signedUrlMaxExpiry: 7 * 24 * 3600, scanning: false, blockUntilScanned: false,
    });
    return await sweep(storage, { graceMs: 0, expiryDays: 0 });
  } finally {
    await pools.end({ timeout: 1 });
  }
}
