// Fuzz target: server-side SigV4 (src/principals/sigv4.ts) and legacy SigV2
// (src/principals/sigv2.ts): Authorization header and presigned-query
// parsing, canonicalisation, verification.
// Invariants: hostile requests (signed requests with bytes changed anywhere
// in the request line and headers) are answered with a result or one of
// the S3 authentication errors, nothing else, in bounded time; what
// @smithy/signature-v4 (the AWS SDKs' signer) signs, with any key, query and
// header values, verifies (and for SigV2 what test/support/sigv2.ts, written
// from the S3 guide, signs); the canonical URI and query of any string are
// computed without throwing.
import { createHash, createHmac, type BinaryLike } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import fc from 'fast-check';
import { SignatureV4 } from '@smithy/signature-v4';
import { canonicalResource, sigV2Flavour, verifySigV2 } from '../src/principals/sigv2.ts';
import { canonicalQuery, canonicalUri, verifySigV4 } from '../src/principals/sigv4.ts';
import { presignV2, signV2Header } from '../test/support/sigv2.ts';
import { encodeKey } from '../test/support/signer.ts';
import { bounded, corpus, expectS3Error, fuzzInput, runFuzz } from './harness.ts';

const AUTH_ERRORS = [
  'AccessDenied',
  'AuthorizationHeaderMalformed',
  'AuthorizationQueryParametersError',
  'InvalidAccessKeyId',
  'InvalidArgument',
  'InvalidRequest',
  'RequestTimeTooSkewed',
  'SignatureDoesNotMatch',
] as const;
const DICTIONARY = [
  'AWS4-HMAC-SHA256',
  ' Credential=',
  ', SignedHeaders=',
  ', Signature=',
  '/aws4_request',
  '/us-east-1/s3/',
  'X-Amz-Algorithm=',
  '&X-Amz-Credential=',
  '&X-Amz-Expires=604801',
  '&X-Amz-Signature=',
  '&X-Amz-SignedHeaders=host',
  '&X-Amz-Date=',
  'x-amz-content-sha256: ',
  'UNSIGNED-PAYLOAD',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
  '%',
  '%2F',
  '%00',
  '+',
  '?',
  '#',
  '//',
  '/../',
  'http://h',
  '\nauthorization: AWS AKID:sig',
  'AWSAccessKeyId=',
  '&Signature=',
  '&Expires=',
  '?acl',
  '&uploadId=',
  '%61cl',
  '\nx-amz-date: ',
  '\ndate: ',
  'x-amz-security-token=',
];

const CREDENTIALS = { accessKeyId: 'AKIDFUZZ', secretAccessKey: 'fuzz-secret-key' };
const lookup = async (id: string) => (id === CREDENTIALS.accessKeyId ? CREDENTIALS : undefined);
const SIGNED_AT = new Date('2025-01-01T00:00:00Z');
const REGION = 'us-east-1';

