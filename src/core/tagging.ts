// Object and bucket tagging (S3 Put/Get/DeleteObjectTagging, the
// x-amz-tagging header, Put/Get/DeleteBucketTagging): validation shared by
// every way tags arrive, and the tag-only updates. Protocol-neutral like
// core/objects.ts. A bucket's tags are a column of its row (migration 0018),
// changed as its other settings are. Changing an object's tags changes the object:
// it happens under the key's advisory lock, so it orders with writers of
// the key; it writes no storage.object.created event and leaves
// Last-Modified alone (S3 does not touch it either).
import { asPrincipal, readAs } from '../db/session.ts';
import type { Principal } from '../principals/principal.ts';
import { DomainError } from './errors.ts';
import { requireAdminister } from './access.ts';
import { explainMissingObject } from './bucket-policies.ts';
import { requireChangeOf } from './policy-checks.ts';
import type { BucketRow } from './bucket.ts';
import { changeBucket, COLUMNS, requireBucket } from './buckets.ts';
import { keyLock, type ObjectRow } from './objects.ts';
import { findVersion } from './versions.ts';
import type { TransactionSql } from '../db/connect.ts';
import type { Services } from './services.ts';

/** An object's or a bucket's tags: key → value. */
export type Tags = Record<string, string>;

/** S3's limits on tags (Amazon S3 User Guide, "Categorizing your storage using tags"; bucket tags: "Using cost allocation S3 bucket tags"). */
export const MAX_OBJECT_TAGS = 10;
export const MAX_BUCKET_TAGS = 50;
export const MAX_TAG_KEY_LENGTH = 128;
export const MAX_TAG_VALUE_LENGTH = 256;
/** Letters, numbers and spaces in any script, and + - = . _ : / @ (the S3Tag pattern). */
const TAG_CHARS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

/** Length in Unicode characters (code points), as S3 counts it. */
const chars = (s: string) => [...s].length;

/**
 * Checks a list of tags as S3 does and returns them as a map: at most 10 on
 * an object, 50 on a bucket (BadRequest, S3's code and words for a tag set
 * over its ceiling), keys of 1–128 characters and values of up to 256, from
 * the allowed characters, keys not starting with `aws:` and not repeated
 * (InvalidTag).
 */
export function validateTags(pairs: ReadonlyArray<readonly [key: string, value: string]>, of: 'object' | 'bucket' = 'object'): Tags {
  if (of === 'object' && pairs.length > MAX_OBJECT_TAGS) throw new DomainError('BadRequest', `Object tags cannot be greater than ${MAX_OBJECT_TAGS}`);
  if (of === 'bucket' && pairs.length > MAX_BUCKET_TAGS) throw new DomainError('BadRequest', `Bucket tag count cannot be greater than ${MAX_BUCKET_TAGS}`);
  const tags: Tags = {};
  for (const [key, value] of pairs) {
    if (key.length === 0 || chars(key) > MAX_TAG_KEY_LENGTH || !TAG_CHARS.test(key)) {
      throw new DomainError('InvalidTag', 'The TagKey you have provided is invalid', { TagKey: key });
    }
    if (chars(value) > MAX_TAG_VALUE_LENGTH || !TAG_CHARS.test(value)) {
      throw new DomainError('InvalidTag', 'The TagValue you have provided is invalid', { TagKey: key, TagValue: value });
    }
    if (key.toLowerCase().startsWith('aws:')) {
      throw new DomainError('InvalidTag', 'System tags cannot be added/updated by requester', { TagKey: key });
    }
    if (Object.hasOwn(tags, key)) throw new DomainError('InvalidTag', 'Cannot provide multiple Tags with the same key', { TagKey: key });
    tags[key] = value;
  }
  return tags;
}

/**
 * The x-amz-tagging header (PutObject, CreateMultipartUpload, CopyObject with
 * REPLACE): URL query parameters, `k1=v1&k2=v2`, UTF-8 then URL-encoded
 * (`+` is a space, as in a form-encoded query). A name without `=` has an
 * empty value; an empty header means no tags.
 */
