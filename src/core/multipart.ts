// Multipart uploads: create, upload parts, complete, abort, list, expire.
// Protocol-neutral like core/objects.ts.
//
// Parts are staged by BlobStore.ingest (hashing, size limits, fsync) and then
// kept as files under the upload (BlobStore.keepPart); their rows name them.
// Completion streams the listed parts, in order, into one new temp file
// (never the whole object in memory), then commits it with the very commit
// step of PutObject (commitObject): key lock, blob row locks in sha256
// order, place(), object row and event — and, in the same transaction, the
// upload and its part rows are deleted and the completion is recorded
// (storage.completed_uploads), so that a retried Complete gets the same
// answer. Part files go after the commit.
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { StagedBlob } from '../blobs/store.ts';
import type { TransactionSql } from '../db/connect.ts';
import { asPrincipal, readAs, SERVICE } from '../db/session.ts';
import { ownerId, type Principal } from '../principals/principal.ts';
import { DomainError } from './errors.ts';
import { rethrowRefusal } from './access.ts';
import { requireListing, requireWriteOf, type WouldBeObject } from './policy-checks.ts';
import { requireBucket } from './buckets.ts';
import { checkDeclaredUpload, checkSniffedType } from './upload-rules.ts';
import { assertChecksumMatches, checksumOf, DEFAULT_CHECKSUM, FULL_OBJECT_ALGORITHMS, type ChecksumAlgorithm } from './checksums.ts';
import {
  commitObject,
  findObject,
  headersOf,
  openObject,
  rethrowWriteFailure,
  validateKey,
  type ObjectHeaders,
  type ObjectRow,
  type StoredHeaders,
  type PutObjectResult,
  type WriteCondition,
} from './objects.ts';
import type { Services } from './services.ts';
import { lockForWrite } from './version-rows.ts';
import { copySource } from './copy.ts';
import type { BucketRow, LockMode, ObjectLock } from './bucket.ts';
import type { Tags } from './tagging.ts';
import type { AclRequest } from './acl.ts';
import { aclsApply } from './access.ts';
import { objectAccessFor, ownerOnWrite } from './object-acl.ts';
import { checkContent, checksumsToCompute, type ExpectedContent } from './integrity.ts';

/** S3's limits (Amazon S3 multipart upload limits). */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
export const MAX_PART_NUMBER = 10_000;
export const MAX_MULTIPART_OBJECT_SIZE = 5 * 1024 ** 4;

export interface UploadRow extends StoredHeaders {
  id: string;
  bucket_id: string;
  key: string;
  owner_id: string | null;
  checksum_algorithm: ChecksumAlgorithm | null;
  checksum_type: ChecksumType | null;
  /** Tags the object gets at completion (x-amz-tagging on CreateMultipartUpload). */
  tags: Tags;
  /** The ACL the object gets at completion (x-amz-acl, x-amz-grant-* on CreateMultipartUpload; migration 0021). */
  acl: string[] | null;
  /** The object lock the object gets at completion (migration 0025). */
  lock_mode: LockMode | null;
  retain_until: Date | null;
  legal_hold: boolean | null;
  initiated_at: Date;
}

export interface PartRow {
  upload_id: string;
  part_number: number;
  size: number;
  etag: string;
  sha256: string;
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
  path: string;
  uploaded_at: Date;
}

function noSuchUpload(uploadId: string): DomainError {
  return new DomainError('NoSuchUpload', undefined, { UploadId: uploadId });
}

const isNoSuchUpload = (err: unknown) => err instanceof DomainError && err.code === 'NoSuchUpload';

/** Upload ids are random and URL-safe: 32 bytes of base64url. */
function newUploadId(): string {
  return randomBytes(32).toString('base64url');
}

/** The upload, if `principal` may see it (RLS: its initiator and the bucket's owner). */
async function findUpload(storage: Services, bucket: BucketRow, key: string, uploadId: string, principal: Principal): Promise<UploadRow> {
  const [upload] = await readAs(storage.sql, principal, (tx) => tx<UploadRow[]>`
    select * from storage.multipart_uploads where id = ${uploadId} and bucket_id = ${bucket.id} and key = ${key}`);
  if (!upload) throw noSuchUpload(uploadId);
  return upload;
}

