// PutObject.
import { versionHeader } from './versioning.ts';
import { lockFromHeaders } from './object-lock.ts';
import type { IncomingHttpHeaders } from 'node:http';
import type { ObjectHeaders, WriteCondition } from '../../core/objects.ts';
import { putObject } from '../../core/objects.ts';
import { expirationHeader } from '../../core/lifecycle.ts';
import { parseTaggingHeader, type Tags } from '../../core/tagging.ts';
import { bucketOf, keyOf, type S3Operation } from '../context.ts';
import { S3Error } from '../errors.ts';
import { objectPayload } from '../request-body.ts';
import { checksumEcho } from '../../core/integrity.ts';
import { aclRequestFromHeaders } from './acl.ts';
import { checkRequestedEncryption, encryptionHeaderOf } from '../encryption.ts';

/** S3 caps user-defined metadata at 2 KB: names plus values, in UTF-8 bytes. */
const MAX_USER_METADATA = 2048;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A metadata value as the client meant it. Node hands header bytes over as
 * latin1 characters; the SDKs (boto3, the AWS SDKs) send non-ASCII values as
 * their raw UTF-8 bytes, so bytes that are valid UTF-8 are that text (`é`,
 * not `Ã©`). Other bytes stay latin1 characters, which is what a client
 * writing latin1 (Python's http.client, curl with such bytes) meant.
 * GetObject sends a value back as latin1 when every character fits, so
 * `é` goes back as the byte clients read as `é`, and RFC 2047-encoded
 * otherwise, as S3 does (s3/ops/get.ts).
 */
export function metadataText(value: string): string {
  // Only header bytes (latin1 characters) can be re-read; text beyond latin1 (a form field) is text already.
  if (!/[\x80-\xff]/.test(value) || /[^\x00-\xff]/.test(value)) return value;
  try {
    return strictUtf8.decode(Buffer.from(value, 'latin1'));
  } catch {
    return value;
  }
}

export function objectHeadersFrom(headers: IncomingHttpHeaders, contentEncoding?: string): ObjectHeaders {
  const userMetadata: Record<string, string> = {};
  let metaBytes = 0;
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith('x-amz-meta-') || value === undefined) continue;
    const key = name.slice('x-amz-meta-'.length);
    const text = metadataText(Array.isArray(value) ? value.join(',') : value);
    userMetadata[key] = text;
    metaBytes += Buffer.byteLength(key) + Buffer.byteLength(text);
  }
  if (metaBytes > MAX_USER_METADATA) throw new S3Error('MetadataTooLarge', undefined, { MaxSizeAllowed: String(MAX_USER_METADATA) });
  const one = (name: string) => {
    const v = headers[name];
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  return {
    contentType: one('content-type'),
    contentEncoding,
    contentDisposition: one('content-disposition'),
    contentLanguage: one('content-language'),
    cacheControl: one('cache-control'),
    expires: one('expires'),
    userMetadata,
  };
}

/** x-amz-tagging (PutObject, CreateMultipartUpload, CopyObject with REPLACE), validated; undefined when absent. */
export function taggingFrom(headers: IncomingHttpHeaders): Tags | undefined {
  const v = headers['x-amz-tagging'];
  return v === undefined ? undefined : parseTaggingHeader(Array.isArray(v) ? v.join('&') : v);
}

/** If-None-Match: * and If-Match: <etag> on a write (S3 "conditional writes"). */
export function writeConditionFrom(headers: IncomingHttpHeaders): WriteCondition | undefined {
  const ifNoneMatch = headers['if-none-match'];
  const ifMatch = headers['if-match'];
  if (ifNoneMatch !== undefined && ifMatch !== undefined) {
    throw new S3Error('NotImplemented', 'If-Match and If-None-Match cannot be combined on a write.');
  }
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() !== '*') throw new S3Error('NotImplemented', 'If-None-Match on a write accepts only *.');
    return { ifNoneMatch: '*' };
  }
  return ifMatch === undefined ? undefined : { ifMatch };
}

export const putObjectOp: S3Operation = async (ctx) => {
  checkRequestedEncryption(ctx.req.headers);
  const condition = writeConditionFrom(ctx.req.headers);
  const payload = objectPayload(ctx.req, ctx.signature);
  const headers = objectHeadersFrom(ctx.req.headers, payload.contentEncoding);
  const tags = taggingFrom(ctx.req.headers);
  const acl = aclRequestFromHeaders(ctx.req.headers);
  const { object, bucket } = await putObject(ctx.storage, {
    bucket: bucketOf(ctx),
    key: keyOf(ctx),
    body: payload.body,
    expectedSize: payload.expectedSize,
    headers,
    tags,
    principal: ctx.principal,
    condition,
    expected: payload.expected,
    acl,
    lock: lockFromHeaders(ctx.req.headers),
  });
  // A lifecycle rule that will expire the new object says so (core/lifecycle.ts).
  const expiration = expirationHeader(bucket, object);
  return {
    status: 200,
    headers: {
      etag: object.etag,
      ...checksumEcho(object.checksums, { type: true }),
      ...versionHeader(bucket, object.version),
      'x-amz-expiration': expiration,
      ...(await encryptionHeaderOf(ctx.storage, bucket.id, object)),
    },
  };
};
