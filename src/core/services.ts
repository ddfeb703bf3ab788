// What the domain core needs from the outside world: the database pool, the
// blob backend, a logger and the configured limits — its services, built
// once in server.ts and handed to every front end. (Named apart from the
// `storage` schema and the /storage/v1 API; variables holding it are still
// called `storage`.)
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { BucketKey } from '../blobs/blob-keys.ts';
import type { BlobStore } from '../blobs/store.ts';
import type { Sql } from '../db/connect.ts';
import type { BucketRow } from './bucket.ts';
import { DownloadLog } from '../events/downloads.ts';

export interface Services {
  sql: Sql;
  blobs: BlobStore;
  log: Logger;
  region: string;
  maxObjectSize: number;
  /** Who may create buckets: any signed-in principal, or only the service role. */
  bucketCreators: 'authenticated' | 'service';
  /** Longest lifetime of anything signed once and used later: /storage/v1 signed URLs, S3 POST policies (AEROSTORE_SIGNED_URL_MAX_EXPIRY, seconds). */
  signedUrlMaxExpiry: number;
  /** A scanner is configured (AEROSTORE_CLAMD): objects pending a verdict get one soon. */
  scanning: boolean;
  /** Reads of objects whose content is not scanned yet are refused (AEROSTORE_BLOCK_UNTIL_SCANNED, with a scanner). */
  blockUntilScanned: boolean;
  /** Objects uploaded without a checksum get S3's default, CRC64NVME (AEROSTORE_DEFAULT_CHECKSUM; on unless false). */
  defaultChecksum?: boolean;
  /**
   * Encryption at rest is on (AEROSTORE_ENCRYPTION): new blobs and parts are
   * sealed under their bucket's key from here. Undefined: written in plaintext.
   */
  sealing?: { sealingKey(bucketId: string): Promise<BucketKey> };
  /**
   * name → bucket row, read as the service role. A cache only: every
   * process drops an entry when any process changes the bucket (NOTIFY on
   * aerostore_buckets, see listenForBucketChanges), and a stale entry for a
   * deleted bucket makes the foreign key on objects fail, which drops it too.
   */
  bucketCache: LRUCache<string, BucketRow>;
  /** Work started after a response (blob collection); shutdown waits for it. */
  background: Set<Promise<unknown>>;
  /** Downloads, buffered for the audit trail and download events (events/downloads.ts); shutdown flushes it. */
  downloads: DownloadLog;
}

export function createServices(parts: Omit<Services, 'bucketCache' | 'background' | 'downloads'>): Services {
  return {
    ...parts,
    bucketCache: new LRUCache({ max: 10_000, ttl: 60_000 }),
    background: new Set(),
    downloads: new DownloadLog(parts.sql, parts.log),
  };
}
