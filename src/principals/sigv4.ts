// Server-side AWS Signature Version 4 for S3: the Authorization header and
// presigned (query-string) forms. References, by AWS doc page name:
//  - "Authenticating Requests: Using the Authorization Header (AWS Signature Version 4)"
//  - "Authenticating Requests: Using Query Parameters (AWS Signature Version 4)"
//  - "Create a canonical request for Signature Version 4" (IAM user guide)
// Error codes and messages follow what Amazon S3 answers for the same input;
// they are DomainErrors, since principals/authenticate.ts serves every protocol.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { trimChars } from '../core/trim.ts';
import { DomainError } from '../core/errors.ts';

export interface SignedRequestInput {
  method: string;
  /** Raw request target exactly as on the wire: path + optional '?' + query, still percent-encoded. */
  url: string;
  /** Lowercased names as Node gives them (values are latin1-decoded bytes, as Node decodes them). */
  headers: IncomingHttpHeaders;
}
export interface SigningSecret {
  accessKeyId: string;
  secretAccessKey: string;
}
export type SecretLookup = (accessKeyId: string) => Promise<SigningSecret | undefined>;
interface SignatureCommon {
  accessKeyId: string;
  presigned: boolean;
  /**
   * What the request says its payload is: x-amz-content-sha256 for header
   * auth; 'UNSIGNED-PAYLOAD' for presigned unless the query carries
   * X-Amz-Content-Sha256. SigV2 signs no payload hash: its value is the
   * (signed) x-amz-content-sha256 header when it is a hex hash, else
   * 'UNSIGNED-PAYLOAD' — never an aws-chunked one.
   */
  payloadHash: string;
  /**
   * The request's signature as computed here (so any spelling of the same
   * request is one value): SigV4's hex, the seed of an aws-chunked chain;
   * SigV2's base64.
   */
  seedSignature: string;
}
/** A verified AWS Signature Version 4 (header or presigned). */
export interface SigV4Signature extends SignatureCommon {
  version: 4;
  region: string;
  /** Derived key, for chunk signature verification. */
  signingKey: Buffer;
  /** e.g. 20130524T000000Z */
  amzDate: string;
  /** e.g. 20130524/us-east-1/s3/aws4_request */
  scope: string;
}
/** A verified legacy Signature Version 2 (principals/sigv2.ts): no region, no derived key, no chunk signatures. */
export interface SigV2Signature extends SignatureCommon {
  version: 2;
}
export type VerifiedSignature = SigV4Signature | SigV2Signature;
export interface VerifyOptions {
  region: string;
  now?: Date;
  /** Allowed clock difference for header auth (S3: 15 minutes). */
  maxSkewSeconds?: number;
}

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const SERVICE = 's3';
const TERMINATOR = 'aws4_request';
const MAX_PRESIGN_EXPIRES = 604_800; // seven days
const DEFAULT_MAX_SKEW_SECONDS = 900;

// ---------------------------------------------------------------------------
// Payload hash (x-amz-content-sha256)

export type PayloadKind =
  | { kind: 'sha256'; hex: string }
  | { kind: 'unsigned' }
  | { kind: 'streaming-signed'; trailer: boolean }
  | { kind: 'streaming-unsigned-trailer' };

/**
 * What the x-amz-content-sha256 value announces. S3 accepts upper-case hex
 * and answers InvalidArgument (ArgumentName x-amz-content-sha256) for any
 * other value, including a lower-cased 'unsigned-payload'.
 */
export function classifyPayload(payloadHash: string): PayloadKind {
  switch (payloadHash) {
    case 'UNSIGNED-PAYLOAD':
      return { kind: 'unsigned' };
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD':
      return { kind: 'streaming-signed', trailer: false };
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER':
      return { kind: 'streaming-signed', trailer: true };
    case 'STREAMING-UNSIGNED-PAYLOAD-TRAILER':
      return { kind: 'streaming-unsigned-trailer' };
  }
  if (/^[0-9a-fA-F]{64}$/.test(payloadHash)) return { kind: 'sha256', hex: payloadHash.toLowerCase() };
  throw new DomainError(
    'InvalidArgument',
    'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, ' +
      'STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.',
    { ArgumentName: 'x-amz-content-sha256', ArgumentValue: payloadHash },
  );
}

// ---------------------------------------------------------------------------
// Canonicalisation

const UNRESERVED = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~') UNRESERVED[c.charCodeAt(0)] = 1;
const HEX = '0123456789ABCDEF';

