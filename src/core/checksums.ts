// The x-amz-checksum-* family and Content-MD5. Reference: "Checking object
// integrity in Amazon S3" (S3 user guide). Error codes and messages are the
// ones Amazon S3 answers (as recorded by OpenStack Swift's s3api suite, which
// runs against AWS).
import { Crc32c } from '@aws-crypto/crc32c';
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { crc32 } from 'node:zlib';
import { trimChars } from './trim.ts';
import { DomainError } from './errors.ts';

export type ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256';
export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'];

/** Digest sizes in bytes: a header value must be the base64 of exactly this many. */
const DIGEST_BYTES: Record<ChecksumAlgorithm, number> = { CRC32: 4, CRC32C: 4, CRC64NVME: 8, SHA1: 20, SHA256: 32 };

export function checksumHeaderName(a: ChecksumAlgorithm): string {
  return `x-amz-checksum-${a.toLowerCase()}`;
}

function algorithmNamed(name: string): ChecksumAlgorithm | undefined {
  const upper = name.trim().toUpperCase();
  return CHECKSUM_ALGORITHMS.find((a) => a === upper);
}

export interface Checksummer {
  update(chunk: Buffer): void;
  /** Base64 of the big-endian digest, as S3 shows it. */
  digest(): string;
}

function uint32Base64(n: number): string {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0);
  return b.toString('base64');
}

// CRC-64/NVME (reflected polynomial 0x9a6c9329ac4bc9b5, init and xorout all
// ones), as two 32-bit halves. Why not @aws-sdk/crc64-nvme: its digest() is
// async, and ingest needs the Checksummer's digest synchronously like every
// other algorithm's. The tests hold this to that package's output.
const CRC64_LO = new Uint32Array(256);
const CRC64_HI = new Uint32Array(256);
for (let i = 0; i < 256; i++) {
  let lo = i;
  let hi = 0;
  for (let k = 0; k < 8; k++) {
    const carry = lo & 1;
    lo = ((lo >>> 1) | (hi << 31)) >>> 0;
    hi >>>= 1;
    if (carry) {
      lo = (lo ^ 0xac4bc9b5) >>> 0;
      hi = (hi ^ 0x9a6c9329) >>> 0;
    }
  }
  CRC64_LO[i] = lo;
  CRC64_HI[i] = hi;
}

function crc64Nvme(): Checksummer {
  let lo = 0xffffffff;
  let hi = 0xffffffff;
  return {
    update(chunk) {
      for (let i = 0; i < chunk.length; i++) {
        const idx = (lo ^ chunk[i]) & 0xff;
        lo = ((lo >>> 8) | (hi << 24)) ^ CRC64_LO[idx];
        hi = (hi >>> 8) ^ CRC64_HI[idx];
      }
    },
    digest() {
      const b = Buffer.allocUnsafe(8);
      b.writeUInt32BE((hi ^ 0xffffffff) >>> 0, 0);
      b.writeUInt32BE((lo ^ 0xffffffff) >>> 0, 4);
      return b.toString('base64');
    },
  };
}

