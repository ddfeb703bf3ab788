// What the domain core needs from the outside world: the database pool, the
// blob backend, a logger and the configured limits. Built once in main.ts and
// handed to both protocol front ends.
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { BlobStore } from '../blobs/store.ts';
import type { Sql } from '../db/connect.ts';
import type { BucketPolicy } from './acl.ts';
import type { CorsRule } from './cors.ts';

export interface BucketRow {
  id: string;
  name: string;
  owner_id: string | null;
  region: string;
  policy: BucketPolicy;
  /** CORS rules (S3 PutBucketCors); null when none are configured. */
  cors: CorsRule[] | null;
  created_at: Date;
}

export interface Storage {
  sql: Sql;
  blobs: BlobStore;
  log: Logger;
  region: string;
  maxObjectSize: number;
  /**
   * name → bucket row. A cache only: a stale entry for a deleted bucket makes
   * the foreign key on objects fail, which invalidates it (see withBucket).
   */
  bucketCache: LRUCache<string, BucketRow>;
  /** Work started after a response (blob collection); shutdown waits for it. */
  background: Set<Promise<unknown>>;
}

export function createStorage(parts: Omit<Storage, 'bucketCache' | 'background'>): Storage {
  return { ...parts, bucketCache: new LRUCache({ max: 10_000, ttl: 60_000 }), background: new Set() };
}
