// Object lock (issue 18 §3; S3 "Locking objects with Object Lock"): a
// bucket's lock configuration and default retention, each version's
// retention and legal hold, and the settings a write gives a new version.
// The rule itself — a retained or held version is never removed — is
// Postgres's (migration 0025, checked at every commit, for every writer);
// here are the settings, and the refusals S3 words before a write.
import { asPrincipal } from '../db/session.ts';
import { isService, type Principal } from '../principals/principal.ts';
import { canAdminister } from './access.ts';
import { BUCKET_COLUMNS, type BucketRow, type DefaultRetention, type LockMode } from './bucket.ts';
import { missingLockConfiguration } from './version-rows.ts';
import { changeBucket, requireBucket } from './buckets.ts';
import { DomainError } from './errors.ts';
import { rethrowWriteFailure } from './objects.ts';
import { requireChangeOf } from './policy-checks.ts';
import type { Services } from './services.ts';
import { findVersion } from './versions.ts';

export const LOCK_MODES: readonly LockMode[] = ['GOVERNANCE', 'COMPLIANCE'];

/**
 * PutObjectLockConfiguration: turns object lock on (a bucket whose
 * versioning is Enabled; it can never be turned off) and sets or clears the
 * default retention.
 */
export async function setObjectLockConfiguration(
  storage: Services,
  bucketName: string,
  principal: Principal,
  defaultRetention: DefaultRetention | null,
): Promise<BucketRow> {
  const bucket = await requireBucket(storage, bucketName);
  if (!bucket.object_lock_enabled && bucket.versioning !== 'Enabled') {
    throw new DomainError('InvalidBucketState', "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration");
  }
  return changeBucket(storage, bucket, principal, (tx) => tx<BucketRow[]>`
    update storage.buckets set object_lock_enabled = true, object_lock_default = ${defaultRetention ? tx.json(defaultRetention) : null}
    where id = ${bucket.id} returning ${tx.unsafe(BUCKET_COLUMNS)}`);
}

/** Whether this principal may bypass GOVERNANCE retention when it asks to: the service role and the bucket's owner. */
export function mayBypassGovernance(bucket: BucketRow, principal: Principal): boolean {
  return isService(principal) || canAdminister(bucket, principal);
}

export interface VersionLock {
  bucket: BucketRow;
  version: string;
  retention?: { mode: LockMode; retainUntil: Date };
  legalHold: boolean;
}

/** A version's retention and legal hold (GetObjectRetention, GetObjectLegalHold). */
export async function getVersionLock(storage: Services, bucketName: string, key: string, principal: Principal, versionId?: string): Promise<VersionLock> {
  const { bucket, object } = await findVersion(storage, bucketName, key, principal, 'metadata', versionId);
  if (!bucket.object_lock_enabled) throw missingLockConfiguration();
  return {
    bucket,
    version: object.version,
    retention: object.lock_mode && object.retain_until ? { mode: object.lock_mode, retainUntil: object.retain_until } : undefined,
    legalHold: object.legal_hold,
  };
}

/**
 * PutObjectRetention and PutObjectLegalHold: changes one version's lock,
 * wherever the version lives. Shortening or removing a retention that runs
 * is refused by Postgres unless it is GOVERNANCE and the request bypasses it
 * (x-amz-bypass-governance-retention, by a principal that may).
 */
export async function setVersionLock(
  storage: Services,
  bucketName: string,
  key: string,
  principal: Principal,
  change: { retention?: { mode: LockMode; retainUntil: Date } | null; legalHold?: boolean },
  opts: { versionId?: string; bypassGovernance?: boolean } = {},
): Promise<string> {
  const bucket = await requireBucket(storage, bucketName);
  if (!bucket.object_lock_enabled) throw missingLockConfiguration();
  await requireChangeOf(storage, bucket, principal, 'UPDATE');
  const { object } = await findVersion(storage, bucketName, key, principal, 'metadata', opts.versionId);
  if (object.delete_marker) throw new DomainError('DeleteMarkerNotReadable');
  const bypass = opts.bypassGovernance === true && mayBypassGovernance(bucket, principal);
  const retention = change.retention;
  const changed = await asPrincipal(storage.sql, principal, async (tx) => {
    const settings = (table: 'objects' | 'object_versions') => tx`
      update ${tx(`storage.${table}`)} set
        ${retention !== undefined ? tx`lock_mode = ${retention?.mode ?? null}, retain_until = ${retention?.retainUntil ?? null},` : tx``}
        legal_hold = ${change.legalHold === undefined ? tx`legal_hold` : tx`${change.legalHold}`}
      where bucket_uuid = ${bucket.id} and key = ${key} and version = ${object.version}
      returning version`;
    const [, current, past] = await Promise.all([
      bypass ? tx`select set_config('aerostore.bypass_governance', 'on', true)` : Promise.resolve(),
      settings('objects'),
      settings('object_versions'),
    ]);
    return current.length + past.length;
  }).catch((err: unknown) => rethrowWriteFailure(storage, bucketName, err));
  if (changed === 0) throw new DomainError('AccessDenied');
  return object.version;
}
