// Fuzz target: the parsers of single header and form values, each a few
// lines of string handling that a request can reach with any bytes: Range
// (src/core/read.ts), x-amz-copy-source (ops/copy.ts), x-amz-tagging
// (core/tagging.ts), Content-MD5 and the x-amz-checksum-* family
// (core/checksums.ts), the POST policy document and credential
// (s3/auth/post-policy.ts), and /storage/v1 size strings (storage-api/buckets.ts).
// Invariants: a result that keeps its promises, or an answer (S3Error or DomainError) with a 4xx
// status, never another failure, in bounded time.
import fc from 'fast-check';
import { CHECKSUM_ALGORITHMS, parseChecksumValue, parseContentMd5, parseRequestedChecksum } from '../src/core/checksums.ts';
import { MAX_OBJECT_TAGS, parseTaggingHeader } from '../src/core/tagging.ts';
import { checkPolicy, decodePolicy, parsePostCredential } from '../src/s3/auth/post-policy.ts';
import { asS3Error } from '../src/s3/errors.ts';
import { parseCopySource } from '../src/s3/ops/copy.ts';
import { parseRange } from '../src/core/read.ts';
import { parseSize } from '../src/storage-api/buckets.ts';
import { bounded, fuzzInput, preview, runFuzz } from './harness.ts';

/** Runs `f` within `limitMs`; a throw must be a client error in S3's own terms. */
function clientErrorOrResult<T>(what: string, input: unknown, f: () => T): T | undefined {
  try {
    return bounded(200, what, f);
  } catch (err) {
    const answer = asS3Error(err);
    if (answer && answer.status >= 400 && answer.status < 500) return undefined;
    throw new Error(`${what}: threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)} for ${preview(input)}`, { cause: err });
  }
}

const text = (seeds: string[], dictionary: string[]) =>
  fuzzInput(
    seeds.map((s) => Buffer.from(s, 'latin1')),
    dictionary,
  ).map((b) => b.toString('latin1'));

const RANGES = text(['bytes=0-99', 'bytes=-500', 'bytes=100-', 'bytes=0-0'], ['bytes=', '-', ',', '9007199254740993', '1e3', ' ', '0x10', '+1']);
const COPY_SOURCES = text(['/bucket/key', 'bucket/dir/a%20b.txt?versionId=null', '/b/%E2%9C%93'], ['%', '%00', '%2F', '?', 'versionId=', '/', '%FF', '..']);
const TAGGINGS = text(['a=b&c=d', 'k%20x=v%2By&empty=', 'only'], ['&', '=', '%', '%00', '%ZZ', 'a'.repeat(129), '+']);
const DIGESTS = text(
  // base64 of 4, 8, 16 and 64 bytes (CRC32, CRC64NVME / XXHASH64 / XXHASH3, MD5 / XXHASH128, SHA512), and algorithm names.
  ['1B2M2Y8AsgTpgAmY7PhCfg==', 'AAAAAA==', 'fOKDkEVGhoT7jG8=', 'AAAAAAAAAAA=', 'A'.repeat(86) + '==', 'CRC32', 'SHA256', 'XXHASH128'],
  ['=', '/', '+', '-', '_', ' ', 'CRC32C', 'SHA512', 'xxhash3', 'MD5', 'x-amz-checksum-crc32', 'x-amz-checksum-xxhash64,'],
);
const CREDENTIALS = text(['AKID/20250101/us-east-1/s3/aws4_request'], ['/', '%2F', 'aws4_request', 's3', '20250101']);
const SIZES = text(['10MB', '1.5 GB', '100', '0.5kb'], ['.', 'e', 'TB', ' ', '9'.repeat(30), '-', 'Infinity', 'NaN']);

const POLICY_SEEDS = [
  { expiration: '2030-01-01T00:00:00.000Z', conditions: [{ bucket: 'bucket' }, ['starts-with', '$key', 'uploads/'], ['content-length-range', 1, 1048576], { 'x-amz-meta-a': 'b' }] },
  { expiration: '2030-01-01T00:00:00Z', conditions: [['eq', '$Content-Type', 'image/png'], ['starts-with', '$success_action_redirect', '']] },
].map((p) => JSON.stringify(p));
const POLICIES = fc.oneof(
  // Mutated JSON, encoded: reaches the condition parsing.
  text(POLICY_SEEDS, ['[', ']', '{', '}', '"', ',', ':', '$', '-1', '1e400', 'null', '"eq"', '"starts-with"', '"content-length-range"']).map((s) => Buffer.from(s, 'latin1').toString('base64')),
  // Mutated base64: reaches the decoding.
  text(POLICY_SEEDS.map((s) => Buffer.from(s).toString('base64')), ['=', '/', '+', ' ', '\n', '-', '_']),
);
const FIELDS = fc.dictionary(
  fc.constantFrom('key', 'content-type', 'x-amz-meta-a', 'success_action_redirect', 'policy', 'x-amz-signature', 'file', 'acl', 'bucket'),
  fc.string({ maxLength: 20 }),
  { maxKeys: 5 },
);

