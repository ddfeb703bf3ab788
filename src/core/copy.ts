// CopyObject, protocol-neutral. Within one bucket a copy is metadata only:
// the destination row takes another reference on the source's blob, and no
// byte is read or written. Across buckets (blobs are deduplicated per
// bucket) the source's bytes are streamed through the ordinary write path.
import { asPrincipal } from '../db/session.ts';
import { ownerId, type Principal } from '../principals/principal.ts';
import { DomainError } from './errors.ts';
import { requireWrite } from './access.ts';
import { requireBucket } from './buckets.ts';
import type { ChecksumAlgorithm } from './checksums.ts';
import {
  checkWriteCondition,
  collectInBackground,
  headObject,
  keyLock,
  openObject,
  putObject,
  rethrowWriteFailure,
  upsertObjectWithEvent,
  validateKey,
  type ObjectHeaders,
  type ObjectLookup,
  type ObjectRow,
  type PutObjectResult,
  type WriteCondition,
} from './objects.ts';
import type { Storage } from './storage.ts';
import type { BucketRow } from './bucket.ts';

export interface CopyObjectInput {
  sourceBucket: string;
  sourceKey: string;
  bucket: string;
  key: string;
  principal: Principal;
  /** REPLACE: the destination gets these headers; COPY (undefined): the source's. */
  replaceHeaders?: ObjectHeaders;
  /** x-amz-tagging-directive REPLACE: the destination gets these tags; COPY (undefined): the source's. */
  replaceTags?: Record<string, string>;
  /** A checksum to compute for the copy (x-amz-checksum-algorithm), besides the ones the source has. */
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
}

export interface CopyObjectResult extends PutObjectResult {
  source: ObjectRow;
}

function headersOf(o: ObjectRow): ObjectHeaders {
  return {
    contentType: o.content_type ?? undefined,
    contentEncoding: o.content_encoding ?? undefined,
    contentDisposition: o.content_disposition ?? undefined,
    contentLanguage: o.content_language ?? undefined,
    cacheControl: o.cache_control ?? undefined,
    expires: o.expires ?? undefined,
    userMetadata: o.user_metadata,
  };
}

/** The source's blob was released between our read of its row and our commit: read the row again. */
class SourceMoved extends Error {}

export async function copyObject(storage: Storage, input: CopyObjectInput): Promise<CopyObjectResult> {
  validateKey(input.key);
  // Destination bucket first: S3 reports a missing destination bucket before a missing source.
  const bucket = await requireBucket(storage, input.bucket);
  requireWrite(bucket, input.principal);
  for (let attempt = 0; ; attempt++) {
    // The source is read as the principal: RLS decides whether it may copy from it.
    const found = await headObject(storage, input.sourceBucket, input.sourceKey, input.principal);
    const source = found.object;
    input.checkSource?.(source);
    const self = found.bucket.id === bucket.id && input.key === input.sourceKey;
    if (self && !input.replaceHeaders && !input.changesOtherAttributes) {
      throw new DomainError(
        'InvalidRequest',
        "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
      );
    }
    const headers = input.replaceHeaders ?? headersOf(source);
    const tags = input.replaceTags ?? source.tags;
    const algorithms = Object.keys(source.checksums) as ChecksumAlgorithm[];
    const newAlgorithm = input.checksumAlgorithm && !algorithms.includes(input.checksumAlgorithm) ? input.checksumAlgorithm : undefined;
    if (found.bucket.id !== bucket.id || newAlgorithm) {
      // The bytes have to be read: another bucket's blob store, or a checksum to compute.
      return { ...(await streamCopy(storage, input, found, headers, tags, newAlgorithm ? [...algorithms, newAlgorithm] : algorithms)), source };
    }
    try {
      return { ...(await referenceCopy(storage, bucket, input, source, headers, tags)), source };
    } catch (err) {
      if (!(err instanceof SourceMoved) || attempt >= 3) {
        if (err instanceof SourceMoved) throw new DomainError('NoSuchKey', undefined, { Key: input.sourceKey });
        throw err;
      }
    }
  }
}

/** Copies the source's bytes through BlobStore.ingest, then commits like a PUT. */
async function streamCopy(
  storage: Storage,
  input: CopyObjectInput,
  found: ObjectLookup,
  headers: ObjectHeaders,
  tags: Record<string, string>,
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
      principal: input.principal,
      condition: input.condition,
      checksumAlgorithms: algorithms,
      verify(staged) {
        // The bytes read must be the bytes the source row names.
        if (staged.sha256 !== source.sha256) throw new Error(`copy source ${found.bucket.name}/${source.key}: blob content does not match its name`);
        for (const a of Object.keys(source.checksums) as ChecksumAlgorithm[]) {
          const stored = source.checksums[a] as string;
          // A multipart source's composite checksum ("…-N") describes its parts, not these bytes.
          if (!stored.includes('-') && staged.checksums[a] !== stored) throw new Error(`copy source ${found.bucket.name}/${source.key}: stored ${a} does not match its bytes`);
        }
      },
    });
  } finally {
    body.destroy();
  }
}

/**
 * One transaction, the discipline of commitObject: the destination key's
 * advisory lock; blob rows locked in sha256 order (the source's blob gains a
 * reference, an overwritten destination's loses one); the object row and its
 * storage.object.created event in one statement. The source blob gains its
 * reference only while its count is above zero: a zero-count row may already
 * have lost its file to the collector, so then the source is read again.
 */
async function referenceCopy(
  storage: Storage,
  bucket: BucketRow,
  input: CopyObjectInput,
  source: ObjectRow,
  h: ObjectHeaders,
  tags: Record<string, string>,
): Promise<PutObjectResult> {
  const owner = ownerId(input.principal);
  let released: string | undefined;
  const result = await asPrincipal(storage.sql, input.principal, async (tx) => {
      const [, [old]] = await Promise.all([
        keyLock(tx, bucket.id, input.key),
        tx<{ sha256: string; etag: string }[]>`select sha256, etag from storage.objects where bucket_id = ${bucket.id} and key = ${input.key}`,
      ]);
      checkWriteCondition(input.condition, old, input.key);
      const shas = old?.sha256 === source.sha256 ? [] : [source.sha256, ...(old ? [old.sha256] : [])].sort();
      for (const sha of shas) {
        if (sha === source.sha256) {
          const [row] = await tx<{ ref_count: number }[]>`
            update storage.blobs set ref_count = ref_count + 1
            where bucket_id = ${bucket.id} and sha256 = ${sha} and ref_count > 0 returning ref_count`;
          if (!row) throw new SourceMoved();
        } else {
          const [row] = await tx<{ ref_count: number }[]>`
            update storage.blobs set ref_count = ref_count - 1
            where bucket_id = ${bucket.id} and sha256 = ${sha} returning ref_count`;
          if (row?.ref_count === 0) released = sha;
        }
      }
      const [object] = await upsertObjectWithEvent(
        tx,
        bucket,
        input.key,
        {
          size: source.size,
          etag: source.etag,
          sha256: source.sha256,
          checksums: source.checksums,
          parts: source.parts,
          headers: h,
          tags,
          owner,
        },
        { replaced: old !== undefined, copiedFrom: `${input.sourceBucket}/${input.sourceKey}` },
      );
      return { object, replaced: old !== undefined };
    }).catch((err: unknown) => rethrowWriteFailure(storage, input.bucket, err));
  if (released) collectInBackground(storage, bucket.id, released);
  return result;
}
