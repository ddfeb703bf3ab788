// Object versions (issue 18; migration 0025): the bucket's versioning
// setting, reading a version by id, deleting versions by id, and listing a
// bucket's versions. storage.objects holds each key's current version and
// storage.object_versions its past versions and delete markers; what a
// write or a delete does to them inside its own transaction is
// core/version-rows.ts.
import type { TransactionSql } from '../db/connect.ts';
import { asPrincipal, readAs, SERVICE } from '../db/session.ts';
import { isService, type Principal } from '../principals/principal.ts';
import { canAdminister } from './access.ts';
import { BUCKET_COLUMNS, type BucketRow } from './bucket.ts';
import { changeBucket, requireBucket } from './buckets.ts';
import { DomainError } from './errors.ts';
import { commonPrefix, justAfter } from './list.ts';
import { compareKeys, prefixEnd } from './key-range.ts';
import { collectInBackground, findObject, rethrowWriteFailure, type ObjectLookup, type ObjectRow, type ObjectUse, requireScanClearance } from './objects.ts';
import { requireChangeOf, requireListing } from './policy-checks.ts';
import type { Services } from './services.ts';
import { recordEvents } from '../events/record.ts';
import { canonicalId, grantsOf, type AclRequest, type Grant } from './acl.ts';
import { requestedAcl } from './object-acl.ts';
import { lockKeys, releaseBlobs } from './delete-objects.ts';
import { isVersionId } from './version-rows.ts';

export type VersioningStatus = 'Enabled' | 'Suspended';

/** PutBucketVersioning: the bucket owner (or the service role) turns versioning on or suspends it. */
export async function setVersioning(storage: Services, bucketName: string, principal: Principal, status: VersioningStatus): Promise<BucketRow> {
  const bucket = await requireBucket(storage, bucketName);
  if (status === 'Suspended' && bucket.object_lock_enabled) {
    throw new DomainError('InvalidBucketState', 'An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.');
  }
  return changeBucket(storage, bucket, principal, (tx) => tx<BucketRow[]>`
    update storage.buckets set versioning = ${status} where id = ${bucket.id} returning ${tx.unsafe(BUCKET_COLUMNS)}`);
}

function invalidVersionId(versionId: string, argument = 'versionId'): DomainError {
  return new DomainError('InvalidArgument', 'Invalid version id specified', { ArgumentName: argument, ArgumentValue: versionId });
}

/** A past version or delete marker, as the principal may see it (RLS: its owner, the bucket's owner, the service role). */
function pastVersion(storage: Services, bucket: BucketRow, key: string, versionId: string, principal: Principal): Promise<ObjectRow | undefined> {
  return readAs(storage.sql, principal, (tx) => tx<ObjectRow[]>`
    select * from storage.object_versions where bucket_uuid = ${bucket.id} and key = ${key} and version = ${versionId}`).then(([row]) => row);
}

/**
 * An object by key, optionally by version id: the current version, a past
 * one, or — for a version id that names a delete marker — 405 with the
 * marker; a key whose latest version is a delete marker is NoSuchKey with
 * the marker (S3 sends both as headers).
 */
export async function findVersion(
  storage: Services,
  bucketName: string,
  key: string,
  principal: Principal,
  use: ObjectUse,
  versionId: string | undefined,
): Promise<ObjectLookup> {
  if (versionId === undefined) {
    try {
      return await findObject(storage, bucketName, key, principal, use);
    } catch (err) {
      throw await withDeleteMarker(storage, bucketName, key, principal, err);
    }
  }
  if (!isVersionId(versionId)) throw invalidVersionId(versionId);
  const bucket = await requireBucket(storage, bucketName);
  const current = await findObject(storage, bucketName, key, principal, 'metadata').catch(() => undefined);
  if (current?.object.version === versionId) {
    if (use === 'content') await requireScanClearance(storage, bucket, current.object);
    return current;
  }
  const row = bucket.versioning || versionId !== 'null' ? await pastVersion(storage, bucket, key, versionId, principal) : undefined;
  if (!row) throw missingVersion(bucket, principal, key, versionId);
  if (row.delete_marker) {
    throw new DomainError('DeleteMarkerNotReadable', undefined, {}, { versionId: row.version, lastModified: row.updated_at });
  }
  if (use === 'content') await requireScanClearance(storage, bucket, row);
  return { bucket, object: row };
}

