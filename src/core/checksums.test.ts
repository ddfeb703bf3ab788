import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { describe, test } from 'node:test';
import { Crc32cJs, Crc64NvmeJs } from '@aws-sdk/checksums/crc';
import { Xxh3_128, Xxh3_64, Xxh64 } from '@aws-sdk/checksums/xxh';
import { DomainError } from './errors.ts';
import {
  algorithmNamed,
  assertChecksumMatches,
  CHECKSUM_ALGORITHMS,
  checksumHeaderName,
  checksumOf,
  createChecksummer,
  parseChecksumValue,
  parseContentMd5,
  parseRequestedChecksum,
  verifyContentMd5,
  type ChecksumAlgorithm,
} from './checksums.ts';

async function digestOf(a: ChecksumAlgorithm, ...pieces: Buffer[]): Promise<string> {
  const c = await createChecksummer(a);
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

/** The AWS SDK for JavaScript's own implementations (@aws-sdk/checksums): what a client computes and sends. */
const SDK_REFERENCE: Partial<Record<ChecksumAlgorithm, new () => { update(d: Uint8Array): void; digest(): Promise<Uint8Array> }>> = {
  CRC32C: Crc32cJs,
  CRC64NVME: Crc64NvmeJs,
  XXHASH64: Xxh64,
  XXHASH3: Xxh3_64,
  XXHASH128: Xxh3_128,
};

describe('checksum algorithms', () => {
  test('header names: the ten S3 accepts', () => {
    assert.deepEqual(CHECKSUM_ALGORITHMS.map(checksumHeaderName), [
      'x-amz-checksum-crc32',
      'x-amz-checksum-crc32c',
      'x-amz-checksum-crc64nvme',
      'x-amz-checksum-sha1',
      'x-amz-checksum-sha256',
      'x-amz-checksum-sha512',
      'x-amz-checksum-md5',
      'x-amz-checksum-xxhash64',
      'x-amz-checksum-xxhash3',
      'x-amz-checksum-xxhash128',
    ]);
    assert.equal(algorithmNamed(' xxHash128 '), 'XXHASH128');
    assert.equal(algorithmNamed('XXHASH'), undefined);
  });

  // The standard check values (CRC catalogue: CRC-32/ISO-HDLC, CRC-32/ISCSI,
  // CRC-64/NVME, all over "123456789"), FIPS 180 SHA digests, RFC 1321 MD5,
  // and xxHash's reference implementation (xxhsum -H1/-H3/-H2).
  test('check values over "123456789"', async () => {
    const input = Buffer.from('123456789');
    assert.equal(hexOf(await digestOf('CRC32', input)), 'cbf43926');
    assert.equal(hexOf(await digestOf('CRC32C', input)), 'e3069283');
    assert.equal(hexOf(await digestOf('CRC64NVME', input)), 'ae8b14860a799888');
    assert.equal(hexOf(await digestOf('SHA1', input)), 'f7c3bc1d808e04732adf679965ccc34ca7ae3441');
    assert.equal(hexOf(await digestOf('SHA256', input)), '15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225');
    assert.equal(
      hexOf(await digestOf('SHA512', input)),
      'd9e6762dd1c8eaf6d61b3c6192fc408d4d6d5f1176d0c29169bc24e71c3f274ad27fcd5811b313d681f7e55ec02d73d499c95455b6b5bb503acf574fba8ffe85',
    );
    assert.equal(hexOf(await digestOf('MD5', input)), '25f9e794323b453885f5181f1b624d0b');
    assert.equal(hexOf(await digestOf('XXHASH64', input)), '8cb841db40e6ae83');
    assert.equal(hexOf(await digestOf('XXHASH3', input)), '72dcb18b67a17dff');
    assert.equal(hexOf(await digestOf('XXHASH128', input)), '33119477ede5dcd5e9716427681d5860');
    assert.equal(await digestOf('CRC32', input), 'y/Q5Jg==', 'base64 of the big-endian digest');
  });

  test('values S3 and its clients show', async () => {
    // The CRC32 of an empty body, which the AWS SDK signs into presigned PUT URLs.
    assert.equal(await digestOf('CRC32'), 'AAAAAA==');
    assert.equal(await digestOf('CRC32C'), 'AAAAAA==');
    assert.equal(await digestOf('CRC64NVME'), 'AAAAAAAAAAA=');
    assert.equal(await digestOf('SHA256'), '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=');
    assert.equal(await digestOf('MD5'), '1B2M2Y8AsgTpgAmY7PhCfg==');
    // xxHash of nothing, seed 0 (the reference implementation's test vectors).
    assert.equal(hexOf(await digestOf('XXHASH64')), 'ef46db3751d8e999');
    assert.equal(hexOf(await digestOf('XXHASH3')), '2d06800538d394c2');
    assert.equal(hexOf(await digestOf('XXHASH128')), '99aa06d3014798d86001c324468d497f');
    // AWS's trailing-header example: the CRC32C of 66,560 bytes of 'a'.
    assert.equal(await digestOf('CRC32C', Buffer.alloc(66_560, 'a')), 'sOO8/Q==');
    // botocore's x-amz-checksum-crc32 for the body "hello" (captured), and S3's answer for "hello\n".
    assert.equal(await digestOf('CRC32', Buffer.from('hello')), 'NhCmhg==');
    assert.equal(await digestOf('CRC32', Buffer.from('hello\n')), 'NjowIA==');
  });

  test('updates in any pieces give the one-shot digest', async () => {
    const data = randomBytes(100_003);
    for (const a of CHECKSUM_ALGORITHMS) {
      const whole = await checksumOf(a, data);
      assert.equal(await digestOf(a, data.subarray(0, 1), data.subarray(1, 77), data.subarray(77, 65_536), data.subarray(65_536)), whole, a);
      assert.equal(await digestOf(a, ...Array.from({ length: 101 }, (_, i) => data.subarray(i * 991, (i + 1) * 991))), whole, a);
    }
    assert.equal(await digestOf('SHA256', data), createHash('sha256').update(data).digest('base64'));
    assert.equal(await digestOf('SHA512', data), createHash('sha512').update(data).digest('base64'));
  });

  test('the AWS SDK computes the same values (CRC32C, CRC64NVME, XXHASH64, XXHASH3, XXHASH128)', async () => {
    // Sizes across xxHash's internal stripes and blocks (16, 128, 240, 1,024, 64 Ki...).
    for (const size of [0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 128, 129, 240, 241, 1023, 1024, 1025, 4096, 65_537, 100_001]) {
      const data = randomBytes(size);
      for (const [a, Reference] of Object.entries(SDK_REFERENCE) as Array<[ChecksumAlgorithm, new () => { update(d: Uint8Array): void; digest(): Promise<Uint8Array> }]>) {
        const reference = new Reference();
        reference.update(data);
        assert.equal(await checksumOf(a, data), Buffer.from(await reference.digest()).toString('base64'), `${a}, size ${size}`);
      }
    }
  });

  test('concurrent checksummers of one algorithm do not share state (pooled WebAssembly hashers)', async () => {
    const a = randomBytes(5000);
    const b = randomBytes(7000);
    for (const alg of ['CRC32C', 'CRC64NVME', 'XXHASH64', 'XXHASH3', 'XXHASH128'] as const) {
      const [ca, cb] = await Promise.all([createChecksummer(alg), createChecksummer(alg)]);
      for (let i = 0; i < 5; i++) {
        ca.update(a.subarray(i * 1000, (i + 1) * 1000));
        cb.update(b.subarray(i * 1400, (i + 1) * 1400));
      }
      assert.equal(ca.digest(), await checksumOf(alg, a), alg);
      assert.equal(cb.digest(), await checksumOf(alg, b), alg);
      // An abandoned one (an upload cut off) leaves the next clean.
      (await createChecksummer(alg)).update(a);
      assert.equal(await checksumOf(alg, b), await checksumOf(alg, b));
    }
  });
});

describe('parseRequestedChecksum (S3 messages, as recorded against AWS)', () => {
  const crc = '26gLsg=='; // the CRC32 of "body"

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

  test('assertChecksumMatches: BadDigest naming the algorithm', async () => {
    assertChecksumMatches('CRC32', 'NhCmhg==', await digestOf('CRC32', Buffer.from('hello')));
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
