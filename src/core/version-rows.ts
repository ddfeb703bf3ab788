// What a write or a delete does to a key's versions inside its own
// transaction (migration 0025: storage.objects holds each key's current
// version, storage.object_versions the past ones and delete markers). The
// operations on versions themselves (reads by id, deletes by id, listings,
// the bucket's setting) are core/versions.ts.
import { randomBytes } from 'node:crypto';
import type { TransactionSql } from '../db/connect.ts';
import type { BucketRow, DefaultRetention, LockMode, ObjectLock } from './bucket.ts';
import { DomainError } from './errors.ts';

/**
 * A new version id: 32 URL-safe characters, as S3's are. Never with a
 * leading '-': aws-cli's argument parser reads `--version-id -Ab…` as a
 * missing value followed by an option (one id in 64 did; conformance caught it).
 */
export function newVersionId(): string {
  for (;;) {
    const id = randomBytes(24).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** Whether `id` can name a version here: 'null', or an id newVersionId made. */
export function isVersionId(id: string): boolean {
  return id === 'null' || /^[A-Za-z0-9_-]{32}$/.test(id);
}

/** The version a write creates in `bucket`: a new id once versioning is Enabled, else 'null'. */
export function versionForWrite(bucket: BucketRow): string {
  return bucket.versioning === 'Enabled' ? newVersionId() : 'null';
}

export interface ReplacedVersions {
  /** The current version was kept as a past version (its blob reference moved with it). */
  keptCurrent: boolean;
  /** The blobs of the past 'null' version a Suspended bucket's write replaced (one reference each). */
  removed: string[];
}

const NOTHING: ReplacedVersions = { keptCurrent: false, removed: [] };

/**
 * Before a write replaces the key's current row: in a versioned bucket the
 * current version is kept (storage.keep_current_version); in a Suspended
 * one, except the 'null' version, which the write replaces — and a past
 * 'null' version or delete marker goes (S3: "a PUT in a suspended bucket
 * replaces the null version"). Its statements are sent at once: call it only
 * once the key's lock has been sent (core/objects.ts writeObject).
 */
export function keepVersions(tx: TransactionSql, bucket: BucketRow, key: string): Promise<ReplacedVersions> {
  if (!bucket.versioning) return Promise.resolve(NOTHING);
  const enabled = bucket.versioning === 'Enabled';
  const kept = tx<{ kept: string | null }[]>`select storage.keep_current_version(${bucket.id}, ${key}, ${enabled}) as kept`;
  if (enabled) return kept.then(([k]) => ({ keptCurrent: k.kept !== null, removed: [] }));
  const gone = removeNullVersion(tx, bucket, key);
  return Promise.all([kept, gone]).then(([[k], removed]) => ({ keptCurrent: k.kept !== null, removed }));
}

/** Deletes the key's past 'null' version or 'null' delete marker, if any; the blobs whose reference it held. */
export function removeNullVersion(tx: TransactionSql, bucket: BucketRow, key: string): Promise<string[]> {
  return tx<{ sha256: string; delete_marker: boolean }[]>`
    delete from storage.object_versions where bucket_uuid = ${bucket.id} and key = ${key} and version = 'null'
    returning sha256, delete_marker`.then((rows) => rows.filter((r) => !r.delete_marker).map((r) => r.sha256));
}

/**
 * The columns a version row shares with an objects row, for moving one to
 * the other in a statement (the SQL functions of migration 0025 name the
 * same list).
 */
export const VERSION_COLUMNS = `id, bucket_uuid, bucket_id, key, size, etag, sha256, checksums, content_type,
  content_encoding, content_disposition, content_language, cache_control, expires, user_metadata, owner,
  created_at, updated_at, parts, tags, scan_status, filename, part_checksums, acl,
  version, version_seq, lock_mode, retain_until, legal_hold`;

export const missingLockConfiguration = () => new DomainError('InvalidRequest', 'Bucket is missing Object Lock Configuration');

/**
 * The lock settings a write gives its new version: those the request asks
 * for, else the bucket's default retention. Refused where the bucket has no
 * object lock, or with a retention date not in the future (S3's words).
 */
export function lockForWrite(bucket: BucketRow, asked: ObjectLock | undefined, now = new Date()): ObjectLock | undefined {
  if (asked && (asked.retention || asked.legalHold !== undefined)) {
    if (!bucket.object_lock_enabled) throw missingLockConfiguration();
    if (asked.retention && asked.retention.retainUntil.getTime() <= now.getTime()) {
      throw new DomainError('InvalidArgument', 'The retain until date must be in the future!');
    }
  }
  const byDefault = bucket.object_lock_enabled && bucket.object_lock_default ? defaultRetentionFrom(bucket.object_lock_default, now) : undefined;
  const retention = asked?.retention ?? byDefault;
  if (!retention && !asked?.legalHold) return undefined;
  return { retention, legalHold: asked?.legalHold };
}

function defaultRetentionFrom(d: DefaultRetention, now: Date): { mode: LockMode; retainUntil: Date } {
  const until = new Date(now);
  if ('days' in d) until.setUTCDate(until.getUTCDate() + d.days);
  else until.setUTCFullYear(until.getUTCFullYear() + d.years);
  return { mode: d.mode, retainUntil: until };
}