/**
 * Whether `principal` sees all of the bucket's history (RLS on
 * storage.object_versions: the service role and the bucket's owner), and so
 * may be told that a version does not exist.
 */
function seesHistory(bucket: BucketRow, principal: Principal): boolean {
  return isService(principal) || canAdminister(bucket, principal);
}

/**
 * A version the principal did not find: NoSuchVersion for one that sees the
 * whole history; otherwise AccessDenied, whether it exists or not — S3's
 * answer without s3:GetObjectVersion, and nothing learnt about other
 * people's versions.
 */
function missingVersion(bucket: BucketRow, principal: Principal, key: string, versionId: string): DomainError {
  return seesHistory(bucket, principal) ? new DomainError('NoSuchVersion', undefined, { Key: key, VersionId: versionId }) : new DomainError('AccessDenied');
}

/** NoSuchKey of a key whose latest version is a delete marker the principal may see: the same error, with the marker. */
async function withDeleteMarker(storage: Services, bucketName: string, key: string, principal: Principal, err: unknown): Promise<unknown> {
  if (!(err instanceof DomainError) || err.code !== 'NoSuchKey') return err;
  const bucket = await requireBucket(storage, bucketName);
  if (!bucket.versioning) return err;
  const [latest] = await readAs(storage.sql, principal, (tx) => tx<{ version: string; updated_at: Date; delete_marker: boolean }[]>`
    select version, updated_at, delete_marker from storage.object_versions
    where bucket_uuid = ${bucket.id} and key = ${key} order by version_seq desc limit 1`);
  if (!latest?.delete_marker) return err;
  return new DomainError('NoSuchKey', err.message, err.details, { versionId: latest.version, lastModified: latest.updated_at });
}

export interface VersionRef {
  key: string;
  versionId: string;
}

export interface DeleteVersionsResult {
  deleted: { key: string; versionId: string; deleteMarker: boolean }[];
  errors: { key: string; versionId: string; code: 'AccessDenied' | 'InvalidArgument' | 'ObjectLocked'; message: string }[];
}

export interface DeleteVersionsOptions {
  /** x-amz-bypass-governance-retention: honoured for the service role and the bucket's owner. */
  bypassGovernance?: boolean;
  cause?: 'lifecycle';
}

type RemovedVersion = { id: string; key: string; version: string; sha256: string; size: number; owner_id: string | null; content_type: string | null; delete_marker: boolean };

/**
 * Deletes these versions for good (DeleteObject and DeleteObjects with a
 * version id): each wherever it is — the current row or a past one — if
 * RLS lets the principal delete it; a version that does not exist counts as
 * deleted, as in S3. Deleting a key's current version, or the delete marker
 * that hides it, makes its newest remaining version current again. A version
 * under object lock stays (ObjectLocked), each such one reported alone.
 */
export async function deleteVersions(
  storage: Services,
  bucketName: string,
  refs: readonly VersionRef[],
  principal: Principal,
  opts: DeleteVersionsOptions = {},
): Promise<DeleteVersionsResult> {
  const bucket = await requireBucket(storage, bucketName);
  await requireChangeOf(storage, bucket, principal, 'DELETE');
  const result: DeleteVersionsResult = { deleted: [], errors: [] };
  const valid: VersionRef[] = [];
  for (const r of refs) {
    if (isVersionId(r.versionId)) valid.push(r);
    else result.errors.push({ ...r, code: 'InvalidArgument', message: 'Invalid version id specified' });
  }
  if (valid.length === 0) return result;
  const bypass = opts.bypassGovernance === true && (isService(principal) || canAdminister(bucket, principal));
  try {
    mergeInto(result, await deleteVersionBatch(storage, bucket, valid, principal, bypass, opts));
  } catch (err) {
    if (!(err instanceof DomainError) || err.code !== 'ObjectLocked' || valid.length === 1) {
      if (err instanceof DomainError && err.code === 'ObjectLocked') {
        result.errors.push({ ...valid[0], code: 'ObjectLocked', message: err.message });
        return result;
      }
      throw err;
    }
    // One locked version refused the whole batch at commit: each on its own, to say which.
    for (const r of valid) {
      try {
        mergeInto(result, await deleteVersionBatch(storage, bucket, [r], principal, bypass, opts));
      } catch (one) {
        if (!(one instanceof DomainError) || one.code !== 'ObjectLocked') throw one;
        result.errors.push({ ...r, code: 'ObjectLocked', message: one.message });
      }
    }
  }
  return result;
}

