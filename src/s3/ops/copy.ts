// CopyObject: PUT /bucket/key with x-amz-copy-source.
import { versionHeader } from './versioning.ts';
import { expirationHeader } from '../../core/lifecycle.ts';
import { lockFromHeaders } from './object-lock.ts';
import type { IncomingHttpHeaders } from 'node:http';
import { algorithmNamed, CHECKSUM_ALGORITHMS, checksumTypeOf, type ChecksumAlgorithm } from '../../core/checksums.ts';
import { copyObject } from '../../core/copy.ts';
import type { ObjectRow } from '../../core/objects.ts';
import { bucketOf, keyOf, xmlReply, type S3Operation } from '../context.ts';
import { S3Error } from '../errors.ts';
import { checkRequestedEncryption, encryptionHeaderOf } from '../encryption.ts';
import { isoTime, toXml } from '../xml.ts';
import { notModified } from '../../core/read.ts';
import { objectHeadersFrom, taggingFrom } from './put.ts';
import { aclRequestFromHeaders } from './acl.ts';

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

export interface CopySource {
  bucket: string;
  key: string;
  versionId?: string;
}

/**
 * x-amz-copy-source: `[/]bucket/key[?versionId=…]`, URL-encoded (a literal
 * '?' in a key arrives as %3F; '+' is a plus, as in a path). A versionId
 * names the source's version (core/versions.ts checks it).
 */
export function parseCopySource(raw: string): CopySource {
  const invalid = (message: string) =>
    new S3Error('InvalidArgument', message, { ArgumentName: 'x-amz-copy-source', ArgumentValue: raw });
  const q = raw.indexOf('?');
  const path = (q === -1 ? raw : raw.slice(0, q)).replace(/^\//, '');
  const versionId = q === -1 ? undefined : (new URLSearchParams(raw.slice(q + 1)).get('versionId') ?? undefined);
  const slash = path.indexOf('/');
  if (slash <= 0 || slash === path.length - 1) {
    throw invalid('Copy Source must mention the source bucket and key: sourcebucket/sourcekey');
  }
  let source: CopySource;
  try {
    source = { bucket: decodeURIComponent(path.slice(0, slash)), key: decodeURIComponent(path.slice(slash + 1)), versionId };
  } catch {
    throw invalid('Invalid copy source encoding.');
  }
  // No key holds a NUL (Postgres text cannot): refused, not looked up.
  if (source.key.includes('\0')) throw invalid('Copy Source key must not contain a NUL character.');
  return source;
}

function directive(headers: IncomingHttpHeaders, name: string, what: string): 'COPY' | 'REPLACE' {
  const v = header(headers, name);
  if (v === undefined || v === 'COPY') return 'COPY';
  if (v === 'REPLACE') return 'REPLACE';
  throw new S3Error('InvalidArgument', `Unknown ${what} directive.`, { ArgumentName: name, ArgumentValue: v });
}

/**
 * x-amz-copy-source-if-*, as S3 documents their combinations: if-match
 * that holds overrides a failing if-unmodified-since; if-none-match that
 * fails is 412 whatever if-modified-since says. Every failure is 412.
 * Last-Modified has one-second resolution on the wire, so compare at that.
 */
export function checkCopyConditions(headers: IncomingHttpHeaders, o: ObjectRow): void {
  const prefix = 'x-amz-copy-source-';
  const failed = notModified(
    {
      ifMatch: header(headers, `${prefix}if-match`),
      ifNoneMatch: header(headers, `${prefix}if-none-match`),
      ifModifiedSince: header(headers, `${prefix}if-modified-since`),
      ifUnmodifiedSince: header(headers, `${prefix}if-unmodified-since`),
      prefix,
    },
    o,
  );
  if (failed) throw new S3Error('PreconditionFailed', undefined, { Condition: prefix + failed });
}

function requestedChecksum(headers: IncomingHttpHeaders): ChecksumAlgorithm | undefined {
  const v = header(headers, 'x-amz-checksum-algorithm');
  if (v === undefined) return undefined;
  const a = algorithmNamed(v);
  if (!a) throw new S3Error('InvalidRequest', 'Value for x-amz-checksum-algorithm header is invalid.');
  return a;
}

export const copyObjectOp: S3Operation = async (ctx) => {
  const h = ctx.req.headers;
  checkRequestedEncryption(h);
  const source = parseCopySource(header(h, 'x-amz-copy-source') ?? '');
  const metadata = directive(h, 'x-amz-metadata-directive', 'metadata');
  // Tags: COPY keeps the source's (x-amz-tagging is ignored), REPLACE takes x-amz-tagging (none when absent).
  const replaceTags = directive(h, 'x-amz-tagging-directive', 'tagging') === 'REPLACE' ? (taggingFrom(h) ?? {}) : undefined;
  const checksumAlgorithm = requestedChecksum(h);
  const { object, bucket, source: copied, sourceBucket } = await copyObject(ctx.storage, {
    sourceBucket: source.bucket,
    sourceKey: source.key,
    sourceVersionId: source.versionId,
    bucket: bucketOf(ctx),
    key: keyOf(ctx),
    principal: ctx.principal,
    replaceHeaders: metadata === 'REPLACE' ? objectHeadersFrom(h, header(h, 'content-encoding') || undefined) : undefined,
    ...(replaceTags ? { replaceTags } : {}),
    checksumAlgorithm,
    // The copy's ACL and lock are the request's, never the source's (as on S3).
    acl: aclRequestFromHeaders(h),
    lock: lockFromHeaders(h),
    changesOtherAttributes:
      checksumAlgorithm !== undefined ||
      h['x-amz-storage-class'] !== undefined ||
      h['x-amz-website-redirect-location'] !== undefined ||
      h['x-amz-server-side-encryption'] !== undefined,
    checkSource: (o) => checkCopyConditions(h, o),
  });
  const checksums: Record<string, string> = {};
  for (const a of CHECKSUM_ALGORITHMS) {
    const value = object.checksums[a];
    if (value !== undefined) checksums[`Checksum${a}`] = value;
  }
  const type = Object.values(object.checksums)[0];
  const reply = xmlReply(
    toXml('CopyObjectResult', {
      ETag: object.etag,
      LastModified: isoTime(object.updated_at),
      ...(type !== undefined ? { ChecksumType: checksumTypeOf(type) } : {}),
      ...checksums,
    }),
  );
  const sourceVersion = sourceBucket.versioning ? { 'x-amz-copy-source-version-id': copied.version } : {};
  // The new object's lifecycle expiration, as on PutObject (core/lifecycle.ts).
  const expiration = { 'x-amz-expiration': expirationHeader(bucket, object) };
  const encryption = await encryptionHeaderOf(ctx.storage, bucket.id, object);
  return { ...reply, headers: { ...reply.headers, ...versionHeader(bucket, object.version), ...sourceVersion, ...expiration, ...encryption } };
};
