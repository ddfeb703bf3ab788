// Server-side AWS Signature Version 2 for S3, the legacy scheme older clients
// still send (s3cmd signurl, aws-cli v1, boto3/fsspec presigning without
// s3v4, older PHP/Java SDKs): `Authorization: AWS <key id>:<signature>` and
// presigned URLs with AWSAccessKeyId, Expires and Signature. On unless
// AEROSTORE_SIGV2=false, and for the S3 API only (authenticate.ts).
// Reference, by AWS doc page name: "Signing and authenticating REST requests
// (AWS signature version 2)" — the string to sign, CanonicalizedAmzHeaders,
// CanonicalizedResource with its sub-resource list, x-amz-date over Date,
// query string authentication with Expires in epoch seconds. Errors are what
// Amazon S3 answered for the same input.
//
// What SigV2 does not sign, and SigV4 does: the Host, the query string but
// for the sub-resources below, every header but Content-MD5, Content-Type,
// Date and x-amz-*, and the body (beyond a Content-MD5). So a captured
// request can be replayed with another prefix or max-keys on a listing, a
// Range, or another body on a PUT, within its time window — as on Amazon S3.
// Guarded here: every query parameter the router selects an operation by
// is a signed sub-resource (or, like `attributes`, needs a signed x-amz-*
// header); the canonical resource is built from the same bucket the router
// takes from a virtual-hosted Host; aws-chunked payloads are refused (their
// chunk signatures need SigV4's key); presigned URLs live at most seven days
// (SigV2 has no signing time, so the week is counted back from Expires);
// the admin and /storage/v1 APIs never accept SigV2.
import { createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { DomainError } from '../core/errors.ts';
import { classifyPayload, signaturesEqual, splitTarget, type SecretLookup, type SignedRequestInput, type SigV2Signature } from './sigv4.ts';

/**
 * Query parameters that are part of the CanonicalizedResource: S3's list
 * (acl, lifecycle, location, logging, notification, partNumber, policy,
 * requestPayment, uploadId, uploads, versionId, versioning, versions,
 * website, the response-* overrides, delete) and what the clients we
 * target sign besides (botocore's HmacV1Auth list, s3cmd's, MinIO's), and
 * every other sub-resource the router selects a write by (ownershipControls).
 */
export const SIGV2_SUBRESOURCES: ReadonlySet<string> = new Set([
  'accelerate', 'acl', 'analytics', 'cors', 'defaultObjectAcl', 'delete', 'encryption', 'inventory', 'legal-hold',
  'lifecycle', 'location', 'logging', 'metrics', 'notification', 'object-lock', 'ownershipControls', 'partNumber', 'policy', 'replication',
  'requestPayment', 'response-cache-control', 'response-content-disposition', 'response-content-encoding',
  'response-content-language', 'response-content-type', 'response-expires', 'restore', 'retention', 'select',
  'select-type', 'storageClass', 'tagging', 'torrent', 'uploadId', 'uploads', 'versionId', 'versioning', 'versions',
  'website',
]);

/** The longest a presigned SigV2 URL may still be valid, from the request: a week, as SigV4's X-Amz-Expires. */
export const MAX_SIGV2_PRESIGN_SECONDS = 604_800;
const DEFAULT_MAX_SKEW_SECONDS = 900;

export type SigV2Flavour = 'header' | 'query';

export interface SigV2Options {
  now?: Date;
  /** Allowed clock difference for header auth (S3: 15 minutes). */
  maxSkewSeconds?: number;
  /** The bucket a virtual-hosted-style Host names (router.ts bucketFromHost): the canonical resource starts with it. */
  hostBucket?: string;
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(',') : v;
}

function queryOf(url: string): URLSearchParams {
  return new URLSearchParams(splitTarget(url).query);
}

/**
 * The SigV2 form a request is signed with, if any: an `AWS ` Authorization
 * header, or (without one, and without SigV4's X-Amz-* parameters) a query
 * naming AWSAccessKeyId or Signature.
 */
export function sigV2Flavour(req: Pick<SignedRequestInput, 'url' | 'headers'>): SigV2Flavour | undefined {
  const auth = single(req.headers.authorization);
  if (auth !== undefined) return /^AWS\s/.test(auth) ? 'header' : undefined;
  const query = queryOf(req.url);
  if (query.has('X-Amz-Algorithm') || query.has('X-Amz-Credential') || query.has('X-Amz-Signature')) return undefined;
  return query.has('AWSAccessKeyId') || query.has('Signature') ? 'query' : undefined;
}

/** A string of bytes (latin1) from text: its UTF-8 encoding. */
function utf8Bytes(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}

/**
 * A header value as the bytes the client sent: Node decodes header bytes as
 * latin1, so this is what it signed. Characters above U+00FF cannot have come
 * from Node; they are taken as text and UTF-8 encoded.
 */
function headerBytes(v: string): string {
  return /[^\x00-\xff]/.test(v) ? utf8Bytes(v) : v;
}

/**
 * CanonicalizedAmzHeaders: every x-amz-* header, lower-cased, sorted, values
 * trimmed, repeated headers joined with ',', each line ending in '\n'. With
 * query authentication the x-amz-* query parameters count as headers too
 * (botocore moves x-amz-security-token and the other x-amz-* headers it
 * signed into the URL).
 */
export function canonicalAmzHeaders(headers: IncomingHttpHeaders, queryHeaders?: URLSearchParams, omit?: string): string {
  const values = new Map<string, string[]>();
  const add = (name: string, value: string) => {
    const list = values.get(name) ?? [];
    list.push(value.trim());
    values.set(name, list);
  };
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith('x-amz-') || name === omit || value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) add(name, headerBytes(v));
  }
  for (const [name, value] of queryHeaders ?? []) {
    const lower = name.toLowerCase();
    if (lower.startsWith('x-amz-')) add(lower, utf8Bytes(value));
  }
  return [...values.keys()]
    .sort()
    .map((name) => `${name}:${(values.get(name) as string[]).join(',')}\n`)
    .join('');
}

