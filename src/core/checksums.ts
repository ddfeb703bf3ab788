// The x-amz-checksum-* family and Content-MD5. Reference: "Checking object
// integrity in Amazon S3" (S3 user guide). Error codes and messages are the
// ones Amazon S3 answers (as recorded by OpenStack Swift's s3api suite, which
// runs against AWS).
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { crc32 } from 'node:zlib';
import { createCRC32, createXXHash128, createXXHash3, createXXHash64, type IHasher } from 'hash-wasm';
import { Crc64Nvme } from './crc64-nvme.ts';
import { trimChars } from './trim.ts';
import { DomainError } from './errors.ts';

export type ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256' | 'SHA512' | 'MD5' | 'XXHASH64' | 'XXHASH3' | 'XXHASH128';
/** Every algorithm S3 accepts in x-amz-checksum-*, in the order of S3's API model. */
export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = [
  'CRC32',
  'CRC32C',
  'CRC64NVME',
  'SHA1',
  'SHA256',
  'SHA512',
  'MD5',
  'XXHASH64',
  'XXHASH3',
  'XXHASH128',
];

/**
 * What S3 stores for an object uploaded without a checksum ("default data
 * integrity protections"): the CRC64NVME of the whole object.
 */
export const DEFAULT_CHECKSUM: ChecksumAlgorithm = 'CRC64NVME';

/** Digest sizes in bytes: a header value must be the base64 of exactly this many. */
const DIGEST_BYTES: Record<ChecksumAlgorithm, number> = {
  CRC32: 4,
  CRC32C: 4,
  CRC64NVME: 8,
  SHA1: 20,
  SHA256: 32,
  SHA512: 64,
  MD5: 16,
  XXHASH64: 8,
  XXHASH3: 8,
  XXHASH128: 16,
};

/**
 * The algorithms whose multipart object checksum may be FULL_OBJECT (the
 * checksum of all the bytes): the CRCs, which combine from the parts'. The
 * others are COMPOSITE only (a checksum of the parts' checksums, "-N"), and
 * CRC64NVME is FULL_OBJECT only. (S3 user guide, "Checking object
 * integrity": multipart checksum types.)
 */
export const FULL_OBJECT_ALGORITHMS: readonly ChecksumAlgorithm[] = ['CRC32', 'CRC32C', 'CRC64NVME'];
export const COMPOSITE_ALGORITHMS: readonly ChecksumAlgorithm[] = CHECKSUM_ALGORITHMS.filter((a) => a !== 'CRC64NVME');

export function checksumHeaderName(a: ChecksumAlgorithm): string {
  return `x-amz-checksum-${a.toLowerCase()}`;
}

/** The algorithm a header suffix, x-amz-checksum-algorithm or x-amz-sdk-checksum-algorithm names (any case), if any. */
export function algorithmNamed(name: string): ChecksumAlgorithm | undefined {
  const upper = name.trim().toUpperCase();
  return CHECKSUM_ALGORITHMS.find((a) => a === upper);
}

export interface Checksummer {
  update(chunk: Buffer): void;
  /** Base64 of the big-endian digest, as S3 shows it. Once. */
  digest(): string;
}

function uint32Base64(n: number): string {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0);
  return b.toString('base64');
}

// CRC32C and the xxHash family come from hash-wasm (WebAssembly, no native
// build; CRC32C at ~1.2 GB/s where @aws-crypto/crc32c's byte loop managed
// 60 MB/s). Each hasher is an instance with its own memory, created
// asynchronously: a pool keeps finished ones for reuse, so a request
// usually takes one without waiting. CRC64NVME, which every upload without
// a checksum pays for, is our own faster code (./crc64-nvme.ts).
type WasmAlgorithm = 'CRC32C' | 'XXHASH64' | 'XXHASH3' | 'XXHASH128';
const WASM_HASHERS: Record<WasmAlgorithm, () => Promise<IHasher>> = {
  // The polynomial reflected, as hash-wasm takes it; init and xorout all ones.
  CRC32C: () => createCRC32(0x82f63b78),
  // Seed 0, S3's (and the SDKs').
  XXHASH64: () => createXXHash64(),
  XXHASH3: () => createXXHash3(),
  XXHASH128: () => createXXHash128(),
};
/** Idle hashers kept per algorithm; more in use at once are created, and dropped when done. */
const POOL_SIZE = 16;
const pools = new Map<WasmAlgorithm, IHasher[]>();

async function wasmChecksummer(a: WasmAlgorithm): Promise<Checksummer> {
  let pool = pools.get(a);
  if (!pool) pools.set(a, (pool = []));
  const hasher = pool.pop() ?? (await WASM_HASHERS[a]());
  hasher.init();
  return {
    update: (chunk) => void hasher.update(chunk),
    digest() {
      const value = Buffer.from(hasher.digest('binary')).toString('base64');
      if (pool.length < POOL_SIZE) pool.push(hasher);
      return value;
    },
  };
}

function nodeHash(name: 'sha1' | 'sha256' | 'sha512' | 'md5'): Checksummer {
  const hash = createHash(name);
  return {
    update: (chunk) => void hash.update(chunk),
    digest: () => hash.digest('base64'),
  };
}

/** A streaming checksum of the algorithm; digest() gives it as S3 shows it. */
export async function createChecksummer(a: ChecksumAlgorithm): Promise<Checksummer> {
  switch (a) {
    case 'CRC32': {
      // zlib's, native.
      let value = 0;
      return {
        update: (chunk) => void (value = crc32(chunk, value)),
        digest: () => uint32Base64(value),
      };
    }
    case 'SHA1':
      return nodeHash('sha1');
    case 'SHA256':
      return nodeHash('sha256');
    case 'SHA512':
      return nodeHash('sha512');
    case 'MD5':
      return nodeHash('md5');
    case 'CRC64NVME': {
      const crc = new Crc64Nvme();
      return {
        update: (chunk) => crc.update(chunk),
        digest: () => crc.digest().toString('base64'),
      };
    }
    default:
      return wasmChecksummer(a);
  }
}

/** A multipart object's composite checksum carries its part count ("…-N"); any other covers the whole object. */
export function checksumTypeOf(value: string): 'COMPOSITE' | 'FULL_OBJECT' {
  return /-\d+$/.test(value) ? 'COMPOSITE' : 'FULL_OBJECT';
}

/** The checksum of `data` in one go. */
export async function checksumOf(a: ChecksumAlgorithm, ...data: Buffer[]): Promise<string> {
  const c = await createChecksummer(a);
  for (const d of data) c.update(d);
  return c.digest();
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