/** AWS UriEncode of raw bytes: unreserved kept, everything else %XX upper-case ('/' kept in paths). */
function uriEncode(bytes: Uint8Array, keepSlash: boolean): string {
  let out = '';
  for (const b of bytes) {
    out += UNRESERVED[b] || (keepSlash && b === 0x2f) ? String.fromCharCode(b) : '%' + HEX[b >> 4] + HEX[b & 15];
  }
  return out;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x57 : -1;
}

/**
 * Percent-decodes to bytes. A '%' not followed by two hex digits stays a
 * literal '%' (the WHATWG URL rule, which URLSearchParams applies too), so
 * the signature and the router read the same string. Characters outside
 * ASCII (never on the wire: Node refuses them in the request line) count as
 * their UTF-8 bytes.
 */
function percentDecode(s: string, plusIsSpace: boolean): Buffer {
  const src = Buffer.from(s, 'utf8');
  const out = Buffer.allocUnsafe(src.length);
  let n = 0;
  for (let i = 0; i < src.length; i++) {
    const b = src[i];
    if (b === 0x25 && i + 2 < src.length && hexValue(src[i + 1]) >= 0 && hexValue(src[i + 2]) >= 0) {
      out[n++] = (hexValue(src[i + 1]) << 4) | hexValue(src[i + 2]);
      i += 2;
    } else out[n++] = plusIsSpace && b === 0x2b ? 0x20 : b;
  }
  return out.subarray(0, n);
}

/** A request target's path and query, as sent (an absolute-form target loses its scheme and authority, any fragment is dropped). */
export function splitTarget(url: string): { path: string; query: string } {
  let target = url;
  // absolute-form (a request through a proxy): drop scheme and authority
  const abs = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/.exec(target);
  if (abs) target = target.slice(abs[0].length);
  const hash = target.indexOf('#');
  if (hash !== -1) target = target.slice(0, hash);
  const q = target.indexOf('?');
  return q === -1 ? { path: target, query: '' } : { path: target.slice(0, q), query: target.slice(q + 1) };
}

/**
 * Canonical URI for S3: the path as sent, percent-decoded once and
 * re-encoded with UriEncode. S3 is the documented exception to the SigV4
 * rules: no normalisation (`//`, `.` and `..` segments stay) and no double
 * encoding ("Create a canonical request": "Each path segment must be
 * URI-encoded twice (except for Amazon S3 which only gets URI-encoded once)").
 * A '+' in the path is a literal plus.
 */
export function canonicalUri(rawPath: string): string {
  return rawPath === '' ? '/' : uriEncode(percentDecode(rawPath, false), true);
}

interface QueryParam {
  name: string; // decoded, for lookups
  value: string;
  encName: string; // canonical form
  encValue: string;
}

/*
 * '+' in a raw query string means a space. Every SDK and tool we target
 * (botocore, AWS SDK JS v3 / Go / Java, rclone, s3cmd) sends a literal '+'
 * as %2B, so the only clients sending a bare '+' are form-style encoders
 * (URLSearchParams, Go's url.Values, s3fs) meaning a space — and Amazon S3
 * accepts those URLs when the signature was computed over %20 (reports in
 * mhart/aws4fetch#83, s3fs-fuse#1). MinIO does the same
 * (getCanonicalRequest: strings.ReplaceAll(query, "+", "%20")). It also keeps
 * the signature consistent with how the router reads the query
 * (URLSearchParams decodes '+' as a space).
 */
function parseQuery(rawQuery: string): QueryParam[] {
  const params: QueryParam[] = [];
  if (rawQuery === '') return params;
  for (const piece of rawQuery.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const name = percentDecode(eq === -1 ? piece : piece.slice(0, eq), true);
    const value = percentDecode(eq === -1 ? '' : piece.slice(eq + 1), true);
    params.push({
      name: name.toString('utf8'),
      value: value.toString('utf8'),
      encName: uriEncode(name, false),
      encValue: uriEncode(value, false),
    });
  }
  return params;
}

function canonicalQueryOf(params: QueryParam[], omitSignature: boolean): string {
  return params
    .filter((p) => !(omitSignature && p.name === 'X-Amz-Signature'))
    .map((p) => [p.encName, p.encValue] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([n, v]) => `${n}=${v}`)
    .join('&');
}

