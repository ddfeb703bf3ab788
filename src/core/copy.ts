// CopyObject, protocol-neutral. Within one bucket a copy is metadata only:
// the destination row takes another reference on the source's blob, and no
// byte is read or written. Across buckets (blobs are deduplicated per
// bucket) the source's bytes are streamed through the ordinary write path.
import type { Principal } from '../principals/principal.ts';
import { DomainError } from './errors.ts';
import { requireWriteOf } from './policy-checks.ts';
import { requireBucket } from './buckets.ts';
import type { ChecksumAlgorithm } from './checksums.ts';
import {
  ContentGone,
  headersOf,
  openObject,
  overwrites,
  putObject,
  validateKey,
  writeObject,
  type ObjectHeaders,
  type ObjectLookup,
  type ObjectRow,
  type PutObjectResult,
  type WriteCondition,
} from './objects.ts';
import type { Services } from './services.ts';
import { findVersion } from './versions.ts';
import type { BucketRow, ObjectLock } from './bucket.ts';
import type { AclRequest } from './acl.ts';
import { objectAccessFor, type ObjectAccess } from './object-acl.ts';

export interface CopyObjectInput {
  sourceBucket: string;
  sourceKey: string;
  /** The source's version (x-amz-copy-source ?versionId=); none: its current one. */
  sourceVersionId?: string;
  bucket: string;
  key: string;
  principal: Principal;
  /** REPLACE: the destination gets these headers; COPY (undefined): the source's. */
  replaceHeaders?: ObjectHeaders;
  /** x-amz-tagging-directive REPLACE: the destination gets these tags; COPY (undefined): the source's. */
  replaceTags?: Record<string, string>;
  /** The checksum the copy gets instead of the source's (x-amz-checksum-algorithm). */
  checksumAlgorithm?: ChecksumAlgorithm;
  /**
   * True when the request changes something besides metadata (checksum,
   * storage class...), which makes a copy of an object onto itself legal.
   */
  changesOtherAttributes?: boolean;
  /** Preconditions on the source (x-amz-copy-source-if-*): throw to refuse. */
  checkSource?: (source: ObjectRow) => void;
  /** On the destination, decided under its key lock (If-None-Match: * — a copy that must not overwrite). */
  condition?: WriteCondition;
  /** The destination's ACL (x-amz-acl, x-amz-grant-*); none: its owner's FULL_CONTROL alone, whatever the source's. */
  acl?: AclRequest;
  /** The destination's object lock (x-amz-object-lock-*); none: its bucket's default retention, if any. */
  lock?: ObjectLock;
}

export interface CopyObjectResult extends PutObjectResult {
  source: ObjectRow;
  sourceBucket: BucketRow;
}

export async function copyObject(storage: Services, input: CopyObjectInput): Promise<CopyObjectResult> {
  validateKey(input.key);
  // Destination bucket first: S3 reports a missing destination bucket before a missing source.
  const bucket = await requireBucket(storage, input.bucket);
  const access = objectAccessFor(bucket, input.principal, input.acl);
  await requireWriteOf(storage, bucket, input.principal, {
    key: input.key,
    ...access,
    contentType: input.replaceHeaders?.contentType,
    userMetadata: input.replaceHeaders?.userMetadata,
    overwrite: overwrites(input.condition),
  });
  for (let attempt = 0; ; attempt++) {
    // The source is read as the principal: RLS decides whether it may copy from it.
    const found = await findVersion(storage, input.sourceBucket, input.sourceKey, input.principal, 'content', input.sourceVersionId);
    const source = found.object;
    input.checkSource?.(source);
    // Copying a past version onto its key is how a version is restored: not a copy onto itself.
    const pastVersion = source.delete_marker !== undefined;
    const self = found.bucket.id === bucket.id && input.key === input.sourceKey && !pastVersion;
    if (self && !input.replaceHeaders && !input.changesOtherAttributes) {
      throw new DomainError(
        'InvalidRequest',
        "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
      );
    }
    const headers = input.replaceHeaders ?? headersOf(source);
    const tags = input.replaceTags ?? source.tags;
    // The original file name goes with the metadata it was uploaded with.
    const filename = input.replaceHeaders ? undefined : (source.filename ?? undefined);
    // An object has one checksum (S3): the source's, or the one asked for,
    // which replaces it; a source stored without one gets S3's default when
    // its bytes are read anyway.
    const algorithms = Object.keys(source.checksums) as ChecksumAlgorithm[];
    const newAlgorithm = input.checksumAlgorithm && !algorithms.includes(input.checksumAlgorithm) ? input.checksumAlgorithm : undefined;
    if (found.bucket.id !== bucket.id || newAlgorithm) {
      // The bytes have to be read: another bucket's blob store, or a checksum to compute.
      return { ...(await streamCopy(storage, input, found, { headers, tags, filename }, newAlgorithm ? [newAlgorithm] : algorithms)), source, sourceBucket: found.bucket };
    }
    try {
      return { ...(await referenceCopy(storage, bucket, input, source, { headers, tags, filename }, access)), source, sourceBucket: found.bucket };
    } catch (err) {
      if (!(err instanceof ContentGone) || attempt >= 3) {
        if (err instanceof ContentGone) throw new DomainError('NoSuchKey', undefined, { Key: input.sourceKey });
        throw err;
      }
    }
  }
}

/** What a copy writes besides the bytes: the source's or the request's. */
interface CopiedMetadata {
  headers: ObjectHeaders;
  tags: Record<string, string>;
  filename?: string;
}

/** Copies the source's bytes through BlobStore.ingest, then commits like a PUT. */
async function streamCopy(
  storage: Services,
  input: CopyObjectInput,
  found: ObjectLookup,
  { headers, tags, filename }: CopiedMetadata,
  algorithms: ChecksumAlgorithm[],
): Promise<PutObjectResult> {
  const source = found.object;
  const body = await openObject(storage, found);
  try {
    // A single-part source's ETag is the MD5 of these bytes, so the copy
    // keeps it; a multipart source's copy becomes a single-part object.
    return await putObject(storage, {
      bucket: input.bucket,
      key: input.key,
      body,
      expectedSize: source.size,
      headers,
      tags,
      filename,
      principal: input.principal,
      condition: input.condition,
      acl: input.acl,
      lock: input.lock,
      checksumAlgorithms: algorithms,
      // The bytes read must be the bytes (and checksums) the source row names.
      expected: { source: { name: `${found.bucket.name}/${source.key}`, sha256: source.sha256, checksums: source.checksums } },
    });
  } finally {
    body.destroy();
  }
}

/**
 * A copy within the bucket is the one write transaction (core/objects.ts
 * writeObject) on the source's blob: it gains a reference only while its
 * count is above zero — a zero-count row may already have lost its file to
 * the collector, so then the source is read again (ContentGone).
 */
function referenceCopy(
  storage: Services,
  bucket: BucketRow,
  input: CopyObjectInput,
  source: ObjectRow,
  { headers, tags, filename }: CopiedMetadata,
  access: ObjectAccess,
): Promise<PutObjectResult> {
  const target = { bucket: input.bucket, key: input.key, principal: input.principal, condition: input.condition, headers, tags, filename, access, lock: input.lock };
  const version = {
    size: source.size,
    etag: source.etag,
    sha256: source.sha256,
    checksums: source.checksums,
    parts: source.parts,
    part_checksums: source.part_checksums,
  };
  return writeObject(storage, bucket, target, version, { kind: 'existing' }, { copiedFrom: `${input.sourceBucket}/${input.sourceKey}` });
}