/** A path-style request to a bucket itself, written without the slash after it (`/bucket`). */
function isBareBucketPath(url: string, hostBucket: string | undefined): boolean {
  return hostBucket === undefined && /^\/[^/]+$/.test(splitTarget(url).path);
}

/**
 * CanonicalizedResource: `/<bucket>` when the Host named it, the path as
 * sent (not decoded), then the sub-resources present, sorted by name, with
 * their decoded values (`?acl&versionId=v`). Parameters are decoded as the
 * router decodes them (URLSearchParams), so a sub-resource the router acts on
 * is always one the signature covers, however it was spelled. A bucket named
 * path-style without its slash (`/bucket`) is `/bucket/`, as S3 names a
 * bucket (botocore and boto sign that); `asSent` keeps it `/bucket`.
 */
export function canonicalResource(url: string, hostBucket?: string, asSent = false): string {
  const { path, query } = splitTarget(url);
  let resource = (hostBucket !== undefined ? `/${hostBucket}` : '') + (path === '' ? '/' : path);
  if (!asSent && isBareBucketPath(url, hostBucket)) resource += '/';
  const subresources = [...new URLSearchParams(query)]
    .filter(([name]) => SIGV2_SUBRESOURCES.has(name))
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([name, value]) => (value === '' ? name : `${name}=${value}`));
  if (subresources.length) resource += '?' + subresources.join('&');
  return utf8Bytes(resource);
}

/**
 * The string to sign, as bytes in a latin1 string: method, Content-MD5,
 * Content-Type, the date line (Expires for query authentication; empty when
 * x-amz-date is present; else Date), CanonicalizedAmzHeaders,
 * CanonicalizedResource.
 */
export function stringToSignV2(
  req: SignedRequestInput,
  dateLine: string,
  opts: { hostBucket?: string; queryHeaders?: URLSearchParams; omitAmzHeader?: string; resourceAsSent?: boolean } = {},
): string {
  const header = (name: string) => headerBytes(single(req.headers[name])?.trim() ?? '');
  return (
    `${req.method}\n${header('content-md5')}\n${header('content-type')}\n${dateLine}\n` +
    canonicalAmzHeaders(req.headers, opts.queryHeaders, opts.omitAmzHeader) +
    canonicalResource(req.url, opts.hostBucket, opts.resourceAsSent)
  );
}

