// Object tagging (S3 Put/Get/DeleteObjectTagging, the x-amz-tagging header):
// validation shared by every way tags arrive, and the tag-only updates.
// Protocol-neutral like core/objects.ts. Changing tags changes the object:
// it happens under the key's advisory lock, so it orders with writers of
// the key; it writes no storage.object.created event and leaves
// Last-Modified alone (S3 does not touch it either).
import { asPrincipal } from '../db/session.ts';
import type { Principal } from '../principals/principal.ts';
import { DomainError } from './errors.ts';
import { missingObject, requireWrite } from './access.ts';
import { requireBucket } from './buckets.ts';
import { findObject, keyLock, type ObjectRow } from './objects.ts';
import type { Storage } from './storage.ts';

/** An object's tags: key → value. */
export type Tags = Record<string, string>;

/** S3's limits on object tags (Amazon S3 User Guide, "Categorizing your storage using tags"). */
export const MAX_OBJECT_TAGS = 10;
export const MAX_TAG_KEY_LENGTH = 128;
export const MAX_TAG_VALUE_LENGTH = 256;
/** Letters, numbers and spaces in any script, and + - = . _ : / @ (the S3Tag pattern). */
const TAG_CHARS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

/** Length in Unicode characters (code points), as S3 counts it. */
const chars = (s: string) => [...s].length;

/**
 * Checks a list of tags as S3 does and returns them as a map: at most 10
 * (BadRequest), keys of 1–128 characters and values of up to 256, from the
 * allowed characters, keys not starting with `aws:` and not repeated
 * (InvalidTag).
 */
export function validateTags(pairs: ReadonlyArray<readonly [key: string, value: string]>): Tags {
  if (pairs.length > MAX_OBJECT_TAGS) throw new DomainError('BadRequest', `Object tags cannot be greater than ${MAX_OBJECT_TAGS}`);
  const tags: Tags = {};
  for (const [key, value] of pairs) {
    if (key.length === 0 || chars(key) > MAX_TAG_KEY_LENGTH || !TAG_CHARS.test(key)) {
      throw new DomainError('InvalidTag', 'The TagKey you have provided is invalid', { TagKey: key });
    }
    if (chars(value) > MAX_TAG_VALUE_LENGTH || !TAG_CHARS.test(value)) {
      throw new DomainError('InvalidTag', 'The TagValue you have provided is invalid', { TagKey: key, TagValue: value });
    }
    if (key.toLowerCase().startsWith('aws:')) {
      throw new DomainError('InvalidTag', 'Your TagKey cannot be prefixed with aws:', { TagKey: key });
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
    if (seen.has(key)) throw invalid();
    seen.add(key);
    pairs.push([key, value]);
  }
  return validateTags(pairs);
}

export function tagCount(row: ObjectRow): number {
  return Object.keys(row.tags).length;
}

export async function getObjectTags(storage: Storage, bucketName: string, key: string, principal: Principal): Promise<Tags> {
  return (await findObject(storage, bucketName, key, principal, 'metadata')).object.tags;
}

/**
 * Replaces an object's tags (PutObjectTagging; DeleteObjectTagging sets
 * none): a write, allowed to whoever may overwrite the object.
 */
export async function setObjectTags(storage: Storage, bucketName: string, key: string, principal: Principal, tags: Tags): Promise<void> {
  const bucket = await requireBucket(storage, bucketName);
  requireWrite(bucket, principal);
  const outcome = await asPrincipal(storage.sql, principal, async (tx) => {
    const [, rows, [visible]] = await Promise.all([
      keyLock(tx, bucket.id, key),
      tx`update storage.objects set tags = ${tx.json(tags)} where bucket_id = ${bucket.id} and key = ${key} returning id`,
      tx`select 1 as visible from storage.objects where bucket_id = ${bucket.id} and key = ${key}`,
    ]);
    return rows.length > 0 ? 'updated' : visible ? 'refused' : 'missing';
  });
  if (outcome === 'refused') throw new DomainError('AccessDenied');
  if (outcome === 'missing') throw missingObject(bucket, principal, key);
}