function mergeInto(into: DeleteVersionsResult, from: DeleteVersionsResult): void {
  into.deleted.push(...from.deleted);
  into.errors.push(...from.errors);
}

async function deleteVersionBatch(
  storage: Services,
  bucket: BucketRow,
  refs: VersionRef[],
  principal: Principal,
  bypass: boolean,
  opts: DeleteVersionsOptions,
): Promise<DeleteVersionsResult> {
  const keys = refs.map((r) => r.key);
  const versions = refs.map((r) => r.versionId);
  const released: string[] = [];
  const outcome = await asPrincipal(storage.sql, principal, async (tx) => {
    const returned = tx.unsafe('id, key, version, sha256, size, owner_id, content_type');
    const [, , current, past, kept] = await Promise.all([
      bypass ? tx`select set_config('aerostore.bypass_governance', 'on', true)` : Promise.resolve(),
      lockKeys(tx, bucket, keys),
      tx<RemovedVersion[]>`
        delete from storage.objects o using unnest(${keys}::text[], ${versions}::text[]) as r(k, v)
        where o.bucket_uuid = ${bucket.id} and o.key = r.k and o.version = r.v
        returning ${returned}, false as delete_marker`,
      tx<RemovedVersion[]>`
        delete from storage.object_versions o using unnest(${keys}::text[], ${versions}::text[]) as r(k, v)
        where o.bucket_uuid = ${bucket.id} and o.key = r.k and o.version = r.v
        returning ${returned}, o.delete_marker`,
      // What is still there after the deletes: visible to the principal, not its to delete.
      tx<{ key: string; version: string }[]>`
        select o.key, o.version from storage.objects o join unnest(${keys}::text[], ${versions}::text[]) as r(k, v)
          on o.bucket_uuid = ${bucket.id} and o.key = r.k and o.version = r.v
        union all
        select o.key, o.version from storage.object_versions o join unnest(${keys}::text[], ${versions}::text[]) as r(k, v)
          on o.bucket_uuid = ${bucket.id} and o.key = r.k and o.version = r.v`,
    ]);
    const removed = [...current, ...past];
    await Promise.all([...new Set(removed.map((r) => r.key))].map((k) => tx`select storage.promote_latest_version(${bucket.id}, ${k})`));
    const refused = new Set(kept.map((k) => `${k.key}\0${k.version}`));
    const found = new Map(removed.map((r) => [`${r.key}\0${r.version}`, r]));
    const result: DeleteVersionsResult = { deleted: [], errors: [] };
    for (const r of refs) {
      const id = `${r.key}\0${r.versionId}`;
      // Not deleted and not visible: gone already — or hidden from a principal that may not be told.
      const hidden = !found.has(id) && !seesHistory(bucket, principal);
      if (refused.has(id) || hidden) result.errors.push({ ...r, code: 'AccessDenied', message: 'Access Denied' });
      else result.deleted.push({ ...r, deleteMarker: found.get(id)?.delete_marker ?? false });
    }
    if (removed.length > 0) await recordEvents(tx, removed.map((r) => removedEvent(bucket, r, opts)));
    await releaseBlobs(tx, bucket, removed.filter((r) => !r.delete_marker), released);
    return result;
  }).catch((err: unknown) => rethrowWriteFailure(storage, bucket.name, err));
  for (const sha of released) collectInBackground(storage, bucket.id, sha);
  return outcome;
}

function removedEvent(bucket: BucketRow, r: RemovedVersion, opts: DeleteVersionsOptions) {
  return {
    type: 'storage.object.deleted' as const,
    bucketId: bucket.id,
    bucket: bucket.name,
    key: r.key,
    objectId: r.id,
    ownerId: r.owner_id,
    payload: {
      size: r.size,
      sha256: r.sha256,
      content_type: r.content_type,
      version_id: r.version,
      ...(r.delete_marker ? { delete_marker: true } : {}),
      ...(opts.cause ? { cause: opts.cause } : {}),
    },
  };
}

// ---------------------------------------------------------------------------
// A past version's ACL (Get/PutObjectAcl with ?versionId= of a version that is
// not current). The version keeps the list it was written with; reading and
// changing it follow history's rule (RLS on storage.object_versions: those
// who see the version read it; the bucket's owner, or the version's owner
// where the bucket takes members' writes, change it).