export function parseTaggingHeader(raw: string): Tags {
  const invalid = () =>
    new DomainError(
      'InvalidArgument',
      "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.",
      { ArgumentName: 'x-amz-tagging', ArgumentValue: raw },
    );
  if (raw.trim() === '') return {};
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s.replace(/\+/g, ' '));
    } catch {
      throw invalid();
    }
  };
  const pairs: Array<[string, string]> = [];
  const seen = new Set<string>();
  for (const part of raw.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = decode(eq === -1 ? part : part.slice(0, eq));
    const value = eq === -1 ? '' : decode(part.slice(eq + 1));
    // A pair without a name (`=v`) is no query parameter: S3 refuses the header, not the tag.
    if (key === '' || seen.has(key)) throw invalid();
    seen.add(key);
    pairs.push([key, value]);
  }
  return validateTags(pairs);
}

export function tagCount(row: ObjectRow): number {
  return Object.keys(row.tags).length;
}

/** The tags of the key's current version, or of the version named. */
export async function getObjectTags(storage: Services, bucketName: string, key: string, principal: Principal, versionId?: string): Promise<{ tags: Tags; version: string; bucket: BucketRow }> {
  const { object, bucket } = await findVersion(storage, bucketName, key, principal, 'metadata', versionId);
  return { tags: object.tags, version: object.version, bucket };
}

/**
 * Replaces an object's tags (PutObjectTagging; DeleteObjectTagging sets
 * none): a write, allowed to whoever may overwrite the object.
 */
export async function setObjectTags(
  storage: Services,
  bucketName: string,
  key: string,
  principal: Principal,
  tags: Tags,
  versionId?: string,
): Promise<void> {
  const bucket = await requireBucket(storage, bucketName);
  await requireChangeOf(storage, bucket, principal, 'UPDATE');
  // A past version is tagged where it lives (storage.object_versions); the key's current one in objects.
  if (versionId !== undefined) await findVersion(storage, bucketName, key, principal, 'metadata', versionId);
  const which = (tx: TransactionSql) => (versionId !== undefined ? tx`and version = ${versionId}` : tx``);
  const outcome = await asPrincipal(storage.sql, principal, async (tx) => {
    const [, rows, [visible], past] = await Promise.all([
      keyLock(tx, bucket.id, key),
      tx`update storage.objects set tags = ${tx.json(tags)} where bucket_uuid = ${bucket.id} and key = ${key} ${which(tx)} returning id`,
      tx`select 1 as visible from storage.objects where bucket_uuid = ${bucket.id} and key = ${key} ${which(tx)}`,
      versionId !== undefined
        ? tx`update storage.object_versions set tags = ${tx.json(tags)}
             where bucket_uuid = ${bucket.id} and key = ${key} and version = ${versionId} and not delete_marker returning id`
        : Promise.resolve([]),
    ]);
    return rows.length > 0 || past.length > 0 ? 'updated' : visible ? 'refused' : versionId !== undefined ? 'refused' : 'missing';
  });
  if (outcome === 'refused') throw new DomainError('AccessDenied');
  // A key the principal may not read (a Deny, IgnorePublicAcls) is refused whether or not it exists.
  if (outcome === 'missing') throw await explainMissingObject(storage, bucket, principal, key);
}

/** A bucket's tags (GetBucketTagging), the bucket owner's to read; undefined when it has none. */
export async function getBucketTags(storage: Services, bucketName: string, principal: Principal): Promise<Tags | undefined> {
  const bucket = await requireBucket(storage, bucketName);
  requireAdminister(bucket, principal);
  const [row] = await readAs(storage.sql, principal, (tx) => tx<{ tags: Tags | null }[]>`
    select tags from storage.buckets where id = ${bucket.id}`);
  if (!row) throw new DomainError('NoSuchBucket', undefined, { BucketName: bucketName });
  return row.tags ?? undefined;
}

/**
 * Replaces a bucket's tags (PutBucketTagging; DeleteBucketTagging and an
 * empty tag set leave it with none): the bucket owner's to change.
 */
export async function setBucketTags(storage: Services, bucketName: string, principal: Principal, tags: Tags | undefined): Promise<void> {
  const bucket = await requireBucket(storage, bucketName);
  const stored = tags && Object.keys(tags).length > 0 ? tags : null;
  await changeBucket(storage, bucket, principal, (tx) => tx<BucketRow[]>`
    update storage.buckets set tags = ${stored === null ? null : tx.json(stored)} where id = ${bucket.id}
    returning ${COLUMNS(tx)}`);
}
