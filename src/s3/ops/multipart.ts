// Multipart upload: CreateMultipartUpload, UploadPart, UploadPartCopy, CompleteMultipartUpload,
// AbortMultipartUpload, ListParts, ListMultipartUploads.
import { CHECKSUM_ALGORITHMS, checksumHeaderName, parseChecksumValue, type ChecksumAlgorithm } from '../../core/checksums.ts';
import {
  abortUpload,
  completeUpload,
  createUpload,
  listParts,
  listUploads,
  MAX_PART_NUMBER,
  uploadPart,
  uploadPartCopy,
} from '../../core/multipart.ts';
import { bucketOf, keyOf, xmlReply, type S3Context, type S3Operation } from '../context.ts';
import { S3Error } from '../errors.ts';
import { versionHeader } from './versioning.ts';
import { expirationHeader } from '../../core/lifecycle.ts';
import { lockFromHeaders } from './object-lock.ts';
import { objectPayload, readXmlBody, storedContentEncoding } from '../request-body.ts';
import { decodeXmlText, isoTime, toXml, type XmlNode } from '../xml.ts';
import { ownerXml } from './bucket.ts';
import { checkCopyConditions, parseCopySource } from './copy.ts';
import { encodingOf } from './list.ts';
import { objectHeadersFrom, taggingFrom, writeConditionFrom } from './put.ts';
import { aclRequestFromHeaders } from './acl.ts';
import { checksumEcho } from '../../core/integrity.ts';
import { checkRequestedEncryption, encryptionHeaderOf, uploadEncryptionHeader } from '../encryption.ts';

const MAX_LISTED = 1000;

function uploadIdOf(ctx: S3Context): string {
  return ctx.route.query.get('uploadId') ?? '';
}

function partNumberOf(ctx: S3Context): number {
  const raw = ctx.route.query.get('partNumber') ?? '';
  if (!/^\d{1,5}$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_PART_NUMBER) {
    throw new S3Error('InvalidArgument', `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive`, {
      ArgumentName: 'partNumber',
      ArgumentValue: raw,
    });
  }
  return Number(raw);
}

/** A non-negative integer query parameter, capped; `fallback` when absent. */
function intParam(ctx: S3Context, name: string, fallback: number, cap = Number.MAX_SAFE_INTEGER): number {
  const raw = ctx.route.query.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) {
    throw new S3Error('InvalidArgument', `Provided ${name} not an integer or within integer range`, { ArgumentName: name, ArgumentValue: raw });
  }
  return Math.min(Number(raw), cap);
}

function ownerNodes(ownerId: string | null): XmlNode {
  return { Initiator: ownerXml(ownerId), Owner: ownerXml(ownerId) };
}

export const createMultipartUploadOp: S3Operation = async (ctx) => {
  checkRequestedEncryption(ctx.req.headers);
  const headers = objectHeadersFrom(ctx.req.headers, storedContentEncoding(ctx.req.headers['content-encoding']));
  const requested = ctx.req.headers['x-amz-checksum-algorithm'];
  let checksumAlgorithm: ChecksumAlgorithm | undefined;
  if (requested !== undefined) {
    checksumAlgorithm = CHECKSUM_ALGORITHMS.find((a) => a === String(requested).trim().toUpperCase());
    if (!checksumAlgorithm) {
      throw new S3Error('InvalidRequest', 'Checksum algorithm provided is unsupported.', { ArgumentName: 'x-amz-checksum-algorithm' });
    }
  }
  const type = checksumTypeHeader(ctx);
  const { upload } = await createUpload(ctx.storage, {
    bucket: bucketOf(ctx),
    key: keyOf(ctx),
    headers,
    principal: ctx.principal,
    checksumAlgorithm,
    checksumType: type,
    tags: taggingFrom(ctx.req.headers),
    acl: aclRequestFromHeaders(ctx.req.headers),
    lock: lockFromHeaders(ctx.req.headers),
  });
  const reply = xmlReply(toXml('InitiateMultipartUploadResult', { Bucket: bucketOf(ctx), Key: keyOf(ctx), UploadId: upload.id }));
  if (checksumAlgorithm && upload.checksum_type) {
    reply.headers = { ...reply.headers, 'x-amz-checksum-algorithm': checksumAlgorithm, 'x-amz-checksum-type': upload.checksum_type };
  }
  reply.headers = { ...reply.headers, ...uploadEncryptionHeader(ctx.storage) };
  return reply;
};

