// GetObject and HeadObject.
import { contentSafetyHeaders } from '../../http/content-safety.ts';
import { openObject, type ObjectRow } from '../../core/objects.ts';
import { findVersion } from '../../core/versions.ts';
import { versionHeader } from './versioning.ts';
import { lockHeaders } from './object-lock.ts';
import { checksumHeaderName, checksumTypeOf, type ChecksumAlgorithm } from '../../core/checksums.ts';
import { tagCount } from '../../core/tagging.ts';
import { expirationHeader } from '../../core/lifecycle.ts';
import { bucketOf, keyOf, type HeaderValue, type S3Context, type S3Operation } from '../context.ts';
import type { ByteRange } from '../../blobs/store.ts';
import { notModified, parseRange, readConditionsOf } from '../../core/read.ts';
import { S3Error } from '../errors.ts';
import { encryptionHeaderOf } from '../encryption.ts';

/** What S3 reports for an object stored without a Content-Type. */
const DEFAULT_CONTENT_TYPE = 'binary/octet-stream';

/** Characters Node refuses in a header value (and so would fail the whole reply). */
const NOT_HEADER_SAFE = /[^\t\x20-\x7e\x80-\xff]/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

/** A stored value as a header, or nothing when it cannot be one (set through /storage/v1, which allows any text). */
const headerSafe = (value: string | null): string | undefined => (value === null || NOT_HEADER_SAFE.test(value) ? undefined : value);

function objectHeaders(ctx: S3Context, o: ObjectRow, whole: boolean): Record<string, HeaderValue | undefined> {
  const headers: Record<string, HeaderValue | undefined> = {
    'content-type': headerSafe(o.content_type) ?? DEFAULT_CONTENT_TYPE,
    etag: o.etag,
    'last-modified': o.updated_at.toUTCString(),
    'accept-ranges': 'bytes',
    'cache-control': headerSafe(o.cache_control),
    'content-disposition': headerSafe(o.content_disposition),
    'content-encoding': headerSafe(o.content_encoding),
    'content-language': headerSafe(o.content_language),
    expires: headerSafe(o.expires),
  };
  // Metadata is text (PutObject decodes UTF-8 header bytes, s3/ops/put.ts
  // metadataText; /storage/v1 takes any JSON text). A value whose characters
  // all fit in latin1 goes as those bytes, which is how clients read header
  // bytes (so `é` round-trips); for the rest S3's rules for what a header
  // cannot carry: values are RFC 2047-encoded, and entries whose names are
  // not header names are counted in x-amz-missing-meta.
  let missing = 0;
  for (const [name, value] of Object.entries(o.user_metadata)) {
    if (!HEADER_NAME.test(name)) missing++;
    else headers[`x-amz-meta-${name}`] = NOT_HEADER_SAFE.test(value) ? `=?UTF-8?B?${Buffer.from(value).toString('base64')}?=` : value;
  }
  if (missing > 0) headers['x-amz-missing-meta'] = missing;
  const tags = tagCount(o);
  if (tags > 0) headers['x-amz-tagging-count'] = tags;
  // A stored full-object checksum describes the whole body only: never send
  // it with a range, or a client validating it would reject good bytes.
  if (whole && checksumMode(ctx)) {
    for (const [alg, value] of Object.entries(o.checksums)) {
      headers[checksumHeaderName(alg as ChecksumAlgorithm)] = value;
      headers['x-amz-checksum-type'] = checksumTypeOf(value);
    }
  }
  return headers;
}

/** x-amz-checksum-mode: ENABLED — the client wants the stored checksum with the object. */
const checksumMode = (ctx: S3Context): boolean => ctx.req.headers['x-amz-checksum-mode']?.toString().toUpperCase() === 'ENABLED';

/** GetObject's response-* query parameters and the headers they override. */
const RESPONSE_OVERRIDES: ReadonlyArray<[param: string, header: string]> = [
  ['response-content-type', 'content-type'],
  ['response-content-disposition', 'content-disposition'],
  ['response-content-encoding', 'content-encoding'],
  ['response-content-language', 'content-language'],
  ['response-cache-control', 'cache-control'],
  ['response-expires', 'expires'],
];

function applyResponseOverrides(ctx: S3Context, headers: Record<string, HeaderValue | undefined>): void {
  for (const [param, header] of RESPONSE_OVERRIDES) {
    const value = ctx.route.query.get(param);
    if (value === null) continue;
    // S3 honours overrides on authenticated requests only (GetObject docs).
    if (ctx.principal.kind === 'anonymous') {
      throw new S3Error('InvalidRequest', 'Request specific response headers cannot be used for anonymous GET requests.');
    }
    // What Node may write in a header value (no CR, LF, NUL or other controls,
    // nothing beyond latin1): anything else would make the reply itself fail.
    if (/[^\t\x20-\x7e\x80-\xff]/.test(value)) {
      throw new S3Error('InvalidArgument', `${param} holds a character not allowed in an HTTP header.`, { ArgumentName: param });
    }
    headers[header] = value;
  }
}