/** A past version's ACL as S3 reports it. */
export function pastVersionAcl(bucket: BucketRow, version: ObjectRow): { owner: string; grants: Grant[] } {
  if (bucket.object_ownership === 'BucketOwnerEnforced') {
    const owner = canonicalId(bucket.owner_id);
    return { owner, grants: [{ grantee: { kind: 'user', id: owner }, permission: 'FULL_CONTROL' }] };
  }
  return { owner: canonicalId(version.owner_id), grants: grantsOf(version.acl, version.owner_id) };
}

/** Replaces a past version's ACL; changes nothing else (as on the current version). */
export async function setPastVersionAcl(storage: Services, bucket: BucketRow, version: ObjectRow, principal: Principal, request: AclRequest): Promise<void> {
  if (bucket.object_ownership === 'BucketOwnerEnforced') throw new DomainError('AclNotSupported');
  const acl = requestedAcl(bucket, version.owner_id, request);
  const changed = await asPrincipal(storage.sql, principal, (tx) => tx`
    update storage.object_versions set acl = ${acl}::text[]
    where bucket_uuid = ${bucket.id} and key = ${version.key} and version = ${version.version} and not delete_marker
    returning 1`).catch((err: unknown) => rethrowWriteFailure(storage, bucket.name, err));
  if (changed.length === 0) throw new DomainError('AccessDenied');
}

// ---------------------------------------------------------------------------
// ListObjectVersions

export interface VersionListQuery {
  bucket: string;
  prefix: string;
  delimiter: string;
  keyMarker: string;
  versionIdMarker?: string;
  maxKeys: number;
  principal: Principal;
}

/** One entry of a version listing: a version or a delete marker. */
export interface ListedVersion {
  key: string;
  version: string;
  version_seq: number;
  etag: string;
  size: number;
  owner_id: string | null;
  modified_ms: number;
  delete_marker: boolean;
  isLatest: boolean;
}