export function createChecksummer(a: ChecksumAlgorithm): Checksummer {
  switch (a) {
    case 'CRC32': {
      let value = 0;
      return {
        update: (chunk) => void (value = crc32(chunk, value)),
        digest: () => uint32Base64(value),
      };
    }
    case 'CRC32C': {
      const crc = new Crc32c();
      return {
        update: (chunk) => void crc.update(chunk),
        digest: () => uint32Base64(crc.digest()),
      };
    }
    case 'CRC64NVME':
      return crc64Nvme();
    case 'SHA1':
    case 'SHA256': {
      const hash = createHash(a === 'SHA1' ? 'sha1' : 'sha256');
      return {
        update: (chunk) => void hash.update(chunk),
        digest: () => hash.digest('base64'),
      };
    }
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Validates a checksum value from a header or from the aws-chunked trailer:
 * base64 of a digest of the algorithm's size, else InvalidRequest "Value for
 * x-amz-checksum-crc32 [trailing ]header is invalid."
 */
export function parseChecksumValue(a: ChecksumAlgorithm, value: string, from: 'header' | 'trailer' = 'header'): string {
  const v = value.trim();
  if (!BASE64.test(v) || Buffer.from(v, 'base64').length !== DIGEST_BYTES[a]) {
    throw new DomainError(
      'InvalidRequest',
      `Value for ${checksumHeaderName(a)} ${from === 'trailer' ? 'trailing header' : 'header'} is invalid.`,
    );
  }
  return v;
}

/** BadDigest "The CRC32 you specified did not match the calculated checksum." unless both name the same digest. */
export function assertChecksumMatches(a: ChecksumAlgorithm, expected: string, actual: string): void {
  if (!Buffer.from(expected, 'base64').equals(Buffer.from(actual, 'base64'))) {
    throw new DomainError('BadDigest', `The ${a} you specified did not match the calculated checksum.`);
  }
}

export interface RequestedChecksum {
  algorithm: ChecksumAlgorithm;
  /** Base64 from the x-amz-checksum-* header (absent when the value comes in the trailer). */
  expected?: string;
  fromTrailer: boolean;
}

// x-amz-checksum-* headers that are not a checksum value.
const NOT_A_CHECKSUM = new Set(['x-amz-checksum-mode', 'x-amz-checksum-type', 'x-amz-checksum-algorithm']);

function headerString(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(',') : v;
}

/**
 * x-amz-trailer: a comma-separated list of checksum header names. S3
 * tolerates trailing commas ("x-amz-checksum-crc32,,") but not empty items
 * elsewhere (", x-amz-checksum-crc32" or "x-amz-checksum-crc32, ,"), and
 * supports nothing but checksums there.
 */
function trailerAlgorithms(value: string | undefined): ChecksumAlgorithm[] {
  if (value === undefined) return [];
  const list = trimChars(value.trim(), ',');
  if (list === '') return [];
  return list.split(',').map((item) => {
    const name = item.trim().toLowerCase();
    const algorithm = name.startsWith('x-amz-checksum-') ? algorithmNamed(name.slice('x-amz-checksum-'.length)) : undefined;
    if (!algorithm) throw new DomainError('InvalidRequest', 'The value specified in the x-amz-trailer header is not supported');
    return algorithm;
  });
}

/**
 * The checksum a write request asks S3 to verify and store: from one
 * x-amz-checksum-<algorithm> header, or announced in x-amz-trailer for an
 * aws-chunked body. x-amz-sdk-checksum-algorithm, when sent, must name the
 * same algorithm.
 */
export function parseRequestedChecksum(headers: IncomingHttpHeaders): RequestedChecksum | undefined {
  const inHeaders: Array<[ChecksumAlgorithm, string]> = [];
  for (const name of Object.keys(headers)) {
    if (!name.startsWith('x-amz-checksum-') || NOT_A_CHECKSUM.has(name)) continue;
    const algorithm = algorithmNamed(name.slice('x-amz-checksum-'.length));
    if (!algorithm) {
      throw new DomainError('InvalidRequest', 'The algorithm type you specified in x-amz-checksum- header is invalid.');
    }
    inHeaders.push([algorithm, headerString(headers[name]) ?? '']);
  }
  const inTrailer = trailerAlgorithms(headerString(headers['x-amz-trailer']));

  if (inHeaders.length > 1 || inTrailer.length > 1) {
    throw new DomainError('InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
  }
  if (inHeaders.length === 1 && inTrailer.length === 1) {
    throw new DomainError('InvalidRequest', 'Expecting a single x-amz-checksum- header');
  }
  const algorithm = inHeaders[0]?.[0] ?? inTrailer[0];

  const sdkAlgorithm = headerString(headers['x-amz-sdk-checksum-algorithm']);
  if (sdkAlgorithm !== undefined) {
    const named = algorithmNamed(sdkAlgorithm);
    if (named && !algorithm) {
      throw new DomainError(
        'InvalidRequest',
        'x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.',
      );
    }
    if (!named || named !== algorithm) {
      throw new DomainError('InvalidRequest', 'Value for x-amz-sdk-checksum-algorithm header is invalid.');
    }
  }

  if (!algorithm) return undefined;
  if (inHeaders.length === 1) return { algorithm, expected: parseChecksumValue(algorithm, inHeaders[0][1]), fromTrailer: false };
  return { algorithm, fromTrailer: true };
}

/**
 * Content-MD5: base64 of 16 bytes, else InvalidDigest. Check it before
 * accepting the body.
 */
export function parseContentMd5(headerValue: string): Buffer {
  const v = headerValue.trim();
  const md5 = BASE64.test(v) ? Buffer.from(v, 'base64') : undefined;
  if (!md5 || md5.length !== 16) {
    throw new DomainError('InvalidDigest', 'The Content-MD5 you specified was invalid.', { 'Content-MD5': headerValue });
  }
  return md5;
}

/**
 * InvalidDigest for a malformed Content-MD5, BadDigest when it is not the MD5
 * of the body received (S3 reflects the expected digest back in hex).
 */
export function verifyContentMd5(headerValue: string, md5: Buffer): void {
  const expected = parseContentMd5(headerValue);
  if (!expected.equals(md5)) {
    throw new DomainError('BadDigest', 'The Content-MD5 you specified did not match what we received.', {
      ExpectedDigest: expected.toString('hex'),
      CalculatedDigest: md5.toString('base64'),
    });
  }
}
