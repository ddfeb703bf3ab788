import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { describe, test } from 'node:test';
import { Crc64Nvme } from '@aws-sdk/crc64-nvme';
import { DomainError } from './errors.ts';
import {
  assertChecksumMatches,
  CHECKSUM_ALGORITHMS,
  checksumHeaderName,
  createChecksummer,
  parseChecksumValue,
  parseContentMd5,
  parseRequestedChecksum,
  verifyContentMd5,
  type ChecksumAlgorithm,
} from './checksums.ts';

function digestOf(a: ChecksumAlgorithm, ...pieces: Buffer[]): string {
  const c = createChecksummer(a);
  for (const p of pieces) c.update(p);
  return c.digest();
}

const hexOf = (b64: string) => Buffer.from(b64, 'base64').toString('hex');

function throwsDomain(fn: () => unknown, code: string, message?: string): DomainError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof DomainError, `expected a DomainError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code);
  if (message !== undefined) assert.equal(caught.message, message);
  return caught;
}

describe('checksum algorithms', () => {
  test('header names', () => {
    assert.deepEqual(CHECKSUM_ALGORITHMS.map(checksumHeaderName), [
      'x-amz-checksum-crc32',
      'x-amz-checksum-crc32c',
      'x-amz-checksum-crc64nvme',
      'x-amz-checksum-sha1',
      'x-amz-checksum-sha256',
    ]);
  });

  // The standard check values (CRC catalogue: CRC-32/ISO-HDLC, CRC-32/ISCSI,
  // CRC-64/NVME, all over "123456789") and FIPS 180 SHA digests.
  test('check values over "123456789"', () => {
    const input = Buffer.from('123456789');
    assert.equal(hexOf(digestOf('CRC32', input)), 'cbf43926');
    assert.equal(hexOf(digestOf('CRC32C', input)), 'e3069283');
    assert.equal(hexOf(digestOf('CRC64NVME', input)), 'ae8b14860a799888');
    assert.equal(hexOf(digestOf('SHA1', input)), 'f7c3bc1d808e04732adf679965ccc34ca7ae3441');
    assert.equal(hexOf(digestOf('SHA256', input)), '15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225');
    assert.equal(digestOf('CRC32', input), 'y/Q5Jg==', 'base64 of the big-endian digest');
  });

  test('values S3 and its clients show', () => {
    // The CRC32 of an empty body, which the AWS SDK signs into presigned PUT URLs.
    assert.equal(digestOf('CRC32'), 'AAAAAA==');
    assert.equal(digestOf('CRC32C'), 'AAAAAA==');
    assert.equal(digestOf('CRC64NVME'), 'AAAAAAAAAAA=');
    assert.equal(digestOf('SHA256'), '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=');
    // AWS's trailing-header example: the CRC32C of 66,560 bytes of 'a'.
    assert.equal(digestOf('CRC32C', Buffer.alloc(66_560, 'a')), 'sOO8/Q==');
    // botocore's x-amz-checksum-crc32 for the body "hello" (captured), and S3's answer for "hello\n".
    assert.equal(digestOf('CRC32', Buffer.from('hello')), 'NhCmhg==');
    assert.equal(digestOf('CRC32', Buffer.from('hello\n')), 'NjowIA==');
  });

  test('updates in any pieces give the one-shot digest', () => {
    const data = randomBytes(100_003);
    for (const a of CHECKSUM_ALGORITHMS) {
      const whole = digestOf(a, data);
      assert.equal(digestOf(a, data.subarray(0, 1), data.subarray(1, 77), data.subarray(77, 65_536), data.subarray(65_536)), whole, a);
      assert.equal(digestOf(a, ...Array.from({ length: 101 }, (_, i) => data.subarray(i * 991, (i + 1) * 991))), whole, a);
    }
    assert.equal(digestOf('SHA256', data), createHash('sha256').update(data).digest('base64'));
  });

  test('CRC64NVME agrees with @aws-sdk/crc64-nvme', async () => {
    for (const size of [0, 1, 7, 8, 9, 4096, 100_001]) {
      const data = randomBytes(size);
      const reference = new Crc64Nvme();
      reference.update(data);
      assert.equal(digestOf('CRC64NVME', data), Buffer.from(await reference.digest()).toString('base64'), `size ${size}`);
    }
  });
});

describe('parseRequestedChecksum (S3 messages, as recorded against AWS)', () => {
  const crc = digestOf('CRC32', Buffer.from('body'));

  test('nothing asked for', () => {
    assert.equal(parseRequestedChecksum({}), undefined);
    assert.equal(parseRequestedChecksum({ 'x-amz-checksum-mode': 'ENABLED', 'x-amz-checksum-type': 'COMPOSITE', 'x-amz-checksum-algorithm': 'crc32' }), undefined);
  });

  test('one checksum header, with or without x-amz-sdk-checksum-algorithm', () => {
    assert.deepEqual(parseRequestedChecksum({ 'x-amz-checksum-crc32': crc }), { algorithm: 'CRC32', expected: crc, fromTrailer: false });
    assert.deepEqual(parseRequestedChecksum({ 'x-amz-checksum-crc32': crc, 'x-amz-sdk-checksum-algorithm': 'CRC32' }), {
      algorithm: 'CRC32',
      expected: crc,
      fromTrailer: false,
    });
    const sha = createHash('sha256').update('x').digest('base64');
    assert.deepEqual(parseRequestedChecksum({ 'x-amz-checksum-sha256': sha, 'x-amz-sdk-checksum-algorithm': 'sha256' }), {
      algorithm: 'SHA256',
      expected: sha,
      fromTrailer: false,
    });
    assert.equal(parseRequestedChecksum({ 'x-amz-checksum-crc64nvme': 'AAAAAAAAAAA=' })?.algorithm, 'CRC64NVME');
  });

  test('announced in x-amz-trailer', () => {
    assert.deepEqual(parseRequestedChecksum({ 'x-amz-trailer': 'x-amz-checksum-crc32', 'x-amz-sdk-checksum-algorithm': 'CRC32' }), {
      algorithm: 'CRC32',
      fromTrailer: true,
    });
    // S3 tolerates trailing commas and spaces, nothing else.
    for (const value of ['x-amz-checksum-crc32c,', 'x-amz-checksum-crc32c,,', 'x-amz-checksum-crc32c, ', ' X-Amz-Checksum-CRC32C ']) {
      assert.deepEqual(parseRequestedChecksum({ 'x-amz-trailer': value }), { algorithm: 'CRC32C', fromTrailer: true }, value);
    }
    assert.equal(parseRequestedChecksum({ 'x-amz-trailer': '' }), undefined);
  });

  const refused: Array<[string, IncomingHttpHeaders, string]> = [
    ['two checksum headers', { 'x-amz-checksum-crc32': crc, 'x-amz-checksum-crc32c': crc }, 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.'],
    ['two headers beat an algorithm mismatch', { 'x-amz-checksum-crc32': crc, 'x-amz-checksum-crc32c': crc, 'x-amz-sdk-checksum-algorithm': 'sha256' }, 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.'],
    ['a header and a trailer', { 'x-amz-checksum-crc32': crc, 'x-amz-trailer': 'x-amz-checksum-crc32' }, 'Expecting a single x-amz-checksum- header'],
    ['a header and another trailer', { 'x-amz-checksum-crc32': crc, 'x-amz-trailer': 'x-amz-checksum-crc32c' }, 'Expecting a single x-amz-checksum- header'],
    ['two trailers', { 'x-amz-trailer': 'x-amz-checksum-crc32, x-amz-checksum-sha256' }, 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.'],
    ['the same trailer twice', { 'x-amz-trailer': 'x-amz-checksum-crc32, x-amz-checksum-crc32' }, 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.'],
    ['an unknown algorithm header', { 'x-amz-checksum-bad': crc }, 'The algorithm type you specified in x-amz-checksum- header is invalid.'],
    ['x-amz-sdk-checksum-algorithm naming another algorithm', { 'x-amz-checksum-crc32': crc, 'x-amz-sdk-checksum-algorithm': 'CRC32C' }, 'Value for x-amz-sdk-checksum-algorithm header is invalid.'],
    ['x-amz-sdk-checksum-algorithm naming no algorithm', { 'x-amz-checksum-crc32': crc, 'x-amz-sdk-checksum-algorithm': 'MD5' }, 'Value for x-amz-sdk-checksum-algorithm header is invalid.'],
    ['x-amz-sdk-checksum-algorithm without a checksum', { 'x-amz-sdk-checksum-algorithm': 'CRC32' }, 'x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.'],
    ['a value that is not base64', { 'x-amz-checksum-crc32': 'bad' }, 'Value for x-amz-checksum-crc32 header is invalid.'],
    ['base64 of the wrong size', { 'x-amz-checksum-sha256': crc }, 'Value for x-amz-checksum-sha256 header is invalid.'],
    ['a non-checksum trailer', { 'x-amz-trailer': 'x-amz-content-sha256' }, 'The value specified in the x-amz-trailer header is not supported'],
    ['an unknown checksum trailer', { 'x-amz-trailer': 'x-amz-checksum-bad' }, 'The value specified in the x-amz-trailer header is not supported'],
    ['a leading comma in x-amz-trailer', { 'x-amz-trailer': ', x-amz-checksum-crc32' }, 'The value specified in the x-amz-trailer header is not supported'],
    ['an empty item in x-amz-trailer', { 'x-amz-trailer': 'x-amz-checksum-crc32, ,' }, 'The value specified in the x-amz-trailer header is not supported'],
  ];
  for (const [what, headers, message] of refused) {
    test(`refused: ${what}`, () => {
      throwsDomain(() => parseRequestedChecksum(headers), 'InvalidRequest', message);
    });
  }
});

describe('checksum values', () => {
  test('parseChecksumValue: base64 of the digest size', () => {
    assert.equal(parseChecksumValue('CRC32', ' AAAAAA== '), 'AAAAAA==');
    assert.equal(parseChecksumValue('SHA1', '2jmj7l5rSw0yVb/vlWAYkK/YBwk='), '2jmj7l5rSw0yVb/vlWAYkK/YBwk=');
    for (const bad of ['', 'AAAAAA=', 'AAAAAAA=', 'AAAAAAAAAAA=', '!!!!!!==', 'AAAA AA==']) {
      throwsDomain(() => parseChecksumValue('CRC32', bad), 'InvalidRequest', 'Value for x-amz-checksum-crc32 header is invalid.');
    }
    throwsDomain(() => parseChecksumValue('CRC32', 'not=base-64', 'trailer'), 'InvalidRequest', 'Value for x-amz-checksum-crc32 trailing header is invalid.');
  });

  test('assertChecksumMatches: BadDigest naming the algorithm', () => {
    assertChecksumMatches('CRC32', 'NhCmhg==', digestOf('CRC32', Buffer.from('hello')));
    throwsDomain(() => assertChecksumMatches('CRC32', 'AAAAAA==', 'NhCmhg=='), 'BadDigest', 'The CRC32 you specified did not match the calculated checksum.');
  });
});

describe('Content-MD5', () => {
  const md5 = (s: string) => createHash('md5').update(s).digest();

  test('a matching digest passes', () => {
    verifyContentMd5('XUFAKrxLKna5cZ2REBfFkg==', md5('hello'));
    assert.ok(parseContentMd5('XUFAKrxLKna5cZ2REBfFkg==').equals(md5('hello')));
  });

  test('malformed → InvalidDigest', () => {
    for (const bad of ['invalid', '', 'XUFAKrxLKna5cZ2REBfF', 'XUFAKrxLKna5cZ2REBfFkg==AA==', '5d41402abc4b2a76b9719d911017c592']) {
      const err = throwsDomain(() => verifyContentMd5(bad, md5('hello')), 'InvalidDigest', 'The Content-MD5 you specified was invalid.');
      assert.equal(err.details['Content-MD5'], bad);
    }
  });

  test('mismatch → BadDigest, the expected digest reflected in hex', () => {
    const err = throwsDomain(
      () => verifyContentMd5(md5('').toString('base64'), md5('hello')),
      'BadDigest',
      'The Content-MD5 you specified did not match what we received.',
    );
    assert.equal(err.details.ExpectedDigest, 'd41d8cd98f00b204e9800998ecf8427e');
    assert.equal(err.details.CalculatedDigest, 'XUFAKrxLKna5cZ2REBfFkg==');
  });
});