export async function createUpload(
  storage: Services,
  input: {
    bucket: string;
    key: string;
    headers: ObjectHeaders;
    principal: Principal;
    checksumAlgorithm?: ChecksumAlgorithm;
    /** x-amz-checksum-type; S3's default: FULL_OBJECT for CRC64NVME, COMPOSITE otherwise. */
    checksumType?: ChecksumType;
    tags?: Tags;
    /** The ACL the object gets at completion; none: its owner's FULL_CONTROL alone. */
    acl?: AclRequest;
    /** Object lock settings the object gets at completion (else the bucket's default then). */
    lock?: ObjectLock;
  },
): Promise<{ bucket: BucketRow; upload: UploadRow }> {
  validateKey(input.key);
  const checksumType = resolveChecksumType(input.checksumAlgorithm, input.checksumType);
  const bucket = await requireBucket(storage, input.bucket);
  const access = objectAccessFor(bucket, input.principal, input.acl);
  const h = input.headers;
  await requireWriteOf(storage, bucket, input.principal, { key: input.key, ...access, contentType: h.contentType, userMetadata: h.userMetadata });
  // The bucket's upload rules: the type now, the size on every part and at completion.
  checkDeclaredUpload(bucket, Infinity, undefined, h.contentType);
  lockForWrite(bucket, input.lock);
  const retention = input.lock?.retention;
  const upload = await asPrincipal(storage.sql, input.principal, async (tx) => {
    const [row] = await tx<UploadRow[]>`
      insert into storage.multipart_uploads (id, bucket_id, key, content_type, content_encoding, content_disposition,
        content_language, cache_control, expires, user_metadata, owner_id, checksum_algorithm, checksum_type, tags, acl,
        lock_mode, retain_until, legal_hold)
      values (${newUploadId()}, ${bucket.id}, ${input.key}, ${h.contentType ?? null}, ${h.contentEncoding ?? null},
        ${h.contentDisposition ?? null}, ${h.contentLanguage ?? null}, ${h.cacheControl ?? null}, ${h.expires ?? null},
        ${tx.json(h.userMetadata)}, ${ownerId(input.principal)}, ${input.checksumAlgorithm ?? null},
        ${checksumType ?? null}, ${tx.json(input.tags ?? {})}, ${access.acl}::text[],
        ${retention?.mode ?? null}, ${retention?.retainUntil ?? null}, ${input.lock?.legalHold ?? null})
      returning *`;
    return row;
  }).catch((err: unknown) => rethrowWriteFailure(storage, input.bucket, err));
  return { bucket, upload };
}

export interface UploadPartInput {
  bucket: string;
  key: string;
  uploadId: string;
  partNumber: number;
  body: Readable;
  expectedSize?: number;
  principal: Principal;
  /** Checksums to compute and store besides the expected one (the upload's algorithm). */
  checksumAlgorithms?: readonly ChecksumAlgorithm[];
  /** What the part's bytes must be: checked once they are staged, before the part is kept. */
  expected?: ExpectedContent;
}

/** An upload's later steps (parts, completion, abort) are writes of its key by its initiator: asked as such. */
function writerOf(key: string, principal: Principal): WouldBeObject {
  return { key, owner: ownerId(principal), acl: null };
}

export async function uploadPart(storage: Services, input: UploadPartInput): Promise<PartRow> {
  const bucket = await requireBucket(storage, input.bucket);
  await requireWriteOf(storage, bucket, input.principal, writerOf(input.key, input.principal));
  // Unknown upload: refused before the body is read (and before 100 Continue).
  const upload = await findUpload(storage, bucket, input.key, input.uploadId, input.principal);
  // A part carries the upload's checksum: computed when the client sends
  // none, refused when it sends another algorithm's (S3's message).
  const sent = input.expected?.checksum?.algorithm;
  const algorithm = upload.checksum_algorithm;
  if (sent && algorithm && sent !== algorithm) {
    throw new DomainError(
      'InvalidRequest',
      `Checksum Type mismatch occurred, expected checksum Type: ${algorithm.toLowerCase()}, actual checksum Type: ${sent.toLowerCase()}`,
    );
  }
  return storePart(storage, bucket, { ...input, checksumAlgorithms: algorithm ? [algorithm] : input.checksumAlgorithms });
}

/**
 * The part-ingest path shared by UploadPart and UploadPartCopy: stage the
 * body (BlobStore.ingest), keep it under the upload, commit its row.
 */