export interface VersionListResult {
  bucket: BucketRow;
  /** Versions and delete markers, keys ascending, each key's newest first. */
  entries: ListedVersion[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** Where the next page starts: the last entry (a key and version) or common prefix returned. */
  next?: { key: string; versionId?: string };
}

type Row = Omit<ListedVersion, 'isLatest'>;


/**
 * The bucket's versions in S3's order — keys ascending in UTF-8 byte order,
 * each key's versions and delete markers newest first — with prefix,
 * delimiter and key/version-id markers. The current versions come from
 * storage.objects and the rest from storage.object_versions, each an index
 * range read of at most a page, merged here. RLS decides what the principal
 * sees: past versions only its own, or the bucket's owner's all.
 */
export async function listVersions(storage: Services, q: VersionListQuery): Promise<VersionListResult> {
  if (q.prefix.includes('\0') || q.delimiter.includes('\0') || q.keyMarker.includes('\0')) {
    throw new DomainError('InvalidArgument', 'prefix, delimiter and key-marker must not contain a NUL character.');
  }
  if (q.versionIdMarker !== undefined) {
    if (q.keyMarker === '') {
      throw new DomainError('InvalidArgument', 'A version-id marker cannot be specified without a key marker.', {
        ArgumentName: 'version-id-marker',
        ArgumentValue: q.versionIdMarker,
      });
    }
    if (!isVersionId(q.versionIdMarker)) throw invalidVersionId(q.versionIdMarker, 'version-id-marker');
  }
  const bucket = await requireBucket(storage, q.bucket);
  await requireListing(storage, bucket, q.principal);
  const result: VersionListResult = { bucket, entries: [], commonPrefixes: [], isTruncated: false };
  if (q.maxKeys <= 0) return result;

  const hi = q.prefix ? prefixEnd(q.prefix) : undefined;
  // Where to start: within the marker's key, after its marked version; else after the marker key
  // (after everything under it, if it is itself a common prefix); else at the prefix.
  let lo = q.prefix;
  let within: { key: string; belowSeq: number } | undefined;
  if (q.keyMarker !== '') {
    const seq = q.versionIdMarker === undefined ? undefined : await versionSeq(storage, bucket, q.keyMarker, q.versionIdMarker);
    if (seq !== undefined) within = { key: q.keyMarker, belowSeq: seq };
    const markerIsPrefix = q.delimiter !== '' && q.keyMarker.startsWith(q.prefix) && commonPrefix(q.keyMarker, q.prefix, q.delimiter) === q.keyMarker;
    const from = markerIsPrefix ? (prefixEnd(q.keyMarker) ?? justAfter(q.keyMarker)) : justAfter(q.keyMarker);
    if (compareKeys(from, lo) > 0) lo = from;
  }

  const want = q.maxKeys + 1;
  let count = 0;
  let lastKey = within?.key;
  const add = (entry: ListedVersion | string) => {
    count++;
    if (count > q.maxKeys) {
      result.isTruncated = true;
      return;
    }
    if (typeof entry === 'string') {
      result.commonPrefixes.push(entry);
      result.next = { key: entry };
    } else {
      result.entries.push(entry);
      result.next = { key: entry.key, versionId: entry.version };
    }
  };

  if (within && !within.key.startsWith(q.prefix)) within = undefined;
  // Each round reads at most what the page still needs: the rest of one key's
  // versions (within), or the keys from `lo`; a common prefix ends the round
  // and the next starts past everything under it.
  while (count < want) {
    if (!within && hi !== undefined && compareKeys(lo, hi) >= 0) break;
    const limit = want - count;
    const wasWithin = within !== undefined;
    const rows = await readVersions(storage, bucket, q.principal, within ? { ...within, limit } : { from: lo, to: hi, limit });
    within = undefined;
    let jumped = false;
    for (const row of rows) {
      const cp = commonPrefix(row.key, q.prefix, q.delimiter);
      if (cp !== null) {
        add(cp);
        const past = prefixEnd(cp);
        if (past === undefined) return finish(result);
        if (compareKeys(past, lo) > 0) lo = past;
        jumped = true;
        break;
      }
      // The row itself, not a copy: a page is up to 1,000 of them.
      const entry = row as ListedVersion;
      entry.isLatest = row.key !== lastKey;
      add(entry);
      lastKey = row.key;
      within = { key: row.key, belowSeq: row.version_seq };
    }
    if (!jumped && within !== undefined) {
      const after = justAfter(within.key);
      if (compareKeys(after, lo) > 0) lo = after;
    }
    if (jumped) {
      within = undefined;
      continue;
    }
    if (rows.length < limit) {
      // That read is exhausted: after one key's versions come the keys after it; after the keys, nothing.
      within = undefined;
      if (!wasWithin) break;
    }
  }
  return finish(result);
}

function finish(result: VersionListResult): VersionListResult {
  if (!result.isTruncated) result.next = undefined;
  return result;
}

/** The ordering number of one version of a key (a continuation's marker), whoever may see it; undefined when it is gone. */
async function versionSeq(storage: Services, bucket: BucketRow, key: string, versionId: string): Promise<number | undefined> {
  const [row] = await readAs(storage.sql, SERVICE, (tx) => tx<{ version_seq: number }[]>`
    select version_seq from storage.objects where bucket_uuid = ${bucket.id} and key = ${key} and version = ${versionId}
    union all
    select version_seq from storage.object_versions where bucket_uuid = ${bucket.id} and key = ${key} and version = ${versionId}`);
  return row ? Number(row.version_seq) : undefined;
}

/**
 * Up to `limit` versions in listing order, from both tables, as the
 * principal sees them: of keys in [from, to), or of one key below a
 * version_seq. One statement: each table's rows in index order (a key's
 * current row sorted with its past ones by version_seq), merged by Postgres
 * (Merge Append under the limit), so only the rows of the page are read.
 */
async function readVersions(
  storage: Services,
  bucket: BucketRow,
  principal: Principal,
  range: { from: string; to?: string; limit: number } | { key: string; belowSeq: number; limit: number },
): Promise<Row[]> {
  const rows = await readAs(storage.sql, principal, (tx) => {
    const columns = tx`key, version, version_seq, etag, size, owner_id, floor(extract(epoch from updated_at) * 1000)::int8 as modified_ms`;
    const where =
      'from' in range
        ? tx`bucket_uuid = ${bucket.id} and key >= ${range.from}::text collate "C" ${range.to !== undefined ? tx`and key < ${range.to}::text collate "C"` : tx``}`
        : tx`bucket_uuid = ${bucket.id} and key = ${range.key} and version_seq < ${range.belowSeq}`;
    return tx<Row[]>`
      select * from (
        (select ${columns}, false as delete_marker from storage.objects where ${where} order by key, version_seq desc limit ${range.limit})
        union all
        (select ${columns}, delete_marker from storage.object_versions where ${where} order by key, version_seq desc limit ${range.limit})
      ) v order by key, version_seq desc limit ${range.limit}`;
  });
  for (const r of rows) r.version_seq = Number(r.version_seq);
  return rows;
}