await runFuzz('headers', [
  {
    name: 'Range',
    property: fc.property(RANGES, fc.oneof(fc.nat(2000), fc.constant(0), fc.maxSafeNat()), (header, size) => {
      const range = clientErrorOrResult('parseRange', [header, size], () => parseRange(header, size));
      if (range && !(Number.isSafeInteger(range.start) && Number.isSafeInteger(range.end) && range.start >= 0 && range.start <= range.end && range.end < size)) {
        throw new Error(`parseRange(${preview(header)}, ${size}) gave ${JSON.stringify(range)}`);
      }
    }),
  },
  {
    name: 'x-amz-copy-source',
    property: fc.property(COPY_SOURCES, (raw) => {
      const source = clientErrorOrResult('parseCopySource', raw, () => parseCopySource(raw));
      if (source && (source.bucket === '' || source.key === '' || source.key.includes('\0'))) throw new Error(`parseCopySource(${preview(raw)}) gave ${JSON.stringify(source)}`);
    }),
  },
  {
    name: 'x-amz-tagging',
    property: fc.property(TAGGINGS, (raw) => {
      const tags = clientErrorOrResult('parseTaggingHeader', raw, () => parseTaggingHeader(raw));
      if (tags && Object.keys(tags).length > MAX_OBJECT_TAGS) throw new Error(`parseTaggingHeader(${preview(raw)}) gave ${Object.keys(tags).length} tags`);
    }),
  },
  {
    name: 'Content-MD5 and x-amz-checksum-*',
    property: fc.property(DIGESTS, DIGESTS, fc.constantFrom(...CHECKSUM_ALGORITHMS), fc.constantFrom(...CHECKSUM_ALGORITHMS), (value, other, a, b) => {
      const md5 = clientErrorOrResult('parseContentMd5', value, () => parseContentMd5(value));
      if (md5 && md5.length !== 16) throw new Error(`parseContentMd5(${preview(value)}) gave ${md5.length} bytes`);
      clientErrorOrResult('parseChecksumValue', [a, value], () => parseChecksumValue(a, value));
      clientErrorOrResult('parseChecksumValue trailer', [a, value], () => parseChecksumValue(a, value, 'trailer'));
      const headers = {
        [`x-amz-checksum-${a.toLowerCase()}`]: value,
        'x-amz-sdk-checksum-algorithm': other,
        ...(a !== b ? { [`x-amz-checksum-${b.toLowerCase()}`]: other } : {}),
        'x-amz-trailer': other,
      };
      clientErrorOrResult('parseRequestedChecksum', headers, () => parseRequestedChecksum(headers));
      clientErrorOrResult('parseRequestedChecksum (trailer only)', other, () => parseRequestedChecksum({ 'x-amz-trailer': other }));
    }),
  },
  {
    name: 'POST policy and credential',
    weight: 2,
    property: fc.property(POLICIES, FIELDS, CREDENTIALS, (policy, fields, credential) => {
      const decoded = clientErrorOrResult('decodePolicy', policy, () => decodePolicy(policy));
      if (decoded) {
        const limits = clientErrorOrResult('checkPolicy', [policy, fields], () =>
          checkPolicy(decoded, new Map(Object.entries(fields)), 'bucket', new Date('2025-01-01T00:00:00Z')),
        );
        if (limits && !(limits.minLength >= 0 && Number.isFinite(limits.maxLength))) throw new Error(`checkPolicy gave ${JSON.stringify(limits)} for ${preview(policy)}`);
      }
      clientErrorOrResult('parsePostCredential', credential, () => parsePostCredential(credential, 'us-east-1'));
    }),
  },
  {
    name: '/storage/v1 sizes',
    property: fc.property(SIZES, (value) => {
      const bytes = bounded(200, 'parseSize', () => parseSize(value));
      if (bytes !== undefined && !(Number.isSafeInteger(bytes) && bytes > 0)) throw new Error(`parseSize(${preview(value)}) gave ${bytes}`);
    }),
  },
]);