/** Canonical query string: names and values decoded then UriEncoded, sorted by name then value, `name=` for empty values. */
export function canonicalQuery(rawQuery: string, opts: { omitSignature?: boolean } = {}): string {
  return canonicalQueryOf(parseQuery(rawQuery), opts.omitSignature ?? false);
}

/**
 * Header value as bytes-in-a-string (latin1): Node decodes header bytes as
 * latin1, so this is what the client hashed. A value holding characters above
 * U+00FF cannot have come from Node; it is taken as text and UTF-8 encoded.
 */
function headerBytes(v: string): string {
  return /[^\x00-\xff]/.test(v) ? Buffer.from(v, 'utf8').toString('latin1') : v;
}

/**
 * Canonical header value: each value trimmed and its runs of spaces collapsed
 * ("Trimall"), repeated headers joined with ','. Only ASCII space and tab count as
 * whitespace: the value is raw bytes here, and a UTF-8 sequence may hold
 * 0xA0. (The trim is a loop: see core/trim.ts.)
 * (Node itself joins most repeated headers with ', '; a header sent
 * twice therefore verifies only if the client joined the same way.)
 */
function canonicalHeaderValue(v: string | string[] | undefined): string {
  const values = v === undefined ? [''] : Array.isArray(v) ? v : [v];
  return values.map((one) => trimChars(headerBytes(one), ' \t', { start: true }).replace(/[ \t]+/g, ' ')).join(',');
}

export interface CanonicalRequestParts {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** Lower-case names, in the order the client listed them. */
  signedHeaders: string[];
  payloadHash: string;
  /** Presigned: X-Amz-Signature is left out of the canonical query. */
  presigned: boolean;
}

/** The canonical request, as a latin1 byte string (ASCII except for raw header bytes). */
export function canonicalRequest(parts: CanonicalRequestParts): string {
  const { path, query } = splitTarget(parts.url);
  return [
    parts.method.toUpperCase(),
    canonicalUri(path),
    canonicalQuery(query, { omitSignature: parts.presigned }),
    ...parts.signedHeaders.map((h) => `${h}:${canonicalHeaderValue(parts.headers[h])}`),
    '',
    parts.signedHeaders.join(';'),
    parts.payloadHash,
  ].join('\n');
}

export function stringToSign(amzDate: string, scope: string, canonical: string): string {
  return [SIGV4_ALGORITHM, amzDate, scope, sha256Hex(Buffer.from(canonical, 'latin1'))].join('\n');
}

function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

// Derived keys change once a day per secret and region: cache them so the
// four-HMAC chain is not recomputed per request. Small, insertion-ordered.
const SIGNING_KEY_CACHE_SIZE = 512;
const signingKeys = new Map<string, Buffer>();

/** kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), "s3"), "aws4_request"). */
export function deriveSigningKey(secretAccessKey: string, date: string, region: string): Buffer {
  const cacheKey = `${date}\0${region}\0${secretAccessKey}`;
  let key = signingKeys.get(cacheKey);
  if (!key) {
    key = hmac(hmac(hmac(hmac('AWS4' + secretAccessKey, date), region), SERVICE), TERMINATOR);
    if (signingKeys.size >= SIGNING_KEY_CACHE_SIZE) signingKeys.delete(signingKeys.keys().next().value as string);
    signingKeys.set(cacheKey, key);
  }
  return key;
}

/** Hex HMAC-SHA256 of a string to sign. */
export function signString(signingKey: Buffer, toSign: string): string {
  return createHmac('sha256', signingKey).update(toSign, 'utf8').digest('hex');
}

/**
 * What an aws-chunked decoder needs to verify chunk signatures. Only SigV4
 * signs chunks: a SigV2 request can never name a signed-chunk payload (its
 * verification refuses one), and if it ever did it fails here, closed.
 */
export function chunkSigningOf(signature: VerifiedSignature): { signingKey: Buffer; amzDate: string; scope: string; seedSignature: string } {
  if (signature.version !== 4) {
    throw new DomainError('InvalidRequest', 'aws-chunked payloads with chunk signatures need a request signed with AWS Signature Version 4.');
  }
  return { signingKey: signature.signingKey, amzDate: signature.amzDate, scope: signature.scope, seedSignature: signature.seedSignature };
}

/** Constant-time comparison of two signatures (hex or base64 strings). */
export function signaturesEqual(expected: string, provided: string): boolean {
  const a = Buffer.from(expected, 'latin1');
  const b = Buffer.from(provided, 'latin1');
  return a.length === b.length && timingSafeEqual(a, b);
}