async function storePart(
  storage: Services,
  bucket: BucketRow,
  input: Pick<UploadPartInput, 'uploadId' | 'partNumber' | 'body' | 'expectedSize' | 'principal' | 'checksumAlgorithms' | 'expected'>,
): Promise<PartRow> {
  const staged = await storage.blobs.ingest(input.body, {
    expectedSize: input.expectedSize,
    maxSize: storage.maxObjectSize,
    checksums: checksumsToCompute(input.expected, input.checksumAlgorithms),
    // A part file is sealed under its bucket's key like a blob (its row keeps its SHA-256, which opens it).
    seal: await storage.sealing?.sealingKey(bucket.id),
  });
  try {
    checkContent(input.expected, staged);
  } catch (err) {
    await storage.blobs.discard(staged);
    throw err;
  }
  let ref: string | undefined;
  let replaced: string | undefined;
  let part: PartRow;
  try {
    part = await asPrincipal(storage.sql, input.principal, async (tx) => {
      // The part file is moved under its upload while this transaction holds
      // the upload row (KEY SHARE, the lock its foreign key takes anyway):
      // the orphan sweeper takes the row FOR UPDATE before it removes part
      // files that no row names, so it never sees a file between its rename
      // and its row's commit (src/maintenance/sweeper.ts).
      const [upload] = await tx`select id from storage.multipart_uploads where id = ${input.uploadId} for key share`;
      if (!upload) throw noSuchUpload(input.uploadId);
      ref = await storage.blobs.keepPart(bucket.id, input.uploadId, input.partNumber, staged);
      const [old] = await tx<{ path: string }[]>`
        select path from storage.multipart_parts
        where upload_id = ${input.uploadId} and part_number = ${input.partNumber} for update`;
      const [row] = await tx<PartRow[]>`
        insert into storage.multipart_parts (upload_id, part_number, size, etag, sha256, checksums, path)
        values (${input.uploadId}, ${input.partNumber}, ${staged.size}, ${`"${staged.md5.toString('hex')}"`},
          ${staged.sha256}, ${tx.json(staged.checksums)}, ${ref})
        on conflict (upload_id, part_number) do update set size = excluded.size, etag = excluded.etag,
          sha256 = excluded.sha256, checksums = excluded.checksums, path = excluded.path, uploaded_at = now()
        returning *`;
      replaced = old?.path;
      return row;
    });
  } catch (err) {
    if (ref === undefined) await storage.blobs.discard(staged);
    else await storage.blobs.removePart(ref).catch(() => {});
    // The upload was completed or aborted meanwhile: its row (the foreign key) is gone.
    if ((err as { code?: string }).code === '23503') throw noSuchUpload(input.uploadId);
    rethrowRefusal(err);
  }
  if (replaced && replaced !== ref) await storage.blobs.removePart(replaced).catch(() => {});
  return part;
}

/** The largest source range one UploadPartCopy may copy (S3: a part is at most 5 GiB). */
export const MAX_PART_SIZE = 5 * 1024 ** 3;

export interface UploadPartCopyInput {
  bucket: string;
  key: string;
  uploadId: string;
  partNumber: number;
  sourceBucket: string;
  sourceKey: string;
  /** The source's version (x-amz-copy-source ?versionId=); none: its current one. */
  sourceVersionId?: string;
  /** x-amz-copy-source-range, already parsed: inclusive offsets; undefined copies the whole source. */
  range?: { first: number; last: number };
  /** Preconditions on the source (x-amz-copy-source-if-*): throw to refuse. */
  checkSource?: (source: ObjectRow) => void;
  principal: Principal;
}

export interface UploadPartCopyResult {
  /** The version copied from (x-amz-copy-source-version-id). */
  sourceVersion?: string;
  part: PartRow;
  /** The upload's checksum algorithm, whose value the part carries. */
  checksumAlgorithm: ChecksumAlgorithm | null;
}

/**
 * UploadPartCopy: the source's bytes (or a range of them) are streamed
 * through the very path an UploadPart body takes, so the result is an
 * ordinary part: its own file, MD5 ETag, and the upload's checksum.
 */
