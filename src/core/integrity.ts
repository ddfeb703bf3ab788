// What a write's bytes are supposed to be, as data. A protocol says what the
// client promised (Content-MD5, a signed SHA-256, an x-amz-checksum-* value
// in a header or in the trailer of an aws-chunked body); a copy says what its
// source row names. Core checks it once the bytes are staged and before
// anything is committed — the same checks, in one place, for every protocol.
import type { StagedBlob } from '../blobs/store.ts';
import { assertChecksumMatches, checksumHeaderName, checksumTypeOf, parseChecksumValue, verifyContentMd5, type ChecksumAlgorithm } from './checksums.ts';
import { DomainError } from './errors.ts';

export interface ExpectedContent {
  /** Content-MD5 as the client sent it (base64; a malformed one was refused before the body). */
  contentMd5?: string;
  /** The SHA-256 the client signed (x-amz-content-sha256), hex. */
  sha256?: string;
  /** x-amz-checksum-<algorithm>: computed while storing, and checked when a value was sent. */
  checksum?: ExpectedChecksum;
  /** A copy's source: the bytes read must be what its row names (a mismatch is corruption, never the client's fault). */
  source?: SourceContent;
}

export interface ExpectedChecksum {
  algorithm: ChecksumAlgorithm;
  /** Sent in a header (base64), already well-formed. */
  value?: string;
  /** Announced in x-amz-trailer: the value arrives in these trailers, filled while the body is read. */
  trailers?: Readonly<Record<string, string>>;
}

export interface SourceContent {
  /** bucket/key, for the error. */
  name: string;
  /** Absent when only a range of the source is read. */
  sha256?: string;
  checksums?: Partial<Record<ChecksumAlgorithm, string>>;
}

/** The checksums to compute while ingesting: the expected one, and any the caller stores besides. */
export function checksumsToCompute(expected: ExpectedContent | undefined, also: readonly ChecksumAlgorithm[] = []): ChecksumAlgorithm[] {
  const algorithms = new Set(also);
  if (expected?.checksum) algorithms.add(expected.checksum.algorithm);
  for (const a of Object.keys(expected?.source?.checksums ?? {}) as ChecksumAlgorithm[]) algorithms.add(a);
  return [...algorithms];
}

/** Throws the domain error for the first promise the staged bytes break (BadDigest, ContentSha256Mismatch, ...). */
export function checkContent(expected: ExpectedContent | undefined, staged: Pick<StagedBlob, 'md5' | 'sha256' | 'checksums'>): void {
  if (!expected) return;
  if (expected.contentMd5 !== undefined) verifyContentMd5(expected.contentMd5, staged.md5);
  if (expected.sha256 !== undefined && expected.sha256 !== staged.sha256) {
    throw new DomainError('ContentSha256Mismatch', undefined, {
      ClientComputedContentSHA256: expected.sha256,
      S3ComputedContentSHA256: staged.sha256,
    });
  }
  const checksum = expected.checksum;
  if (checksum) {
    const { algorithm } = checksum;
    let value = checksum.value;
    if (value === undefined && checksum.trailers) {
      const sent = checksum.trailers[checksumHeaderName(algorithm)];
      // The chunk decoder refuses a declared trailer that never came; this is the backstop.
      if (sent === undefined) throw new DomainError('MalformedTrailer');
      value = parseChecksumValue(algorithm, sent, 'trailer');
    }
    if (value !== undefined) assertChecksumMatches(algorithm, value, staged.checksums[algorithm] as string);
  }
  const source = expected.source;
  if (source) {
    if (source.sha256 !== undefined && staged.sha256 !== source.sha256) {
      throw new Error(`copy source ${source.name}: blob content does not match its name`);
    }
    for (const [a, stored] of Object.entries(source.checksums ?? {}) as Array<[ChecksumAlgorithm, string]>) {
      // A multipart source's composite checksum ("…-N") describes its parts, not these bytes.
      if (!stored.includes('-') && staged.checksums[a] !== stored) throw new Error(`copy source ${source.name}: stored ${a} does not match its bytes`);
    }
  }
}

/**
 * The x-amz-checksum-* headers of what was stored (the checksum the client
 * sent, or S3's default); with `type`, x-amz-checksum-type too, as
 * PutObject answers.
 */
export function checksumEcho(checksums: Partial<Record<ChecksumAlgorithm, string>> | undefined, opts: { type?: boolean } = {}): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [a, value] of Object.entries(checksums ?? {}) as Array<[ChecksumAlgorithm, string]>) {
    headers[checksumHeaderName(a)] = value;
    if (opts.type) headers['x-amz-checksum-type'] = checksumTypeOf(value);
  }
  return headers;
}
