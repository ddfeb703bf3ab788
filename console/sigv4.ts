// AWS Signature Version 4 in the browser, over WebCrypto: the console signs
// each of its own requests, header-signed or presigned (query), as any S3
// client does. ("Create a signed AWS API request", AWS IAM User Guide; the
// S3 flavour: the path is not normalised, each segment is URI-encoded once.)
// The secret never leaves this module's callers' memory. No DOM here (the
// host is passed in), so test/console-sigv4.test.ts checks it under Node
// against @smithy/signature-v4.

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** Temporary credentials (STS) carry one; it is signed as x-amz-security-token. */
  sessionToken?: string;
  region: string;
}

export interface ToSign {
  method: string;
  /** The path as it will be sent, already URI-encoded (encodePath). */
  path: string;
  query?: Record<string, string>;
  /** Extra headers that are signed too (x-amz-*); host, x-amz-date and x-amz-content-sha256 are added. */
  headers?: Record<string, string>;
  /** Hex SHA-256 of the body, or UNSIGNED-PAYLOAD. */
  payloadHash: string;
}

export const UNSIGNED = 'UNSIGNED-PAYLOAD';
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const utf8 = new TextEncoder();

function hex(buf: ArrayBuffer): string {
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
}

export async function sha256(data: string | ArrayBuffer | Uint8Array<ArrayBuffer>): Promise<ArrayBuffer> {
  return crypto.subtle.digest('SHA-256', typeof data === 'string' ? utf8.encode(data) : data);
}

export async function sha256Hex(data: string | ArrayBuffer | Uint8Array<ArrayBuffer>): Promise<string> {
  return hex(await sha256(data));
}

export function base64(buf: ArrayBuffer): string {
  return btoa(String.fromCharCode(...new Uint8Array(buf)));
}

async function hmac(key: ArrayBuffer | Uint8Array<ArrayBuffer>, data: string): Promise<ArrayBuffer> {
  const k = await crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return crypto.subtle.sign('HMAC', k, utf8.encode(data));
}

/** RFC 3986 percent-encoding as SigV4 wants it: everything but A–Z a–z 0–9 - _ . ~ (and / when keepSlash). */
export function uriEncode(s: string, keepSlash = false): string {
  const e = encodeURIComponent(s).replace(/[!'()*]/g, (ch) => '%' + ch.charCodeAt(0).toString(16).toUpperCase());
  return keepSlash ? e.replace(/%2F/g, '/') : e;
}

/** `/bucket/key` with the key's segments encoded (an S3 path names its key byte for byte). */
export function encodePath(bucket?: string, key?: string): string {
  if (!bucket) return '/';
  return '/' + uriEncode(bucket) + '/' + (key ? uriEncode(key, true) : '');
}

/** The canonical query string, which is also what the request sends (so that both are the same bytes). */
export function canonicalQuery(query: Record<string, string> = {}): string {
  return Object.entries(query)
    .map(([k, v]) => [uriEncode(k), uriEncode(v)])
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

function amzDate(now: Date): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

async function signature(creds: Credentials, date: string, stringToSign: string): Promise<string> {
  const kDate = await hmac(utf8.encode('AWS4' + creds.secretAccessKey), date);
  const kRegion = await hmac(kDate, creds.region);
  const kService = await hmac(kRegion, 's3');
  const kSigning = await hmac(kService, 'aws4_request');
  return hex(await hmac(kSigning, stringToSign));
}

async function stringToSign(creds: Credentials, stamp: string, canonicalRequest: string): Promise<string> {
  return ['AWS4-HMAC-SHA256', stamp, `${stamp.slice(0, 8)}/${creds.region}/s3/aws4_request`, await sha256Hex(canonicalRequest)].join('\n');
}

/** The headers that sign `req` (Authorization and the x-amz-* it covers); send them with the request. */
/** `host` is the Host the request goes to (the page's own: location.host). */
export async function signHeaders(creds: Credentials, req: ToSign, host: string, now = new Date()): Promise<Record<string, string>> {
  const stamp = amzDate(now);
  const headers: Record<string, string> = {
    ...Object.fromEntries(Object.entries(req.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v.trim()])),
    host,
    'x-amz-date': stamp,
    'x-amz-content-sha256': req.payloadHash,
    ...(creds.sessionToken ? { 'x-amz-security-token': creds.sessionToken } : {}),
  };
  const names = Object.keys(headers).sort();
  const canonical = [
    req.method,
    req.path,
    canonicalQuery(req.query),
    names.map((n) => `${n}:${headers[n]}\n`).join(''),
    names.join(';'),
    req.payloadHash,
  ].join('\n');
  const sig = await signature(creds, stamp.slice(0, 8), await stringToSign(creds, stamp, canonical));
  const { host: _host, ...sent } = headers;
  return {
    ...sent,
    authorization: `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${stamp.slice(0, 8)}/${creds.region}/s3/aws4_request, SignedHeaders=${names.join(';')}, Signature=${sig}`,
  };
}

/** A presigned URL (query signing, UNSIGNED-PAYLOAD) valid for `expiresIn` seconds (at most 7 days). */
export async function presign(
  creds: Credentials,
  req: { method: string; path: string; query?: Record<string, string> },
  expiresIn: number,
  origin: string,
  now = new Date(),
): Promise<string> {
  const stamp = amzDate(now);
  const host = new URL(origin).host;
  const query: Record<string, string> = {
    ...req.query,
    'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
    'X-Amz-Credential': `${creds.accessKeyId}/${stamp.slice(0, 8)}/${creds.region}/s3/aws4_request`,
    'X-Amz-Date': stamp,
    'X-Amz-Expires': String(expiresIn),
    'X-Amz-SignedHeaders': 'host',
    ...(creds.sessionToken ? { 'X-Amz-Security-Token': creds.sessionToken } : {}),
  };
  const canonical = [req.method, req.path, canonicalQuery(query), `host:${host}\n`, 'host', UNSIGNED].join('\n');
  const sig = await signature(creds, stamp.slice(0, 8), await stringToSign(creds, stamp, canonical));
  return `${origin}${req.path}?${canonicalQuery(query)}&X-Amz-Signature=${sig}`;
}