/** Base64 HMAC-SHA1 of bytes (a latin1 string) under a secret: a SigV2 signature, and a SigV2 POST policy's. */
export function signV2(secretAccessKey: string, bytes: string): string {
  return createHmac('sha1', Buffer.from(secretAccessKey, 'utf8')).update(Buffer.from(bytes, 'latin1')).digest('base64');
}

function hexBytes(bytes: string): string {
  return Buffer.from(bytes, 'latin1').toString('hex').replace(/(..)(?!$)/g, '$1 ');
}

/** A time as S3 prints it in error details; beyond what a Date holds (Expires may have 15 digits), the epoch seconds. */
function iso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms / 1000) : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

interface Claimed {
  flavour: SigV2Flavour;
  accessKeyId: string;
  signature: string;
  dateLine: string;
  queryHeaders?: URLSearchParams;
  /** x-amz-date, when the request's time is in it. */
  amzDate?: string;
}

function fromHeader(auth: string, headers: IncomingHttpHeaders, query: URLSearchParams, now: Date, maxSkewMs: number): Claimed {
  for (const name of ['AWSAccessKeyId', 'Signature', 'X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature']) {
    if (query.has(name)) {
      throw new DomainError(
        'InvalidArgument',
        'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
        { ArgumentName: 'Authorization', ArgumentValue: auth },
      );
    }
  }
  const m = /^AWS\s+([^:\s]+):(\S+)$/.exec(auth.trim());
  if (!m) {
    throw new DomainError('InvalidArgument', 'AWS authorization header is invalid.  Expected AwsAccessKeyId:signature', {
      ArgumentName: 'Authorization',
      ArgumentValue: auth,
    });
  }
  // x-amz-date, when present, is the request's time and the Date line is empty.
  const amzDate = single(headers['x-amz-date']);
  const date = single(headers['date']);
  const stamp = amzDate ?? date;
  const time = stamp === undefined ? NaN : parseRequestTime(stamp);
  if (Number.isNaN(time)) throw new DomainError('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  if (Math.abs(now.getTime() - time) > maxSkewMs) {
    throw new DomainError('RequestTimeTooSkewed', undefined, {
      RequestTime: stamp as string,
      ServerTime: iso(now.getTime()),
      MaxAllowedSkewMilliseconds: String(maxSkewMs),
    });
  }
  return { flavour: 'header', accessKeyId: m[1], signature: m[2], dateLine: amzDate !== undefined ? '' : headerBytes(date ?? ''), amzDate };
}

/** An HTTP date (RFC 9110: IMF-fixdate and the obsolete forms, which Date.parse reads) or ISO 8601 basic (20130524T000000Z). */
function parseRequestTime(value: string): number {
  const basic = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value.trim());
  if (basic) {
    const [y, mo, d, h, mi, s] = basic.slice(1).map(Number);
    return Date.UTC(y, mo - 1, d, h, mi, s);
  }
  return Date.parse(value);
}

function fromQuery(query: URLSearchParams, now: Date, maxSkewMs: number): Claimed {
  const accessKeyId = query.get('AWSAccessKeyId');
  const signature = query.get('Signature');
  const expires = query.get('Expires');
  if (!accessKeyId || !signature || expires === null) {
    throw new DomainError('AccessDenied', 'Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters');
  }
  if (!/^\d{1,15}$/.test(expires)) throw new DomainError('AccessDenied', `Invalid date (should be seconds since epoch): ${expires}`);
  const expiresMs = Number(expires) * 1000;
  if (now.getTime() > expiresMs) {
    throw new DomainError('AccessDenied', 'Request has expired', { Expires: iso(expiresMs), ServerTime: iso(now.getTime()) });
  }
  // SigV2 has no signing time: an Expires years ahead would be a credential
  // for years. Held to SigV4's week, counted from now (with the clock skew).
  if (expiresMs - now.getTime() > MAX_SIGV2_PRESIGN_SECONDS * 1000 + maxSkewMs) {
    throw new DomainError(
      'AccessDenied',
      `Expires must be at most ${MAX_SIGV2_PRESIGN_SECONDS} seconds (7 days) from now: a Signature Version 2 URL has no signing time, so this server holds it to a week.`,
      { Expires: iso(expiresMs), ServerTime: iso(now.getTime()) },
    );
  }
  return { flavour: 'query', accessKeyId, signature, dateLine: expires, queryHeaders: query };
}