class Sha256 {
  private hash;
  constructor(private readonly secret?: BinaryLike) {
    this.hash = this.fresh();
  }
  private fresh() {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', this.secret);
  }
  update(data: string | Uint8Array): void {
    this.hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

const signer = new SignatureV4({ credentials: CREDENTIALS, region: REGION, service: 's3', sha256: Sha256 as never, uriEscapePath: false });

interface Request {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

/** A request as text, one header a line: what mutations work on. */
function toText(r: Request): Buffer {
  return Buffer.from(`${r.method} ${r.url}\n${Object.entries(r.headers).map(([k, v]) => `${k}: ${v}`).join('\n')}`, 'latin1');
}

/** Parses it back as Node would hand it over: lower-case names, latin1 values, trimmed. */
function fromText(b: Buffer): Request {
  const [line, ...rest] = b.toString('latin1').split('\n');
  const space = line.indexOf(' ');
  const headers: IncomingHttpHeaders = {};
  for (const h of rest) {
    const colon = h.indexOf(':');
    if (colon <= 0) continue;
    const name = h.slice(0, colon).trim().toLowerCase();
    const value = h.slice(colon + 1).trim();
    const prev = headers[name];
    headers[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : name === 'set-cookie' ? [prev, value] : `${prev}, ${value}`;
  }
  return { method: space === -1 ? line : line.slice(0, space), url: space === -1 ? '/' : line.slice(space + 1), headers };
}

function queryString(q: Record<string, string>, form: boolean): string {
  if (form) return new URLSearchParams(q).toString();
  return Object.entries(q)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
}

/** What the SDK's signer puts on the wire for this request. */
async function sdkSigned(
  method: string,
  path: string,
  query: Record<string, string>,
  headers: Record<string, string>,
  opts: { presign?: number; form?: boolean } = {},
): Promise<Request> {
  const request = { method, protocol: 'http:', hostname: 'localhost', port: 9000, path, query, headers: { host: 'localhost:9000', ...headers } };
  if (opts.presign) {
    const signed = await signer.presign(
      { ...request, headers: { ...request.headers, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } },
      { expiresIn: opts.presign, signingDate: SIGNED_AT, unsignableHeaders: new Set(['x-amz-content-sha256']), unhoistableHeaders: new Set(['x-amz-content-sha256']) },
    );
    const qs = queryString(signed.query as Record<string, string>, opts.form ?? false);
    const h = { ...(signed.headers as Record<string, string>) };
    delete h['x-amz-content-sha256'];
    return { method, url: `${path}${qs ? `?${qs}` : ''}`, headers: lower(h) };
  }
  const signed = await signer.sign({ ...request, headers: { ...request.headers, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }, { signingDate: SIGNED_AT });
  const qs = queryString(query, opts.form ?? false);
  return { method, url: `${path}${qs ? `?${qs}` : ''}`, headers: lower(signed.headers as Record<string, string>) };
}

const lower = (h: Record<string, string>): IncomingHttpHeaders => Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v.trim()]));

const seeds: Buffer[] = [
  ...corpus('sigv4'),
  toText(await sdkSigned('PUT', '/bucket/key.txt', {}, { 'content-type': 'text/plain', 'x-amz-meta-a': 'b  c' })),
  toText(await sdkSigned('GET', '/bucket', { 'list-type': '2', prefix: 'a b/', 'continuation-token': 'x+y=' }, {})),
  toText(await sdkSigned('GET', '/bucket/a%20b/c%2Bd', { 'response-content-type': 'text/plain' }, {}, { presign: 3600 })),
  toText(await sdkSigned('POST', '/bucket/k', { uploads: '' }, { 'x-amz-date-extra': '1' }, { presign: 604800, form: true })),
];

// The generated seeds are valid: mutations start from requests that get all the way through verification.
for (const seed of seeds.slice(-4)) {
  if ((await verifySigV4(fromText(seed), lookup, { region: REGION, now: SIGNED_AT })) === null) throw new Error('a seed is not signed');
}

// SigV2: header-signed (Date, or x-amz-date) and presigned, by the test-side signer.
const v2Creds = { accessKeyId: CREDENTIALS.accessKeyId, secretAccessKey: CREDENTIALS.secretAccessKey };
const v2Request = (r: { path: string; headers: Record<string, string> }, method: string): Request => ({ method, url: r.path, headers: lower(r.headers) });
const EXPIRES = Math.floor(SIGNED_AT.getTime() / 1000) + 3600;
const seedsV2: Buffer[] = [
  toText(v2Request(signV2Header({ method: 'PUT', path: '/bucket/a%20b/key.txt', headers: { 'content-type': 'text/plain', 'x-amz-meta-a': 'b' } }, v2Creds, SIGNED_AT), 'PUT')),
  toText(v2Request(signV2Header({ method: 'GET', path: '/bucket/k', query: [['acl', ''], ['versionId', 'null']], headers: { 'x-amz-date': SIGNED_AT.toUTCString() } }, v2Creds, SIGNED_AT), 'GET')),
  toText({ method: 'GET', url: presignV2({ method: 'GET', path: '/bucket/k', query: [['response-content-type', 'text/html']] }, { ...v2Creds, sessionToken: 'tok' }, EXPIRES), headers: {} }),
];
for (const seed of seedsV2) await verifySigV2(fromText(seed), lookup, { now: SIGNED_AT });

await runFuzz('sigv4', [
  {
    name: 'hostile requests',
    weight: 3,
    property: fc.asyncProperty(fuzzInput(seeds, DICTIONARY), fc.integer({ min: -1000, max: 1000 }), async (text, skewSeconds) => {
      const req = fromText(text);
      const started = performance.now();
      try {
        const result = await verifySigV4(req, lookup, { region: REGION, now: new Date(SIGNED_AT.getTime() + skewSeconds * 1000) });
        if (result !== null && result.accessKeyId !== CREDENTIALS.accessKeyId) throw new Error(`verified as ${result.accessKeyId}`);
      } catch (err) {
        expectS3Error(err, AUTH_ERRORS, text);
      }
      const took = performance.now() - started;
      if (took > 500) throw new Error(`verification took ${took.toFixed(0)} ms`);
    }),
  },
  {
    name: 'what the SDK signer signs verifies',
    weight: 2,
    property: fc.asyncProperty(
      fc.constantFrom('GET', 'PUT', 'DELETE', 'POST', 'HEAD'),
      fc.array(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).filter((s) => !s.includes('\0')), { minLength: 1, maxLength: 4 }),
      fc.dictionary(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 10 }), fc.string({ unit: 'grapheme', maxLength: 12 }), { maxKeys: 4 }),
      fc.dictionary(
        fc.stringMatching(/^x-amz-meta-[a-z0-9-]{1,10}$/),
        fc.stringMatching(/^[\x21-\x7e]([ \t\x21-\x7e]{0,20}[\x21-\x7e])?$/),
        { maxKeys: 3 },
      ),
      fc.option(fc.integer({ min: 1, max: 604_800 }), { nil: undefined }),
      fc.boolean(),
      async (method, segments, query, headers, presign, form) => {
        const q = Object.fromEntries(Object.entries(query).filter(([k]) => !k.startsWith('X-Amz-') && k !== '__proto__'));
        const path = `/bucket/${encodeKey(segments.join('/'))}`;
        const req = await sdkSigned(method, path, q, headers, { presign, form });
        const now = new Date(SIGNED_AT.getTime() + (presign ? Math.floor(presign / 2) : 0) * 1000);
        try {
          const result = await verifySigV4(req, lookup, { region: REGION, now });
          if (result === null) throw new Error('not recognised as signed');
        } catch (err) {
          throw new Error(`a request the SDK signed was refused: ${(err as Error).message}\n${toText(req).toString('latin1')}`, { cause: err });
        }
      },
    ),
  },
  {
    name: 'hostile SigV2 requests',
    weight: 2,
    property: fc.asyncProperty(fuzzInput(seedsV2, DICTIONARY), fc.integer({ min: -1000, max: 1000 }), async (text, skewSeconds) => {
      const req = fromText(text);
      if (sigV2Flavour(req) === undefined) return;
      const started = performance.now();
      try {
        const result = await verifySigV2(req, lookup, { now: new Date(SIGNED_AT.getTime() + skewSeconds * 1000) });
        if (result.accessKeyId !== CREDENTIALS.accessKeyId) throw new Error(`verified as ${result.accessKeyId}`);
      } catch (err) {
        expectS3Error(err, AUTH_ERRORS, text);
      }
      const took = performance.now() - started;
      if (took > 500) throw new Error(`verification took ${took.toFixed(0)} ms`);
    }),
  },
  {
    name: 'what the SigV2 signer signs verifies',
    property: fc.asyncProperty(
      fc.constantFrom('GET', 'PUT', 'DELETE', 'POST', 'HEAD'),
      fc.array(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).filter((s) => !s.includes('\0')), { minLength: 1, maxLength: 4 }),
      fc.array(fc.tuple(fc.constantFrom('acl', 'tagging', 'uploadId', 'partNumber', 'prefix', 'max-keys', 'response-content-type'), fc.string({ unit: 'grapheme', maxLength: 10 })), { maxLength: 3 }),
      fc.dictionary(
        fc.stringMatching(/^x-amz-meta-[a-z0-9-]{1,10}$/),
        fc.stringMatching(/^[\x21-\x7e]([ \t\x21-\x7e]{0,20}[\x21-\x7e])?$/),
        { maxKeys: 3 },
      ),
      fc.boolean(),
      async (method, segments, query, headers, presigned) => {
        const path = `/bucket/${encodeKey(segments.join('/'))}`;
        const req: Request = presigned
          ? { method, url: presignV2({ method, path, query, headers }, v2Creds, EXPIRES), headers: lower(headers) }
          : v2Request(signV2Header({ method, path, query, headers }, v2Creds, SIGNED_AT), method);
        try {
          await verifySigV2(req, lookup, { now: SIGNED_AT });
        } catch (err) {
          throw new Error(`a request signed with SigV2 was refused: ${(err as Error).message}\n${toText(req).toString('latin1')}`, { cause: err });
        }
      },
    ),
  },
  {
    name: 'canonical URI and query of any string',
    property: fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fuzzInput(seeds, DICTIONARY).map((b) => b.toString('latin1'))), (s) => {
      bounded(200, 'canonicalUri', () => canonicalUri(s));
      bounded(200, 'canonicalQuery', () => canonicalQuery(s, { omitSignature: true }));
      bounded(200, 'canonicalResource', () => canonicalResource(s, 'bucket'));
    }),
  },
]);
