// A Services (src/core/services.ts) for unit tests of core functions: the
// server's pools (db/session.ts connectPools: requests as aerostore_anon, a
// service-role pool beside it) on a database of the test file's own
// (shared-postgres.ts), a LocalDiskBlobStore in a temp directory, put
// together by createServices as src/server.ts does it, with a default
// configuration's settings. Beside it, a superuser connection for looking
// at rows as they are, past row-level security.
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import pino from 'pino';
import postgres from 'postgres';
import { LocalDiskBlobStore } from '../../src/blobs/store.ts';
import { loadConfig } from '../../src/config.ts';
import type { BucketPolicy, BucketRow } from '../../src/core/bucket.ts';
import { createBucket, listenForBucketChanges, type BucketSettings } from '../../src/core/buckets.ts';
import { DomainError } from '../../src/core/errors.ts';
import { createServices, type Services } from '../../src/core/services.ts';
import { connectPools } from '../../src/db/session.ts';
import type { Principal } from '../../src/principals/principal.ts';
import { openTestDatabase } from './shared-postgres.ts';

export interface TestStorage {
  storage: Services;
  /** Superuser on the same database: rows as they are, whatever RLS would show. */
  admin: postgres.Sql;
  /** The file's database, as its superuser. */
  databaseUrl: string;
  dataDir: string;
  /** A bucket of `owner`'s with a name not used before in this database. */
  newBucket(owner: Principal, policy?: BucketPolicy, settings?: Omit<BucketSettings, 'policy'>): Promise<BucketRow>;
  /** The bucket's blob rows as they are: sha256 → ref_count. */
  blobCounts(bucket: BucketRow): Promise<Record<string, number>>;
  /** Waits for the work a request leaves behind (blob collection: Services.background). */
  settle(): Promise<void>;
  /** The bodies being staged (BlobStore.listTempFiles): none once every write has ended. */
  stagedFiles(): Promise<string[]>;
  close(): Promise<void>;
}

export type StorageSettings = Partial<Pick<Services, 'region' | 'maxObjectSize' | 'bucketCreators' | 'signedUrlMaxExpiry' | 'scanning' | 'blockUntilScanned'>>;

/** The settings a server started without configuration has (src/config.ts), and no scanner. */
function defaults(): Required<StorageSettings> {
  const config = loadConfig({});
  return {
    region: config.region,
    maxObjectSize: config.maxObjectSize,
    bucketCreators: config.bucketCreators,
    signedUrlMaxExpiry: config.signedUrlMaxExpiry,
    scanning: false,
    blockUntilScanned: false,
  };
}

/** One per test file (each opens a database of its own); close() in after(). */
export async function openTestStorage(settings: StorageSettings = {}): Promise<TestStorage> {
  const db = await openTestDatabase();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'aerostore-unit-'));
  const pools = connectPools(db.url, { max: 10 });
  const admin = postgres(db.url, { max: 2, onnotice: () => {} });
  const stops: Array<() => Promise<unknown>> = [];
  const close = async () => {
    await Promise.allSettled([...storage.background]);
    await Promise.allSettled(stops.map((stop) => stop()));
    await Promise.allSettled([pools.end({ timeout: 5 }), admin.end({ timeout: 5 })]);
    await db.close();
    await rm(dataDir, { recursive: true, force: true });
  };
  const blobs = new LocalDiskBlobStore(dataDir);
  const storage = createServices({ sql: pools.sql, blobs, log: pino({ level: 'warn', base: undefined }, pino.destination(2)), ...defaults(), ...settings });
  try {
    await blobs.init();
    stops.push(await listenForBucketChanges(storage));
  } catch (err) {
    await close();
    throw err;
  }
  let buckets = 0;
  return {
    storage,
    admin,
    databaseUrl: db.url,
    dataDir,
    newBucket: (owner, policy = 'private', bucketSettings = {}) => createBucket(storage, `bucket-${++buckets}`, owner, policy, bucketSettings),
    blobCounts: async (bucket) => {
      const rows = await admin<{ sha256: string; ref_count: number }[]>`
        select sha256, ref_count from storage.blobs where bucket_id = ${bucket.id} order by sha256`;
      return Object.fromEntries(rows.map((r) => [r.sha256, r.ref_count]));
    },
    settle: async () => void (await Promise.allSettled([...storage.background])),
    stagedFiles: async () => {
      const names: string[] = [];
      for await (const file of blobs.listTempFiles()) names.push(file.name);
      return names;
    },
    close,
  };
}

/** A signed-in user (an access key's principal, as src/principals/ makes it), with a new id unless given one. */
export function user(userId: string = randomUUID()): Principal & { kind: 'user'; userId: string } {
  return { kind: 'user', via: 'access-key', userId, role: 'authenticated' };
}

/** A request body. */
export function body(content: string | Buffer): Readable {
  return Readable.from([typeof content === 'string' ? Buffer.from(content) : content]);
}

/** A body that notes whether anything read it: a refusal before the body must leave it untouched. */
export function untouchedBody(): { body: Readable; read(): boolean } {
  let pulled = false;
  const stream = new Readable({
    read() {
      pulled = true;
      this.push(null);
    },
  });
  return { body: stream, read: () => pulled };
}

/** Hex SHA-256: a blob's name. */
export function sha256(content: string | Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

/** For assert.throws/rejects: a DomainError with this code. */
export function domainError(code: string): (err: unknown) => true {
  return (err) => {
    assert.ok(err instanceof DomainError, `a DomainError, not ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  };
}