interface ReadPlan {
  status: number;
  headers: Record<string, HeaderValue | undefined>;
  range?: ByteRange;
  /** false for 304: headers only. */
  withBody: boolean;
}

/**
 * GetObject/HeadObject ?partNumber=N: the byte range of part N of a
 * multipart object, with x-amz-mp-parts-count; a single-PUT object has one
 * part, itself (S3 answers partNumber=1 with the whole object as a 206).
 */
function partRange(ctx: S3Context, object: ObjectRow): { range?: ByteRange; partsCount?: number; index: number } | undefined {
  const raw = ctx.route.query.get('partNumber');
  if (raw === null) return undefined;
  if (!/^\d{1,5}$/.test(raw) || Number(raw) < 1 || Number(raw) > 10_000) {
    throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', {
      ArgumentName: 'partNumber',
      ArgumentValue: raw,
    });
  }
  if (ctx.req.headers.range !== undefined) {
    throw new S3Error('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter.');
  }
  const sizes = object.parts ?? [object.size];
  const n = Number(raw);
  if (n > sizes.length) {
    throw new S3Error('InvalidPartNumber', undefined, { PartNumberRequested: raw, ActualPartCount: String(sizes.length) });
  }
  const start = sizes.slice(0, n - 1).reduce((a, b) => a + b, 0);
  const size = sizes[n - 1];
  return { range: size > 0 ? { start, end: start + size - 1 } : undefined, partsCount: object.parts ? sizes.length : undefined, index: n - 1 };
}

/** Status and headers for a read of `object`: preconditions, Range, overrides. */
function planRead(ctx: S3Context, object: ObjectRow): ReadPlan {
  const part = partRange(ctx, object);
  if (notModified(readConditionsOf(ctx.req.headers), object)) {
    return { status: 304, headers: { etag: object.etag, 'last-modified': object.updated_at.toUTCString() }, withBody: false };
  }
  const range = part ? part.range : parseRange(ctx.req.headers.range, object.size);
  const headers = objectHeaders(ctx, object, !range);
  if (part?.partsCount !== undefined) headers['x-amz-mp-parts-count'] = part.partsCount;
  // In checksum mode a part of a multipart object comes with its own
  // checksum (the upload's algorithm), which its bytes can be checked against.
  const partChecksum = part && object.part_checksums?.[part.index];
  const algorithm = Object.keys(object.checksums)[0] as ChecksumAlgorithm | undefined;
  if (partChecksum && algorithm && checksumMode(ctx)) headers[checksumHeaderName(algorithm)] = partChecksum;
  applyResponseOverrides(ctx, headers);
  // After the overrides: a response-content-type is what the browser sees.
  Object.assign(headers, contentSafetyHeaders(String(headers['content-type'])));
  if (!range) return { status: 200, headers: { ...headers, 'content-length': object.size }, withBody: true };
  headers['content-length'] = range.end - range.start + 1;
  headers['content-range'] = `bytes ${range.start}-${range.end}/${object.size}`;
  return { status: 206, headers, range, withBody: true };
}

/** The object (or the version ?versionId= names) GetObject and HeadObject read. */
export function readTarget(ctx: S3Context) {
  return findVersion(ctx.storage, bucketOf(ctx), keyOf(ctx), ctx.principal, 'content', ctx.route.query.get('versionId') ?? undefined);
}

export const headObjectOp: S3Operation = async (ctx) => {
  const { bucket, object } = await readTarget(ctx);
  const { status, headers } = planRead(ctx, object);
  return {
    status,
    headers: {
      ...headers,
      ...versionHeader(bucket, object.version),
      ...lockHeaders(object),
      'x-amz-expiration': expirationHeader(bucket, object),
      ...(await encryptionHeaderOf(ctx.storage, bucket.id, object)),
    },
  };
};

export const getObjectOp: S3Operation = async (ctx) => {
  const found = await readTarget(ctx);
  const plan = planRead(ctx, found.object);
  // When a lifecycle rule will expire it (core/lifecycle.ts), from the cached bucket row.
  Object.assign(plan.headers, versionHeader(found.bucket, found.object.version), lockHeaders(found.object), {
    'x-amz-expiration': expirationHeader(found.bucket, found.object),
  }, await encryptionHeaderOf(ctx.storage, found.bucket.id, found.object));
  if (!plan.withBody) return { status: plan.status, headers: plan.headers };
  const body = await openObject(ctx.storage, found, plan.range);
  ctx.storage.downloads.record(found.bucket, found.object, ctx.principal, plan.range && `${plan.range.start}-${plan.range.end}`);
  return { status: plan.status, headers: plan.headers, body };
};
