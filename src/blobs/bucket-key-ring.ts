// The bucket keys of encryption at rest (issue 20), as the server uses them:
// created on a bucket's first sealed write, stored wrapped in
// storage.bucket_keys (migration 0031; only the service role reads that
// table), unwrapped once and cached. A cache only: a key never changes once
// written (a new key would be a new generation), so a cached key is never
// stale, and a process without it reads the row again.
import { LRUCache } from 'lru-cache';
import type { Sql } from '../db/connect.ts';
import { readAs, SERVICE } from '../db/session.ts';
import type { MasterKey } from '../principals/master-key.ts';
import { blobEncryptionRoot, newBucketKey, unwrapBucketKey, wrapBucketKey, type BucketKey } from './blob-keys.ts';
import type { BucketKeySource } from './store.ts';

/**
 * The master-key version keys are wrapped under. There is one master key
 * until key rotation lands (issue 20 §5); the column records it so that a
 * rotation can tell what is still wrapped under the old one.
 */
const MASTER_KEY_VERSION = 1;
/** Each bucket's current key is its first: replacing a bucket key is not needed for master-key rotation (blob-keys.ts). */
const CURRENT_GENERATION = 1;

interface KeyRow {
  wrapped: Buffer;
  master_version: number;
}

export class BucketKeyRing implements BucketKeySource {
  private readonly root: Buffer;
  private readonly cache = new LRUCache<string, BucketKey>({ max: 10_000 });

  constructor(
    private readonly sql: Sql,
    master: MasterKey,
  ) {
    this.root = blobEncryptionRoot(master);
  }

  async keyOf(bucketId: string, generation: number): Promise<BucketKey | undefined> {
    const cacheKey = `${bucketId}/${generation}`;
    const cached = this.cache.get(cacheKey);
    if (cached) return cached;
    const [row] = await readAs(this.sql, SERVICE, (tx) => tx<KeyRow[]>`
      select wrapped, master_version from storage.bucket_keys where bucket_id = ${bucketId} and generation = ${generation}`);
    if (!row) return undefined;
    if (row.master_version !== MASTER_KEY_VERSION) throw new Error(`bucket ${bucketId}'s key is wrapped under master-key version ${row.master_version}, which this server does not hold`);
    const key = unwrapBucketKey(this.root, { bucketId, generation, masterKeyVersion: row.master_version, wrapped: row.wrapped });
    this.cache.set(cacheKey, key);
    return key;
  }

  /**
   * The key new blobs of the bucket are sealed under, created on first use.
   * Race-safe across processes: two first writers each insert a key, the
   * primary key keeps one (on conflict do nothing), and both read back the
   * one that was kept.
   */
  async sealingKey(bucketId: string): Promise<BucketKey> {
    const known = await this.keyOf(bucketId, CURRENT_GENERATION);
    if (known) return known;
    const wrapped = wrapBucketKey(this.root, MASTER_KEY_VERSION, newBucketKey(bucketId, CURRENT_GENERATION));
    await readAs(this.sql, SERVICE, (tx) => tx`
      insert into storage.bucket_keys (bucket_id, generation, wrapped, master_version)
      values (${bucketId}, ${CURRENT_GENERATION}, ${wrapped.wrapped}, ${MASTER_KEY_VERSION})
      on conflict (bucket_id, generation) do nothing`);
    const key = await this.keyOf(bucketId, CURRENT_GENERATION);
    if (!key) throw new Error(`bucket ${bucketId} has no key after creating one (deleted meanwhile?)`);
    return key;
  }
}