export async function uploadPartCopy(storage: Services, input: UploadPartCopyInput): Promise<UploadPartCopyResult> {
  const bucket = await requireBucket(storage, input.bucket);
  await requireWriteOf(storage, bucket, input.principal, writerOf(input.key, input.principal));
  const upload = await findUpload(storage, bucket, input.key, input.uploadId, input.principal);
  const found = await copySource(storage, input.sourceBucket, input.sourceKey, input.principal, input.sourceVersionId);
  const source = found.object;
  input.checkSource?.(source);
  let range: { start: number; end: number } | undefined;
  if (input.range) {
    if (input.range.last >= source.size || input.range.first > input.range.last) {
      throw new DomainError('InvalidArgument', `Range specified is not valid for source object of size: ${source.size}`, {
        ArgumentName: 'x-amz-copy-source-range',
        ArgumentValue: `bytes=${input.range.first}-${input.range.last}`,
      });
    }
    range = { start: input.range.first, end: input.range.last };
  }
  const size = range ? range.end - range.start + 1 : source.size;
  if (size > MAX_PART_SIZE) {
    throw new DomainError('InvalidRequest', 'The specified copy source is larger than the maximum allowable size for a copy source: 5368709120');
  }
  // An empty source has no bytes to open a range on.
  const body = size === 0 ? Readable.from([]) : await openObject(storage, found, range);
  try {
    const part = await storePart(storage, bucket, {
      uploadId: upload.id,
      partNumber: input.partNumber,
      body,
      expectedSize: size,
      principal: input.principal,
      checksumAlgorithms: upload.checksum_algorithm ? [upload.checksum_algorithm] : undefined,
      // A whole single-blob source: the bytes read must be the bytes its row names.
      expected: range ? undefined : { source: { name: `${found.bucket.name}/${source.key}`, sha256: source.sha256 } },
    });
    return { part, checksumAlgorithm: upload.checksum_algorithm, sourceVersion: found.bucket.versioning ? source.version : undefined };
  } finally {
    body.destroy();
  }
}