export const uploadPartOp: S3Operation = async (ctx) => {
  const partNumber = partNumberOf(ctx);
  const payload = objectPayload(ctx.req, ctx.signature);
  const part = await uploadPart(ctx.storage, {
    bucket: bucketOf(ctx),
    key: keyOf(ctx),
    uploadId: uploadIdOf(ctx),
    partNumber,
    body: payload.body,
    expectedSize: payload.expectedSize,
    principal: ctx.principal,
    expected: payload.expected,
  });
  return { status: 200, headers: { etag: part.etag, ...checksumEcho(part.checksums), ...uploadEncryptionHeader(ctx.storage) } };
};

/**
 * x-amz-copy-source-range: `bytes=first-last`, both zero-based and
 * inclusive. Whether it fits the source is checked once the source is known.
 */
function copySourceRange(ctx: S3Context): { first: number; last: number } | undefined {
  const raw = ctx.req.headers['x-amz-copy-source-range'];
  if (raw === undefined) return undefined;
  const value = Array.isArray(raw) ? raw.join(',') : raw;
  const m = /^bytes=(\d{1,16})-(\d{1,16})$/.exec(value.trim());
  if (!m || Number(m[1]) > Number(m[2])) {
    throw new S3Error(
      'InvalidArgument',
      'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy',
      { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: value },
    );
  }
  return { first: Number(m[1]), last: Number(m[2]) };
}

/** UploadPartCopy: PUT ?partNumber&uploadId with x-amz-copy-source[-range]. */
export const uploadPartCopyOp: S3Operation = async (ctx) => {
  const h = ctx.req.headers;
  const partNumber = partNumberOf(ctx);
  const rawSource = h['x-amz-copy-source'];
  const source = parseCopySource(Array.isArray(rawSource) ? rawSource.join(',') : (rawSource ?? ''));
  const range = copySourceRange(ctx);
  const { part, checksumAlgorithm, sourceVersion } = await uploadPartCopy(ctx.storage, {
    bucket: bucketOf(ctx),
    key: keyOf(ctx),
    uploadId: uploadIdOf(ctx),
    partNumber,
    sourceBucket: source.bucket,
    sourceKey: source.key,
    sourceVersionId: source.versionId,
    range,
    checkSource: (o) => checkCopyConditions(h, o),
    principal: ctx.principal,
  });
  const body: XmlNode = { ETag: part.etag, LastModified: isoTime(part.uploaded_at) };
  const checksum = checksumAlgorithm ? part.checksums[checksumAlgorithm] : undefined;
  if (checksumAlgorithm && checksum) body[`Checksum${checksumAlgorithm}`] = checksum;
  const reply = xmlReply(toXml('CopyPartResult', body));
  return sourceVersion !== undefined ? { ...reply, headers: { ...reply.headers, 'x-amz-copy-source-version-id': sourceVersion } } : reply;
};

export function listedParts(doc: Record<string, unknown> | undefined): Array<{ partNumber: number; etag: string }> {
  const root = doc?.CompleteMultipartUpload;
  if (root === undefined || root === null) throw new S3Error('MalformedXML');
  // <CompleteMultipartUpload/> parses as '' (no parts): refused below as MalformedXML.
  const parts = typeof root === 'object' ? ((root as { Part?: unknown }).Part ?? []) : [];
  if (!Array.isArray(parts)) throw new S3Error('MalformedXML');
  return parts.map((p: unknown) => {
    const part = (p ?? {}) as { PartNumber?: unknown; ETag?: unknown };
    const n = String(part.PartNumber ?? '');
    if (!/^\d{1,9}$/.test(n) || typeof part.ETag !== 'string') throw new S3Error('MalformedXML');
    return { partNumber: Number(n), etag: decodeXmlText(part.ETag) };
  });
}

export const completeMultipartUploadOp: S3Operation = async (ctx) => {
  const condition = writeConditionFrom(ctx.req.headers);
  const parts = listedParts(
    // Here x-amz-checksum-* is the whole object's checksum (verified at assembly), not the document's.
    await readXmlBody(ctx, { optional: false, checksumHeadersForBody: false }),
  );
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const { bucket: row, etag, checksum, object } = await completeUpload(ctx.storage, {
    bucket,
    key,
    uploadId: uploadIdOf(ctx),
    parts,
    principal: ctx.principal,
    condition,
    expectedChecksum: requestedObjectChecksum(ctx),
    checksumType: checksumTypeHeader(ctx),
  });
  const host = ctx.req.headers.host ?? 'localhost';
  const location = `http://${host}/${encodeURIComponent(bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`;
  const body: XmlNode = { Location: location, Bucket: bucket, Key: key, ETag: etag };
  if (checksum) {
    body[`Checksum${checksum.algorithm}`] = checksum.value;
    body.ChecksumType = checksum.type;
  }
  const reply = xmlReply(toXml('CompleteMultipartUploadResult', body));
  const written = object
    ? { ...versionHeader(row, object.version), 'x-amz-expiration': expirationHeader(row, object), ...(await encryptionHeaderOf(ctx.storage, row.id, object)) }
    : {};
  return { ...reply, headers: { ...reply.headers, ...written } };
};