/**
 * What a SigV2 request says its payload is. x-amz-content-sha256 is signed
 * (an x-amz-* header): a hex hash is checked against the body like SigV4's;
 * aws-chunked framings are SigV4's (their chunk signatures need its key) and
 * are refused.
 */
function payloadHashOf(headers: IncomingHttpHeaders): string {
  const claimed = single(headers['x-amz-content-sha256']);
  if (claimed === undefined) return 'UNSIGNED-PAYLOAD';
  const kind = classifyPayload(claimed).kind;
  if (kind === 'streaming-signed' || kind === 'streaming-unsigned-trailer') {
    throw new DomainError('InvalidRequest', `x-amz-content-sha256 ${claimed} (an aws-chunked payload) needs a request signed with AWS Signature Version 4.`);
  }
  return claimed;
}

/**
 * Verifies a SigV2-signed S3 request (sigV2Flavour() says it is one). Throws
 * a DomainError for anything that is not a valid signature by a known key, in
 * S3's words.
 */
export async function verifySigV2(req: SignedRequestInput, lookup: SecretLookup, opts: SigV2Options = {}): Promise<SigV2Signature> {
  const now = opts.now ?? new Date();
  const maxSkewMs = (opts.maxSkewSeconds ?? DEFAULT_MAX_SKEW_SECONDS) * 1000;
  const auth = single(req.headers.authorization);
  const query = queryOf(req.url);
  const claimed = auth !== undefined ? fromHeader(auth, req.headers, query, now, maxSkewMs) : fromQuery(query, now, maxSkewMs);
  const payloadHash = payloadHashOf(req.headers);

  const secret = await lookup(claimed.accessKeyId);
  if (!secret) throw new DomainError('InvalidAccessKeyId', undefined, { AWSAccessKeyId: claimed.accessKeyId });
  // The string to sign as S3 builds it, then the spellings of the same
  // request that clients sign and S3 accepted: a bare `/bucket` as sent; and
  // x-amz-date on the Date line rather than among the x-amz-* headers (the
  // S3 guide's own example). Each names the same resource and time; the
  // Date line empty in one and not in the other, and the resource ending
  // differently, no two can be the same string for different requests.
  const base = { hostBucket: opts.hostBucket, queryHeaders: claimed.queryHeaders };
  const spellings = [base, ...(isBareBucketPath(req.url, opts.hostBucket) ? [{ ...base, resourceAsSent: true }] : [])];
  const candidates = spellings.map((o) => stringToSignV2(req, claimed.dateLine, o));
  if (claimed.amzDate !== undefined) {
    const amzDateLine = headerBytes(claimed.amzDate.trim());
    for (const o of spellings) candidates.push(stringToSignV2(req, amzDateLine, { ...o, omitAmzHeader: 'x-amz-date' }));
  }
  const toSign = candidates[0];
  const expected = candidates.map((c) => signV2(secret.secretAccessKey, c)).find((sig) => signaturesEqual(sig, claimed.signature));
  if (expected === undefined) {
    throw new DomainError('SignatureDoesNotMatch', undefined, {
      AWSAccessKeyId: claimed.accessKeyId,
      StringToSign: Buffer.from(toSign, 'latin1').toString('utf8'),
      SignatureProvided: claimed.signature,
      StringToSignBytes: hexBytes(toSign),
    });
  }
  return { version: 2, accessKeyId: claimed.accessKeyId, presigned: claimed.flavour === 'query', payloadHash, seedSignature: expected };
}