/** The ETag S3 gives a multipart object: MD5 of the parts' binary MD5s, then `-N`. */
export function multipartEtag(partEtags: readonly string[]): string {
  const h = createHash('md5');
  for (const etag of partEtags) h.update(Buffer.from(etag.replace(/"/g, ''), 'hex'));
  return `"${h.digest('hex')}-${partEtags.length}"`;
}

export type ChecksumType = 'FULL_OBJECT' | 'COMPOSITE';

/**
 * S3's rules for x-amz-checksum-type (Checking object integrity, "Using
 * full object checksums for multipart upload"): FULL_OBJECT only with the
 * CRC algorithms, CRC64NVME only as FULL_OBJECT (core/checksums.ts), a type
 * needs an algorithm.
 */
export function resolveChecksumType(algorithm: ChecksumAlgorithm | undefined, type: ChecksumType | undefined): ChecksumType | undefined {
  if (!algorithm) {
    if (type) throw new DomainError('InvalidRequest', 'The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.');
    return undefined;
  }
  const chosen = type ?? (algorithm === 'CRC64NVME' ? 'FULL_OBJECT' : 'COMPOSITE');
  if (chosen === 'FULL_OBJECT' && !FULL_OBJECT_ALGORITHMS.includes(algorithm)) {
    throw new DomainError('InvalidRequest', `The FULL_OBJECT checksum type cannot be used with the ${algorithm.toLowerCase()} checksum algorithm.`);
  }
  if (chosen === 'COMPOSITE' && algorithm === 'CRC64NVME') {
    throw new DomainError('InvalidRequest', 'The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.');
  }
  return chosen;
}

/** A composite checksum (checksum of the parts' checksums, then `-N`), when every part has one. */
async function compositeChecksum(algorithm: ChecksumAlgorithm | null, parts: readonly PartRow[]): Promise<string | undefined> {
  if (!algorithm || parts.some((p) => !p.checksums[algorithm])) return undefined;
  const value = await checksumOf(algorithm, ...parts.map((p) => Buffer.from(p.checksums[algorithm] as string, 'base64')));
  return `${value}-${parts.length}`;
}

export interface CompleteInput {
  bucket: string;
  key: string;
  uploadId: string;
  /** As listed by the client: ETags with or without quotes. */
  parts: ReadonlyArray<{ partNumber: number; etag: string }>;
  principal: Principal;
  condition?: WriteCondition;
  /** A full-object checksum the client sent on Complete (x-amz-checksum-*), verified for FULL_OBJECT uploads. */
  expectedChecksum?: { algorithm: ChecksumAlgorithm; value: string };
  /** x-amz-checksum-type sent on Complete: must be the upload's. */
  checksumType?: ChecksumType;
}

export interface CompleteResult {
  bucket: BucketRow;
  /** The object's ETag. */
  etag: string;
  checksum?: { algorithm: ChecksumAlgorithm; value: string; type: ChecksumType };
  /** The object the completion created (unknown when answering a retried completion). */
  object?: ObjectRow;
}

const bareEtag = (etag: string) => etag.trim().replace(/^"|"$/g, '');

/**
 * The part list a Complete names, one entry per part: part numbers must not
 * go down (InvalidPartOrder), and a number listed again names that part as
 * its last entry does — a client that sent a part twice lists both answers,
 * the later one last (S3 answers such a list; issue 16.5).
 */
function completionList(parts: CompleteInput['parts']): Array<{ partNumber: number; etag: string }> {
  if (parts.length === 0) throw new DomainError('MalformedXML', 'You must specify at least one part.');
  const list: Array<{ partNumber: number; etag: string }> = [];
  for (const part of parts) {
    const last = list[list.length - 1];
    if (last && part.partNumber < last.partNumber) throw new DomainError('InvalidPartOrder');
    if (last && part.partNumber === last.partNumber) list[list.length - 1] = part;
    else list.push(part);
  }
  return list;
}

/** A completion as storage.completed_uploads keeps it (migration 0019). */
interface CompletedRow {
  parts: Array<[number, string]>;
  etag: string;
  checksum: CompleteResult['checksum'] | null;
}

/** The list as recorded and compared: part numbers and bare ETags (as a first Complete compares them). */
const recordedParts = (list: ReadonlyArray<{ partNumber: number; etag: string }>): Array<[number, string]> =>
  list.map((p) => [p.partNumber, bareEtag(p.etag)]);

/**
 * A Complete of an upload that is gone: if it was completed with this very
 * part list, the answer it got then (every SDK retries a Complete whose
 * answer it did not receive, and S3 answers the retry as it answered the
 * first); otherwise NoSuchUpload, as S3 answers for an upload completed with
 * other parts, aborted or never there.
 */
async function earlierCompletion(
  storage: Services,
  bucket: BucketRow,
  input: CompleteInput,
  list: ReadonlyArray<{ partNumber: number; etag: string }>,
): Promise<CompleteResult> {
  const [done] = await readAs(storage.sql, input.principal, (tx) => tx<CompletedRow[]>`
    select parts, etag, checksum from storage.completed_uploads
    where id = ${input.uploadId} and bucket_id = ${bucket.id} and key = ${input.key}`);
  if (!done || JSON.stringify(done.parts) !== JSON.stringify(recordedParts(list))) throw noSuchUpload(input.uploadId);
  return { bucket, etag: done.etag, checksum: done.checksum ?? undefined };
}

export async function completeUpload(storage: Services, input: CompleteInput): Promise<CompleteResult> {
  const bucket = await requireBucket(storage, input.bucket);
  await requireWriteOf(storage, bucket, input.principal, writerOf(input.key, input.principal));
  const list = completionList(input.parts);
  let upload: UploadRow;
  try {
    upload = await findUpload(storage, bucket, input.key, input.uploadId, input.principal);
  } catch (err) {
    if (isNoSuchUpload(err)) return earlierCompletion(storage, bucket, input, list);
    throw err;
  }
  // An upload that named no algorithm gets S3's default, a FULL_OBJECT CRC64NVME.
  const uploadType = upload.checksum_algorithm ? (upload.checksum_type ?? 'COMPOSITE') : 'FULL_OBJECT';
  if (input.checksumType && input.checksumType !== uploadType) {
    throw new DomainError(
      'InvalidRequest',
      `The upload was created using the ${uploadType} checksum mode. The complete request must use the same checksum mode.`,
    );
  }
  const stored = await readAs(storage.sql, input.principal, (tx) => tx<PartRow[]>`
    select * from storage.multipart_parts where upload_id = ${upload.id} order by part_number`);
  const byNumber = new Map(stored.map((p) => [p.part_number, p]));
  const chosen: PartRow[] = [];
  for (const listed of list) {
    const part = byNumber.get(listed.partNumber);
    if (!part || bareEtag(part.etag) !== bareEtag(listed.etag)) {
      throw new DomainError('InvalidPart', undefined, { UploadId: upload.id, PartNumber: String(listed.partNumber), ETag: listed.etag });
    }
    chosen.push(part);
  }
  chosen.forEach((part, i) => {
    if (i < chosen.length - 1 && part.size < MIN_PART_SIZE) {
      throw new DomainError('EntityTooSmall', undefined, {
        ProposedSize: String(part.size),
        MinSizeAllowed: String(MIN_PART_SIZE),
        PartNumber: String(part.part_number),
        ETag: part.etag,
      });
    }
  });
  const total = chosen.reduce((n, p) => n + p.size, 0);
  // A multipart object may pass the single-PUT maximum; only the bucket's own limit binds it.
  checkDeclaredUpload(bucket, bucket.file_size_limit ?? MAX_MULTIPART_OBJECT_SIZE, total, upload.content_type ?? undefined);

  let staged: StagedBlob;
  try {
    staged = await storage.blobs.ingest(Readable.from(concatParts(storage, chosen)), {
      seal: await storage.sealing?.sealingKey(bucket.id),
      expectedSize: total,
      maxSize: MAX_MULTIPART_OBJECT_SIZE,
      // The ETag is the MD5 of the part MD5s: the whole object's MD5 would go unused.
      md5: false,
      // A FULL_OBJECT checksum is over all the bytes, which pass through here
      // anyway; so is S3's default, CRC64NVME, for an upload that asked for none.
      checksums: !upload.checksum_algorithm
        ? storage.defaultChecksum !== false
          ? [DEFAULT_CHECKSUM]
          : []
        : upload.checksum_type === 'FULL_OBJECT'
          ? [upload.checksum_algorithm]
          : [],
    });
  } catch (err) {
    // A part file vanished: the upload was aborted or completed meanwhile.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return earlierCompletion(storage, bucket, input, list);
    throw err;
  }
  const placement = { placed: false };
  let written: PutObjectResult;
  const algorithm = upload.checksum_algorithm ?? DEFAULT_CHECKSUM;
  const checksumType: ChecksumType = upload.checksum_algorithm ? (upload.checksum_type ?? 'COMPOSITE') : 'FULL_OBJECT';
  let objectChecksums: StagedBlob['checksums'] = {};
  const etag = multipartEtag(chosen.map((p) => p.etag));
  // What a retried Complete with this list will be answered (recorded as the upload ends).
  const completion = (): CompletedRow => {
    const value = objectChecksums[algorithm];
    return { parts: recordedParts(list), etag, checksum: value ? { algorithm, value, type: checksumType } : null };
  };
  try {
    // What the first bytes say the object is must be allowed, as for a PUT.
    await checkSniffedType(bucket, staged);
    // The object's checksum, stored and served with checksum mode: FULL_OBJECT
    // over the bytes (checked against one the client sent on Complete), or
    // COMPOSITE over the parts' checksums ("…-N").
    if (checksumType === 'FULL_OBJECT') {
      const value = staged.checksums[algorithm] as string;
      if (input.expectedChecksum && input.expectedChecksum.algorithm === algorithm) {
        assertChecksumMatches(algorithm, input.expectedChecksum.value, value);
      }
      if (value !== undefined) objectChecksums = { [algorithm]: value };
    } else {
      const composite = await compositeChecksum(algorithm, chosen);
      if (composite) objectChecksums = { [algorithm]: composite };
    }
    // The ACL asked for at creation, while ACLs still apply in the bucket (BucketOwnerEnforced may have come since).
    const acl = aclsApply(bucket) ? upload.acl : null;
    written = await commitObject(
      storage,
      bucket,
      {
        bucket: input.bucket,
        key: input.key,
        principal: input.principal,
        condition: input.condition,
        headers: headersOf(upload),
        tags: upload.tags,
        lock: {
          retention: upload.lock_mode && upload.retain_until ? { mode: upload.lock_mode, retainUntil: upload.retain_until } : undefined,
          legalHold: upload.legal_hold ?? undefined,
        },
        access: { acl, owner: ownerOnWrite(bucket, ownerId(input.principal), acl) },
      },
      staged,
      {
        etag,
        checksums: objectChecksums,
        parts: chosen.map((p) => p.size),
        partChecksums: upload.checksum_algorithm ? partChecksumsOf(upload.checksum_algorithm, chosen) : undefined,
        inTransaction: (tx) => claimUpload(tx, upload, chosen, completion()),
      },
      placement,
    );
  } catch (err) {
    // A concurrent Complete of this upload committed first: this one is its retry.
    if (isNoSuchUpload(err)) return earlierCompletion(storage, bucket, input, list);
    throw err;
  } finally {
    if (!placement.placed) await storage.blobs.discard(staged);
  }
  await storage.blobs.removeUpload(bucket.id, upload.id).catch((err) => {
    storage.log.warn({ err, uploadId: upload.id }, 'could not remove the part files of a completed upload');
  });
  const objectChecksum = objectChecksums[algorithm];
  return {
    bucket,
    etag,
    checksum: objectChecksum ? { algorithm, value: objectChecksum, type: checksumType } : undefined,
    object: written.object,
  };
}

/** The parts' checksums in the upload's algorithm, for GetObjectAttributes; none unless every part has one. */
function partChecksumsOf(algorithm: ChecksumAlgorithm, parts: readonly PartRow[]): string[] | undefined {
  const values = parts.map((p) => p.checksums[algorithm]);
  return values.every((v) => v !== undefined) ? (values as string[]) : undefined;
}

async function* concatParts(storage: Services, parts: readonly PartRow[]): AsyncGenerator<Buffer> {
  for (const part of parts) {
    const stream = await storage.blobs.openPart(part.path, { sha256: part.sha256, size: Number(part.size) });
    for await (const chunk of stream) yield chunk as Buffer;
  }
}

/**
 * Inside the completing transaction: locks the upload row (an UploadPart of
 * it now waits, then fails on the foreign key), checks that the parts we
 * assembled are still the ones on record, deletes the upload (its part
 * rows cascade) and records the completion, for a retried Complete.
 */
async function claimUpload(tx: TransactionSql, upload: UploadRow, used: readonly PartRow[], completed: CompletedRow): Promise<void> {
  const uploadId = upload.id;
  const [locked] = await tx`select id from storage.multipart_uploads where id = ${uploadId} for update`;
  if (!locked) throw noSuchUpload(uploadId);
  const current = await tx<{ part_number: number; path: string }[]>`
    select part_number, path from storage.multipart_parts where upload_id = ${uploadId}`;
  const paths = new Map(current.map((p) => [p.part_number, p.path]));
  for (const p of used) {
    if (paths.get(p.part_number) !== p.path) {
      throw new DomainError('InvalidPart', 'A part was uploaded again while the upload was being completed.', {
        UploadId: uploadId,
        PartNumber: String(p.part_number),
      });
    }
  }
  await tx`delete from storage.multipart_uploads where id = ${uploadId}`;
  await tx`
    insert into storage.completed_uploads (id, bucket_id, key, owner_id, parts, etag, checksum)
    values (${uploadId}, ${upload.bucket_id}, ${upload.key}, ${upload.owner_id}, ${tx.json(completed.parts)},
      ${completed.etag}, ${completed.checksum ? tx.json(completed.checksum) : null})`;
}

/** Aborts an upload: its initiator or the bucket's owner may (RLS). */
export async function abortUpload(storage: Services, bucketName: string, key: string, uploadId: string, principal: Principal): Promise<void> {
  const bucket = await requireBucket(storage, bucketName);
  await requireWriteOf(storage, bucket, principal, writerOf(key, principal));
  const [gone] = await asPrincipal(storage.sql, principal, (tx) => tx`
    delete from storage.multipart_uploads where id = ${uploadId} and bucket_id = ${bucket.id} and key = ${key}
    returning id`);
  if (!gone) throw noSuchUpload(uploadId);
  await storage.blobs.removeUpload(bucket.id, uploadId);
}

export interface PartsPage {
  bucket: BucketRow;
  upload: UploadRow;
  parts: PartRow[];
  truncated: boolean;
}

export async function listParts(
  storage: Services,
  bucketName: string,
  key: string,
  uploadId: string,
  principal: Principal,
  opts: { marker: number; maxParts: number },
): Promise<PartsPage> {
  const bucket = await requireBucket(storage, bucketName);
  const upload = await findUpload(storage, bucket, key, uploadId, principal);
  const rows = await readAs(storage.sql, principal, (tx) => tx<PartRow[]>`
    select * from storage.multipart_parts where upload_id = ${uploadId} and part_number > ${opts.marker}
    order by part_number limit ${opts.maxParts + 1}`);
  return { bucket, upload, parts: rows.slice(0, opts.maxParts), truncated: rows.length > opts.maxParts };
}

export interface UploadsPage {
  bucket: BucketRow;
  uploads: UploadRow[];
  commonPrefixes: string[];
  truncated: boolean;
  /** Where the next page starts (NextKeyMarker / NextUploadIdMarker). */
  nextKeyMarker?: string;
  nextUploadIdMarker?: string;
}

/** Above every key under a prefix: the prefix followed by the highest code point. */
const AFTER_PREFIX = '\u{10FFFF}';

/**
 * ListMultipartUploads: uploads in key order, then by initiation time; with
 * a delimiter, keys roll up into common prefixes (each counts as one entry).
 */
export async function listUploads(
  storage: Services,
  bucketName: string,
  principal: Principal,
  opts: { prefix: string; delimiter: string; keyMarker: string; uploadIdMarker: string; maxUploads: number },
): Promise<UploadsPage> {
  const bucket = await requireBucket(storage, bucketName);
  await requireListing(storage, bucket, principal);
  // RLS shows each principal the uploads it initiated (all of them to the bucket's owner).
  // Position: strictly after (key, initiated_at, id) of an upload, or after every upload of a key.
  // The upload's own row is compared in SQL: timestamps keep microseconds there, not in a JS Date.
  let pos: { key: string; id?: string } | undefined;
  if (opts.keyMarker !== '') {
    pos = { key: opts.keyMarker };
    // A marker that is a common prefix (as NextKeyMarker is after one) means "after everything under it".
    const rest = opts.keyMarker.startsWith(opts.prefix) ? opts.keyMarker.slice(opts.prefix.length) : '';
    if (opts.delimiter !== '' && rest.indexOf(opts.delimiter) !== -1 && rest.indexOf(opts.delimiter) === rest.length - opts.delimiter.length) {
      pos = { key: opts.keyMarker + AFTER_PREFIX };
    } else if (opts.uploadIdMarker !== '') {
      const [m] = await readAs(storage.sql, principal, (tx) => tx`
        select 1 from storage.multipart_uploads
        where id = ${opts.uploadIdMarker} and bucket_id = ${bucket.id} and key = ${opts.keyMarker}`);
      if (m) pos = { key: opts.keyMarker, id: opts.uploadIdMarker };
    }
  }
  const page: UploadsPage = { bucket, uploads: [], commonPrefixes: [], truncated: false };
  const max = opts.maxUploads;
  let last: { key: string; id?: string } | undefined;
  const batchSize = Math.min(max + 1, 1001);
  for (;;) {
    const at = pos;
    const after = (tx: TransactionSql) =>
      at
        ? at.id !== undefined
          ? tx`and (key, initiated_at, id) > (select key, initiated_at, id from storage.multipart_uploads where id = ${at.id})`
          : tx`and key > ${at.key}`
        : tx``;
    const rows = await readAs(storage.sql, principal, (tx) => tx<UploadRow[]>`
      select * from storage.multipart_uploads
      where bucket_id = ${bucket.id} and key >= ${opts.prefix} and key < ${opts.prefix + AFTER_PREFIX} ${after(tx)}
      order by key, initiated_at, id limit ${batchSize}`);
    let rolledUp = false;
    for (const row of rows) {
      if (page.uploads.length + page.commonPrefixes.length === max) {
        page.truncated = true;
        page.nextKeyMarker = last?.key;
        page.nextUploadIdMarker = last?.id;
        return page;
      }
      const rest = row.key.slice(opts.prefix.length);
      const at = opts.delimiter === '' ? -1 : rest.indexOf(opts.delimiter);
      if (at !== -1) {
        const prefix = opts.prefix + rest.slice(0, at + opts.delimiter.length);
        page.commonPrefixes.push(prefix);
        last = { key: prefix };
        // Skip everything under the prefix: the next query starts above it.
        pos = { key: prefix + AFTER_PREFIX };
        rolledUp = true;
        break;
      }
      page.uploads.push(row);
      last = { key: row.key, id: row.id };
      pos = { key: row.key, id: row.id };
    }
    if (!rolledUp && rows.length < batchSize) return page;
  }
}