export const abortMultipartUploadOp: S3Operation = async (ctx) => {
  await abortUpload(ctx.storage, bucketOf(ctx), keyOf(ctx), uploadIdOf(ctx), ctx.principal);
  return { status: 204 };
};

export const listPartsOp: S3Operation = async (ctx) => {
  const maxParts = intParam(ctx, 'max-parts', MAX_LISTED, MAX_LISTED);
  const marker = intParam(ctx, 'part-number-marker', 0);
  const page = await listParts(ctx.storage, bucketOf(ctx), keyOf(ctx), uploadIdOf(ctx), ctx.principal, { marker, maxParts });
  const algorithm = page.upload.checksum_algorithm;
  const last = page.parts[page.parts.length - 1];
  return xmlReply(
    toXml('ListPartsResult', {
      Bucket: bucketOf(ctx),
      Key: keyOf(ctx),
      UploadId: page.upload.id,
      PartNumberMarker: marker,
      NextPartNumberMarker: last ? last.part_number : marker,
      MaxParts: maxParts,
      IsTruncated: page.truncated,
      Part: page.parts.map((p) => {
        const node: XmlNode = { PartNumber: p.part_number, LastModified: isoTime(p.uploaded_at), ETag: p.etag, Size: p.size };
        for (const [alg, value] of Object.entries(p.checksums)) node[`Checksum${alg}`] = value;
        return node;
      }),
      ...ownerNodes(page.upload.owner_id),
      StorageClass: 'STANDARD',
      ChecksumAlgorithm: algorithm ?? undefined,
      ChecksumType: algorithm ? (page.upload.checksum_type ?? undefined) : undefined,
    }),
  );
};

export const listMultipartUploadsOp: S3Operation = async (ctx) => {
  const q = ctx.route.query;
  const enc = encodingOf(ctx);
  const maxUploads = intParam(ctx, 'max-uploads', MAX_LISTED, MAX_LISTED);
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const keyMarker = q.get('key-marker') ?? '';
  const uploadIdMarker = keyMarker === '' ? '' : (q.get('upload-id-marker') ?? '');
  const page = await listUploads(ctx.storage, bucketOf(ctx), ctx.principal, { prefix, delimiter, keyMarker, uploadIdMarker, maxUploads });
  return xmlReply(
    toXml('ListMultipartUploadsResult', {
      Bucket: bucketOf(ctx),
      KeyMarker: enc(keyMarker),
      UploadIdMarker: uploadIdMarker,
      ...(page.truncated ? { NextKeyMarker: enc(page.nextKeyMarker ?? ''), NextUploadIdMarker: page.nextUploadIdMarker ?? '' } : {}),
      ...(delimiter !== '' ? { Delimiter: enc(delimiter) } : {}),
      Prefix: enc(prefix),
      MaxUploads: maxUploads,
      IsTruncated: page.truncated,
      Upload: page.uploads.map((u) => ({
        Key: enc(u.key),
        UploadId: u.id,
        ...ownerNodes(u.owner_id),
        StorageClass: 'STANDARD',
        Initiated: isoTime(u.initiated_at),
        ChecksumAlgorithm: u.checksum_algorithm ?? undefined,
        ChecksumType: u.checksum_algorithm ? (u.checksum_type ?? undefined) : undefined,
      })),
      CommonPrefixes: page.commonPrefixes.map((p) => ({ Prefix: enc(p) })),
      ...(q.has('encoding-type') ? { EncodingType: 'url' } : {}),
    }),
  );
};

/** x-amz-checksum-type: FULL_OBJECT or COMPOSITE (CreateMultipartUpload, CompleteMultipartUpload). */
function checksumTypeHeader(ctx: S3Context): 'FULL_OBJECT' | 'COMPOSITE' | undefined {
  const type = ctx.req.headers['x-amz-checksum-type'];
  if (type === undefined) return undefined;
  if (type !== 'FULL_OBJECT' && type !== 'COMPOSITE') throw new S3Error('InvalidRequest', 'Value for x-amz-checksum-type header is invalid.');
  return type;
}

/** A whole-object checksum sent with CompleteMultipartUpload (x-amz-checksum-<algorithm>). */
function requestedObjectChecksum(ctx: S3Context): { algorithm: ChecksumAlgorithm; value: string } | undefined {
  for (const algorithm of CHECKSUM_ALGORITHMS) {
    const value = ctx.req.headers[checksumHeaderName(algorithm)];
    if (typeof value === 'string') return { algorithm, value: parseChecksumValue(algorithm, value) };
  }
  return undefined;
}
