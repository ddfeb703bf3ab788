// A test-side AWS Signature Version 2 signer, written from "Signing and
// authenticating REST requests (AWS signature version 2)" on node:crypto,
// independently of the server's code: header authentication (`Authorization:
// AWS <key id>:<signature>`), presigned URLs (AWSAccessKeyId, Expires,
// Signature) and a SigV2 POST policy's signature.
import { createHmac } from 'node:crypto';
import type { Credentials } from './signer.ts';

/** The sub-resources a SigV2 signer puts in the canonical resource (from botocore's HmacV1Auth list). */
const SUBRESOURCES = new Set([
  'acl', 'cors', 'delete', 'lifecycle', 'location', 'logging', 'notification', 'partNumber', 'policy', 'tagging', 'uploadId',
  'uploads', 'versionId', 'versioning', 'versions', 'website', 'response-content-type', 'response-content-disposition',
  'response-cache-control', 'response-expires', 'response-content-language', 'response-content-encoding',
]);

/** Base64 HMAC-SHA1: a SigV2 signature of a string to sign, or of a POST policy. */
export const hmacSha1Base64 = (secret: string, data: string) => createHmac('sha1', secret).update(data, 'utf8').digest('base64');

export type SigV2Credentials = Credentials & { sessionToken?: string };

export interface SigV2Request {
  method: string;
  /** Path as sent (already percent-encoded), starting with '/'. */
  path: string;
  /** Query parameters, in order; values unencoded. */
  query?: Array<[string, string]>;
  headers?: Record<string, string>;
  /** A virtual-hosted-style bucket: the canonical resource starts with it. */
  hostBucket?: string;
}

function encodeQuery(query: Array<[string, string]>): string {
  return query.map(([k, v]) => (v === '' ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)).join('&');
}

/** The string to sign; `dateLine` is Expires for a presigned URL. */
export function sigV2StringToSign(req: SigV2Request, dateLine: string, extraAmz: Record<string, string> = {}): string {
  const headers = Object.fromEntries(Object.entries(req.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const amz = { ...Object.fromEntries(Object.entries(headers).filter(([k]) => k.startsWith('x-amz-'))), ...extraAmz };
  const amzLines = Object.keys(amz)
    .sort()
    .map((k) => `${k}:${amz[k].trim()}\n`)
    .join('');
  const subs = (req.query ?? [])
    .filter(([k]) => SUBRESOURCES.has(k))
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([k, v]) => (v === '' ? k : `${k}=${v}`));
  const resource = (req.hostBucket ? `/${req.hostBucket}` : '') + req.path + (subs.length ? `?${subs.join('&')}` : '');
  return `${req.method}\n${headers['content-md5'] ?? ''}\n${headers['content-type'] ?? ''}\n${dateLine}\n${amzLines}${resource}`;
}

/**
 * Header authentication: adds Date (unless x-amz-date is given: the Date line
 * is then empty) and Authorization. Returns the path with its query and the
 * headers to send.
 */
export function signV2Header(req: SigV2Request, creds: SigV2Credentials, now = new Date()): { path: string; headers: Record<string, string> } {
  const headers: Record<string, string> = { ...req.headers };
  if (creds.sessionToken) headers['x-amz-security-token'] = creds.sessionToken;
  const hasAmzDate = Object.keys(headers).some((k) => k.toLowerCase() === 'x-amz-date');
  if (!hasAmzDate && !Object.keys(headers).some((k) => k.toLowerCase() === 'date')) headers.date = now.toUTCString();
  const dateLine = hasAmzDate ? '' : (Object.entries(headers).find(([k]) => k.toLowerCase() === 'date')?.[1] ?? '');
  const signature = hmacSha1Base64(creds.secretAccessKey, sigV2StringToSign({ ...req, headers }, dateLine));
  headers.authorization = `AWS ${creds.accessKeyId}:${signature}`;
  const q = encodeQuery(req.query ?? []);
  return { path: req.path + (q ? `?${q}` : ''), headers };
}

/** A presigned URL's path and query: AWSAccessKeyId, Expires (epoch seconds), Signature; a session token as x-amz-security-token, signed. */
export function presignV2(req: SigV2Request, creds: SigV2Credentials, expires: number): string {
  const extra: Record<string, string> = creds.sessionToken ? { 'x-amz-security-token': creds.sessionToken } : {};
  const signature = hmacSha1Base64(creds.secretAccessKey, sigV2StringToSign(req, String(expires), extra));
  const query: Array<[string, string]> = [
    ...(req.query ?? []),
    ['AWSAccessKeyId', creds.accessKeyId],
    ['Expires', String(expires)],
    ...Object.entries(extra),
    ['Signature', signature],
  ];
  return `${req.path}?${encodeQuery(query)}`;
}