// ---------------------------------------------------------------------------
// Verification

type Flavour = 'header' | 'query';

function malformed(flavour: Flavour, detail: string, details?: Record<string, string>): DomainError {
  return flavour === 'header'
    ? new DomainError('AuthorizationHeaderMalformed', `The authorization header is malformed; ${detail}`, details)
    : new DomainError('AuthorizationQueryParametersError', `Error parsing the X-Amz-Credential parameter; ${detail}`, details);
}

const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

function parseAmzDate(s: string): Date | undefined {
  const m = AMZ_DATE.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number);
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi, se));
  return t.getUTCMonth() === mo - 1 && t.getUTCDate() === d && h < 24 && mi < 60 && se < 60 ? t : undefined;
}

function formatAmzDate(t: Date): string {
  return t.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

interface Credential {
  accessKeyId: string;
  date: string;
  region: string;
  scope: string;
}

/** `<AKID>/<yyyyMMdd>/<region>/s3/aws4_request`, checked the way S3 checks it. */
function parseCredential(value: string, flavour: Flavour, amzDate: string, region: string): Credential {
  const parts = value.split('/');
  if (parts.length !== 5 || parts[0] === '') {
    throw malformed(flavour, 'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".');
  }
  const [accessKeyId, date, credRegion, service, terminator] = parts;
  if (!/^\d{8}$/.test(date)) {
    throw malformed(flavour, `incorrect date format "${date}". This date in the credential must be in the format "yyyyMMdd".`);
  }
  if (date !== amzDate.slice(0, 8)) throw malformed(flavour, 'Invalid credential date. Date is not the same as X-Amz-Date.');
  if (credRegion !== region) {
    throw malformed(flavour, `the region '${credRegion}' is wrong; expecting '${region}'`, { Region: region });
  }
  if (service !== SERVICE) throw malformed(flavour, `incorrect service "${service}". This endpoint belongs to "${SERVICE}".`);
  if (terminator !== TERMINATOR) {
    throw malformed(flavour, `incorrect terminal "${terminator}". This endpoint uses "${TERMINATOR}".`);
  }
  return { accessKeyId, date, region: credRegion, scope: `${date}/${credRegion}/${SERVICE}/${TERMINATOR}` };
}

function parseSignedHeaders(value: string, flavour: Flavour): string[] {
  const names = value.split(';').map((h) => h.trim().toLowerCase());
  // A name listed twice is no signer's output, and each repetition would
  // copy the header's value into the canonical request again: a 16 KiB
  // request line and header block could make tens of megabytes of it (and
  // of the SignatureDoesNotMatch body that echoes it). Fuzzing found this.
  if (value === '' || names.some((h) => h === '') || new Set(names).size !== names.length) {
    throw flavour === 'header'
      ? new DomainError('AuthorizationHeaderMalformed', 'The authorization header is malformed; SignedHeaders is empty or mal-formed.')
      : new DomainError('AuthorizationQueryParametersError', 'X-Amz-SignedHeaders is empty or mal-formed.');
  }
  return names;
}

/**
 * S3 refuses a request carrying x-amz-* headers that are not signed
 * (AccessDenied "There were headers present in the request which were not
 * signed", listing them in HeadersNotSigned); x-amz-content-sha256 is
 * tolerated unsigned. `host` must always be signed (SigV4 requires it).
 */
function checkUnsignedHeaders(headers: IncomingHttpHeaders, signed: string[]): void {
  const signedSet = new Set(signed);
  const unsigned = Object.keys(headers).filter(
    (h) => !signedSet.has(h) && (h === 'host' || (h.startsWith('x-amz-') && h !== 'x-amz-content-sha256')),
  );
  if (!signedSet.has('host') && !unsigned.includes('host')) unsigned.unshift('host');
  if (unsigned.length) {
    throw new DomainError('AccessDenied', 'There were headers present in the request which were not signed', {
      HeadersNotSigned: unsigned.join(', '),
    });
  }
}

function hexBytes(s: string): string {
  return Buffer.from(s, 'latin1').toString('hex').replace(/(..)(?!$)/g, '$1 ');
}

function signatureMismatch(accessKeyId: string, toSign: string, provided: string, canonical: string): DomainError {
  return new DomainError('SignatureDoesNotMatch', undefined, {
    AWSAccessKeyId: accessKeyId,
    StringToSign: toSign,
    SignatureProvided: provided,
    StringToSignBytes: hexBytes(toSign),
    CanonicalRequest: Buffer.from(canonical, 'latin1').toString('utf8'),
    CanonicalRequestBytes: hexBytes(canonical),
  });
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(',') : v;
}

interface ParsedAuth {
  flavour: Flavour;
  credential: string;
  signedHeaders: string;
  signature: string;
  amzDate: string;
  expires?: number;
  payloadHash?: string;
}

/** `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`, tolerant of spacing. */
function parseAuthorizationHeader(auth: string): Omit<ParsedAuth, 'amzDate'> {
  const rest = auth.slice(SIGV4_ALGORITHM.length);
  if (!/^\s/.test(rest)) {
    throw new DomainError('AuthorizationHeaderMalformed', `The authorization header is malformed; the authorization header is not "${SIGV4_ALGORITHM}".`);
  }
  const fields = new Map<string, string>();
  for (const part of rest.split(',')) {
    const eq = part.indexOf('=');
    if (eq !== -1) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (!credential || signedHeaders === undefined || !signature) {
    throw new DomainError(
      'AuthorizationHeaderMalformed',
      'The authorization header is malformed; the authorization header requires three components: Credential, SignedHeaders, and Signature.',
    );
  }
  return { flavour: 'header', credential, signedHeaders, signature };
}

function requestDate(headers: IncomingHttpHeaders): { amzDate: string; time: Date } {
  const xAmzDate = single(headers['x-amz-date']);
  if (xAmzDate !== undefined) {
    const time = parseAmzDate(xAmzDate.trim());
    if (time) return { amzDate: xAmzDate.trim(), time };
  } else {
    const date = single(headers['date']);
    const ms = date === undefined ? NaN : Date.parse(date);
    if (!Number.isNaN(ms)) {
      // The string to sign always carries the ISO 8601 basic form.
      const time = new Date(Math.floor(ms / 1000) * 1000);
      return { amzDate: formatAmzDate(time), time };
    }
  }
  throw new DomainError('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
}

function queryValue(params: QueryParam[], name: string): string | undefined {
  return params.find((p) => p.name === name)?.value;
}

function parsePresigned(params: QueryParam[]): ParsedAuth {
  const get = (n: string) => queryValue(params, n);
  const algorithm = get('X-Amz-Algorithm');
  const credential = get('X-Amz-Credential');
  const signature = get('X-Amz-Signature');
  const amzDate = get('X-Amz-Date');
  const signedHeaders = get('X-Amz-SignedHeaders');
  const expires = get('X-Amz-Expires');
  if (!algorithm || !credential || !signature || !amzDate || signedHeaders === undefined || expires === undefined) {
    throw new DomainError(
      'AuthorizationQueryParametersError',
      'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, ' +
        'X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
    );
  }
  if (algorithm !== SIGV4_ALGORITHM) {
    throw new DomainError('AuthorizationQueryParametersError', `X-Amz-Algorithm only supports "${SIGV4_ALGORITHM}"`);
  }
  if (!parseAmzDate(amzDate)) {
    throw new DomainError(
      'AuthorizationQueryParametersError',
      `X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'"`,
    );
  }
  if (!/^-?\d+$/.test(expires)) throw new DomainError('AuthorizationQueryParametersError', 'X-Amz-Expires should be a number');
  const seconds = Number(expires);
  if (seconds < 0) throw new DomainError('AuthorizationQueryParametersError', 'X-Amz-Expires must be non-negative');
  if (seconds === 0) throw new DomainError('AuthorizationQueryParametersError', 'X-Amz-Expires must be at least 1 second');
  if (seconds > MAX_PRESIGN_EXPIRES) {
    throw new DomainError(
      'AuthorizationQueryParametersError',
      `X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than ${MAX_PRESIGN_EXPIRES} seconds`,
    );
  }
  return {
    flavour: 'query',
    credential,
    signedHeaders,
    signature,
    amzDate,
    expires: seconds,
    payloadHash: get('X-Amz-Content-Sha256'),
  };
}

/**
 * Verifies a SigV4-signed S3 request. Returns null when the request carries
 * no authentication at all (anonymous); throws a DomainError for everything that
 * is not a valid SigV4 signature by a known key.
 */
export async function verifySigV4(
  req: SignedRequestInput,
  lookup: SecretLookup,
  opts: VerifyOptions,
): Promise<SigV4Signature | null> {
  const now = opts.now ?? new Date();
  const maxSkewMs = (opts.maxSkewSeconds ?? DEFAULT_MAX_SKEW_SECONDS) * 1000;
  const auth = single(req.headers.authorization);
  const { query } = splitTarget(req.url);
  const params = parseQuery(query);
  const has = (n: string) => params.some((p) => p.name === n);
  const queryV4 = has('X-Amz-Algorithm') || has('X-Amz-Credential') || has('X-Amz-Signature');
  const queryV2 = has('AWSAccessKeyId') && has('Signature');

  if (auth !== undefined && (queryV4 || queryV2)) {
    throw new DomainError(
      'InvalidArgument',
      'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
      { ArgumentName: 'Authorization', ArgumentValue: auth },
    );
  }
  // Signature Version 2 (`AWS AKID:sig`, or AWSAccessKeyId+Signature in the
  // query): S3 regions opened since 2014 answer this way.
  const v2 = () =>
    new DomainError(
      'InvalidRequest',
      'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
    );

  let parsed: ParsedAuth;
  let time: Date;
  if (auth !== undefined) {
    if (/^AWS [^:\s]+:/.test(auth)) throw v2();
    if (!auth.startsWith(SIGV4_ALGORITHM)) {
      throw new DomainError('InvalidArgument', 'Unsupported Authorization Type', {
        ArgumentName: 'Authorization',
        ArgumentValue: auth,
      });
    }
    const fields = parseAuthorizationHeader(auth);
    const date = requestDate(req.headers);
    parsed = { ...fields, amzDate: date.amzDate };
    time = date.time;
  } else if (queryV4) {
    parsed = parsePresigned(params);
    time = parseAmzDate(parsed.amzDate) as Date;
  } else if (queryV2) {
    throw v2();
  } else {
    return null;
  }

  const credential = parseCredential(parsed.credential, parsed.flavour, parsed.amzDate, opts.region);
  const signedHeaders = parseSignedHeaders(parsed.signedHeaders, parsed.flavour);

  let payloadHash: string;
  if (parsed.flavour === 'header') {
    const skew = Math.abs(now.getTime() - time.getTime());
    if (skew > maxSkewMs) {
      throw new DomainError('RequestTimeTooSkewed', undefined, {
        RequestTime: single(req.headers['x-amz-date']) ?? single(req.headers['date']) ?? '',
        ServerTime: now.toISOString(),
        MaxAllowedSkewMilliseconds: String(maxSkewMs),
      });
    }
    const claimed = single(req.headers['x-amz-content-sha256']);
    if (claimed === undefined) {
      throw new DomainError('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
    }
    classifyPayload(claimed);
    payloadHash = claimed;
  } else {
    if (time.getTime() - now.getTime() > maxSkewMs) throw new DomainError('AccessDenied', 'Request is not valid yet');
    const expiresAt = time.getTime() + (parsed.expires as number) * 1000;
    if (now.getTime() > expiresAt) {
      throw new DomainError('AccessDenied', 'Request has expired', {
        'X-Amz-Expires': String(parsed.expires),
        Expires: new Date(expiresAt).toISOString(),
        ServerTime: now.toISOString(),
      });
    }
    payloadHash = parsed.payloadHash ?? 'UNSIGNED-PAYLOAD';
    if (parsed.payloadHash !== undefined) classifyPayload(payloadHash);
  }
  checkUnsignedHeaders(req.headers, signedHeaders);

  const secret = await lookup(credential.accessKeyId);
  if (!secret) {
    throw new DomainError('InvalidAccessKeyId', undefined, { AWSAccessKeyId: credential.accessKeyId });
  }
  const canonical = canonicalRequest({
    method: req.method,
    url: req.url,
    headers: req.headers,
    signedHeaders,
    payloadHash,
    presigned: parsed.flavour === 'query',
  });
  const toSign = stringToSign(parsed.amzDate, credential.scope, canonical);
  const signingKey = deriveSigningKey(secret.secretAccessKey, credential.date, credential.region);
  const expected = signString(signingKey, toSign);
  if (!signaturesEqual(expected, parsed.signature)) {
    throw signatureMismatch(credential.accessKeyId, toSign, parsed.signature, canonical);
  }
  return {
    version: 4,
    accessKeyId: credential.accessKeyId,
    presigned: parsed.flavour === 'query',
    payloadHash,
    region: credential.region,
    signingKey: Buffer.from(signingKey),
    amzDate: parsed.amzDate,
    scope: credential.scope,
    seedSignature: expected,
  };
}
