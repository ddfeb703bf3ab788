import assert from 'node:assert/strict';
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { describe, test } from 'node:test';
import {
  CopyObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { SignatureV4 } from '@smithy/signature-v4';
import { DomainError } from '../core/errors.ts';
import { asS3Error, contentSha256Mismatch, S3Error } from '../s3/errors.ts';
import {
  canonicalQuery,
  canonicalRequest,
  canonicalUri,
  classifyPayload,
  deriveSigningKey,
  stringToSign,
  verifySigV4,
  type SecretLookup,
  type SignedRequestInput,
} from './sigv4.ts';

// The credentials of AWS's published examples.
const EXAMPLE_KEY = 'AKIAIOSFODNN7EXAMPLE';
const EXAMPLE_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const EXAMPLE_NOW = new Date('2013-05-24T00:00:00Z');
const EXAMPLE_HOST = 'examplebucket.s3.amazonaws.com';
const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const SECRETS: Record<string, string> = {
  [EXAMPLE_KEY]: EXAMPLE_SECRET,
  AKIDBOTO: 'boto/secret+key=',
  AKIDCLI: 'cli/secret+key',
  AKIDRCLONE: 'rclone/secret+key',
  AKIDS3CMD: 's3cmd/secret+key',
  AKIDSDK: 'sdk/Secret+Key/0123456789',
};
const lookup: SecretLookup = async (id) => (SECRETS[id] ? { accessKeyId: id, secretAccessKey: SECRETS[id] } : undefined);

function sha256Hex(s: string | Buffer): string {
  return createHash('sha256').update(s).digest('hex');
}

/** Resolves to the DomainError verifySigV4 throws, as S3 answers it; fails if it does not throw one. */
async function rejection(req: SignedRequestInput, opts: { region?: string; now?: Date } = {}): Promise<S3Error> {
  try {
    await verifySigV4(req, lookup, { region: opts.region ?? 'us-east-1', now: opts.now });
  } catch (err) {
    assert.ok(err instanceof DomainError, `expected a DomainError, got ${String(err)}`);
    return asS3Error(err) as S3Error;
  }
  assert.fail('the request verified');
}

async function verifies(req: SignedRequestInput, opts: { region?: string; now?: Date } = {}) {
  const v = await verifySigV4(req, lookup, { region: opts.region ?? 'us-east-1', now: opts.now });
  assert.ok(v, 'expected a verified signature, got anonymous');
  return v;
}

function withHeaders(req: SignedRequestInput, change: IncomingHttpHeaders): SignedRequestInput {
  return { ...req, headers: { ...req.headers, ...change } };
}

// ---------------------------------------------------------------------------
// AWS's published examples: "Examples: Signature Calculations in AWS Signature
// Version 4" / "Signature Calculations for the Authorization Header:
// Transferring Payload in a Single Chunk" and "Authenticating Requests: Using
// Query Parameters" (S3 API reference), all signed on 20130524 in us-east-1.

function exampleAuth(signedHeaders: string, signature: string): string {
  return `AWS4-HMAC-SHA256 Credential=${EXAMPLE_KEY}/20130524/us-east-1/s3/aws4_request,SignedHeaders=${signedHeaders},Signature=${signature}`;
}

const AWS_EXAMPLES = [
  {
    name: 'GET Object (Range)',
    req: {
      method: 'GET',
      url: '/test.txt',
      headers: {
        host: EXAMPLE_HOST,
        range: 'bytes=0-9',
        'x-amz-content-sha256': EMPTY,
        'x-amz-date': '20130524T000000Z',
        authorization: exampleAuth(
          'host;range;x-amz-content-sha256;x-amz-date',
          'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
        ),
      },
    },
    canonicalHash: '7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972',
    signature: 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
  },
  {
    name: 'PUT Object',
    req: {
      method: 'PUT',
      url: '/test%24file.text',
      headers: {
        host: EXAMPLE_HOST,
        date: 'Fri, 24 May 2013 00:00:00 GMT',
        'x-amz-date': '20130524T000000Z',
        'x-amz-storage-class': 'REDUCED_REDUNDANCY',
        'x-amz-content-sha256': sha256Hex('Welcome to Amazon S3.'),
        authorization: exampleAuth(
          'date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class',
          '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd',
        ),
      },
    },
    canonicalHash: '9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d',
    signature: '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd',
  },
  {
    name: 'GET Bucket Lifecycle',
    req: {
      method: 'GET',
      url: '/?lifecycle',
      headers: {
        host: EXAMPLE_HOST,
        'x-amz-content-sha256': EMPTY,
        'x-amz-date': '20130524T000000Z',
        authorization: exampleAuth(
          'host;x-amz-content-sha256;x-amz-date',
          'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543',
        ),
      },
    },
    canonicalHash: '9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca',
    signature: 'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543',
  },
  {
    name: 'GET Bucket (List Objects)',
    req: {
      method: 'GET',
      url: '/?max-keys=2&prefix=J',
      headers: {
        host: EXAMPLE_HOST,
        'x-amz-content-sha256': EMPTY,
        'x-amz-date': '20130524T000000Z',
        authorization: exampleAuth(
          'host;x-amz-content-sha256;x-amz-date',
          '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7',
        ),
      },
    },
    canonicalHash: 'df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7',
    signature: '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7',
  },
];

const PRESIGNED_EXAMPLE: SignedRequestInput = {
  method: 'GET',
  url:
    '/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request' +
    '&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host' +
    '&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404',
  headers: { host: EXAMPLE_HOST },
};

function signedHeadersOf(req: SignedRequestInput): string[] {
  return /SignedHeaders=([^,]+)/.exec(String(req.headers.authorization))![1].split(';');
}

describe('AWS published SigV4 examples for S3', () => {
  test('GET Object: canonical request and string to sign are the published ones', () => {
    const { req } = AWS_EXAMPLES[0];
    const canonical = canonicalRequest({
      method: req.method,
      url: req.url,
      headers: req.headers,
      signedHeaders: signedHeadersOf(req),
      payloadHash: EMPTY,
      presigned: false,
    });
    assert.equal(
      canonical,
      [
        'GET',
        '/test.txt',
        '',
        'host:examplebucket.s3.amazonaws.com',
        'range:bytes=0-9',
        `x-amz-content-sha256:${EMPTY}`,
        'x-amz-date:20130524T000000Z',
        '',
        'host;range;x-amz-content-sha256;x-amz-date',
        EMPTY,
      ].join('\n'),
    );
    assert.equal(
      stringToSign('20130524T000000Z', '20130524/us-east-1/s3/aws4_request', canonical),
      'AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n' +
        '7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972',
    );
  });

  for (const example of AWS_EXAMPLES) {
    test(`${example.name}: canonical request hash and signature verify`, async () => {
      const { req } = example;
      const canonical = canonicalRequest({
        method: req.method,
        url: req.url,
        headers: req.headers,
        signedHeaders: signedHeadersOf(req),
        payloadHash: req.headers['x-amz-content-sha256'],
        presigned: false,
      });
      assert.equal(sha256Hex(canonical), example.canonicalHash);
      const v = await verifies(req, { now: EXAMPLE_NOW });
      assert.deepEqual(
        { ...v, signingKey: v.signingKey.toString('hex') },
        {
          version: 4,
          accessKeyId: EXAMPLE_KEY,
          presigned: false,
          payloadHash: req.headers['x-amz-content-sha256'],
          region: 'us-east-1',
          signingKey: deriveSigningKey(EXAMPLE_SECRET, '20130524', 'us-east-1').toString('hex'),
          amzDate: '20130524T000000Z',
          scope: '20130524/us-east-1/s3/aws4_request',
          seedSignature: example.signature,
        },
      );
    });
  }

  test('presigned GET Object: canonical request hash and signature aeeed9bb… verify', async () => {
    const canonical = canonicalRequest({
      method: 'GET',
      url: PRESIGNED_EXAMPLE.url,
      headers: PRESIGNED_EXAMPLE.headers,
      signedHeaders: ['host'],
      payloadHash: 'UNSIGNED-PAYLOAD',
      presigned: true,
    });
    assert.equal(
      canonical,
      'GET\n/test.txt\nX-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request' +
        '&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\nhost:examplebucket.s3.amazonaws.com\n\nhost\nUNSIGNED-PAYLOAD',
    );
    assert.equal(sha256Hex(canonical), '3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04');
    const v = await verifies(PRESIGNED_EXAMPLE, { now: new Date('2013-05-24T12:00:00Z') });
    assert.equal(v.presigned, true);
    assert.equal(v.payloadHash, 'UNSIGNED-PAYLOAD');
    assert.equal(v.seedSignature, 'aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404');
  });

  test('presigned example: expired a day later, tampered signature refused', async () => {
    const expired = await rejection(PRESIGNED_EXAMPLE, { now: new Date('2013-05-25T00:00:01Z') });
    assert.equal(expired.code, 'AccessDenied');
    assert.equal(expired.message, 'Request has expired');
    assert.equal(expired.details.Expires, '2013-05-25T00:00:00.000Z');
    const tampered = { ...PRESIGNED_EXAMPLE, url: PRESIGNED_EXAMPLE.url.replace(/d404$/, 'd405') };
    assert.equal((await rejection(tampered, { now: EXAMPLE_NOW })).code, 'SignatureDoesNotMatch');
  });

  test('chunked upload seed requests ("Transferring Payload in Multiple Chunks", with and without trailer) verify', async () => {
    const common = {
      host: 's3.amazonaws.com',
      'x-amz-date': '20130524T000000Z',
      'x-amz-storage-class': 'REDUCED_REDUNDANCY',
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': '66560',
    };
    const plain = await verifies(
      {
        method: 'PUT',
        url: '/examplebucket/chunkObject.txt',
        headers: {
          ...common,
          'content-length': '66824',
          'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
          authorization: exampleAuth(
            'content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class',
            '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
          ),
        },
      },
      { now: EXAMPLE_NOW },
    );
    assert.equal(plain.payloadHash, 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD');
    assert.equal(plain.seedSignature, '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9');
    const withTrailer = await verifies(
      {
        method: 'PUT',
        url: '/examplebucket/chunkObject.txt',
        headers: {
          ...common,
          'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
          'x-amz-trailer': 'x-amz-checksum-crc32c',
          authorization: exampleAuth(
            'content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer',
            '106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e',
          ),
        },
      },
      { now: EXAMPLE_NOW },
    );
    assert.equal(withTrailer.seedSignature, '106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e');
  });

  test('the Authorization header parses with or without spaces after the commas', async () => {
    const { req } = AWS_EXAMPLES[0];
    const spaced = String(req.headers.authorization).replace(/,/g, ',   ').replace('AWS4-HMAC-SHA256 ', 'AWS4-HMAC-SHA256  ');
    await verifies(withHeaders(req, { authorization: spaced }), { now: EXAMPLE_NOW });
  });

  test('signing keys are derived once per secret, day and region', () => {
    const a = deriveSigningKey(EXAMPLE_SECRET, '20130524', 'us-east-1');
    assert.equal(a.toString('hex'), 'dbb893acc010964918f1fd433add87c70e8b0db6be30c1fbeafefa5ec6ba8378');
    assert.equal(deriveSigningKey(EXAMPLE_SECRET, '20130524', 'us-east-1'), a, 'served from the cache');
    assert.notEqual(deriveSigningKey(EXAMPLE_SECRET, '20130525', 'us-east-1').toString('hex'), a.toString('hex'));
    assert.notEqual(deriveSigningKey(EXAMPLE_SECRET + 'x', '20130524', 'us-east-1').toString('hex'), a.toString('hex'));
  });
});

// ---------------------------------------------------------------------------
// Requests captured on the wire from real clients (botocore 1.43 / aws-cli 1.45,
// rclone 1.60, s3cmd 2.3) against a recording server, with the credentials in
// SECRETS. Headers are as Node delivered them, reduced to the signed ones.

interface Captured extends SignedRequestInput {
  client: string;
  what: string;
  expect?: string;
}

const CAPTURED: Captured[] = [
  {"client": "botocore", "what": "key with space + = ~ %, metadata \"x  y\"", "method": "PUT", "url": "/bkt/dir/a%20b%2Bc%3Dd~e%25f.txt", "headers": {"host": "127.0.0.1:9911", "x-amz-checksum-crc32": "NhCmhg==", "x-amz-content-sha256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", "x-amz-date": "20261124T031929Z", "x-amz-meta-note": "x  y", "x-amz-sdk-checksum-algorithm": "CRC32", "authorization": "AWS4-HMAC-SHA256 Credential=AKIDBOTO/20261124/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-checksum-crc32;x-amz-content-sha256;x-amz-date;x-amz-meta-note;x-amz-sdk-checksum-algorithm, Signature=c84aa248c2bc6355899d4b174c9ce00d443cc3828d6e3087325cc84b94871864"}},
  {"client": "botocore", "what": "unicode key", "method": "PUT", "url": "/bkt/%C3%BC/%E6%97%A5%E6%9C%AC%E8%AA%9E%20%E2%9C%93.txt", "headers": {"host": "127.0.0.1:9911", "x-amz-checksum-crc32": "NhCmhg==", "x-amz-content-sha256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", "x-amz-date": "20261124T031929Z", "x-amz-meta-note": "x  y", "x-amz-sdk-checksum-algorithm": "CRC32", "authorization": "AWS4-HMAC-SHA256 Credential=AKIDBOTO/20261124/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-checksum-crc32;x-amz-content-sha256;x-amz-date;x-amz-meta-note;x-amz-sdk-checksum-algorithm, Signature=6125c250b98b8ba2c806e76290a59a08afe489be06fc8ef55f67bedd6fe8ce90"}},
  {"client": "botocore", "what": "// . .. segments", "method": "PUT", "url": "/bkt/a//b/./c/../d", "headers": {"host": "127.0.0.1:9911", "x-amz-checksum-crc32": "NhCmhg==", "x-amz-content-sha256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", "x-amz-date": "20261124T031929Z", "x-amz-meta-note": "x  y", "x-amz-sdk-checksum-algorithm": "CRC32", "authorization": "AWS4-HMAC-SHA256 Credential=AKIDBOTO/20261124/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-checksum-crc32;x-amz-content-sha256;x-amz-date;x-amz-meta-note;x-amz-sdk-checksum-algorithm, Signature=0889bca3fe066117c73df74971e57e230496a1567f89d2f1e746e8a2fc168404"}},
  {"client": "botocore", "what": "trailing slash", "method": "GET", "url": "/bkt/trailing/", "headers": {"host": "127.0.0.1:9911", "range": "bytes=0-1", "x-amz-checksum-mode": "ENABLED", "x-amz-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "x-amz-date": "20261124T031929Z", "authorization": "AWS4-HMAC-SHA256 Credential=AKIDBOTO/20261124/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-checksum-mode;x-amz-content-sha256;x-amz-date, Signature=ce055659f5ef07fa7af03961e4a861beb8b66676005392c7542a59075958b5e7"}},
  {"client": "botocore", "what": "reserved chars !'()*$&,;:@[]", "method": "PUT", "url": "/bkt/sp%21%27%28%29%2A%24%26%2C%3B%3A%40%5B%5D", "headers": {"host": "127.0.0.1:9911", "x-amz-checksum-crc32": "NhCmhg==", "x-amz-content-sha256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", "x-amz-date": "20261124T031929Z", "x-amz-meta-note": "x  y", "x-amz-sdk-checksum-algorithm": "CRC32", "authorization": "AWS4-HMAC-SHA256 Credential=AKIDBOTO/20261124/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-checksum-crc32;x-amz-content-sha256;x-amz-date;x-amz-meta-note;x-amz-sdk-checksum-algorithm, Signature=cd85af3e79b4f89d5e1dc6252ba4ce9bd4804f5ed3dc2b134f6033a74e93dab9"}},
  {"client": "botocore", "what": "ListObjectsV2 prefix with space + = & / unicode", "method": "GET", "url": "/bkt?list-type=2&prefix=a%20b%2Bc%3Dd%26e%2F%C3%BC&delimiter=%2F&start-after=x~y&encoding-type=url", "headers": {"host": "127.0.0.1:9911", "x-amz-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "x-amz-date": "20261124T031929Z", "authorization": "AWS4-HMAC-SHA256 Credential=AKIDBOTO/20261124/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=48992bca59c6a34db8fc89e5cbb7097e3bd766fdc13549ef290d2d8751a1b868"}},
  {"client": "botocore", "what": "ListObjects v1, encoding-type=url", "method": "GET", "url": "/bkt?prefix=p%2Bq&marker=m%20m&encoding-type=url", "headers": {"host": "127.0.0.1:9911", "x-amz-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "x-amz-date": "20261124T031929Z", "authorization": "AWS4-HMAC-SHA256 Credential=AKIDBOTO/20261124/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=1de6b09b55c4cf31eee18a1779ee81996cf15fc7eb018dc5bbf76293e17520e9"}},
  {"client": "curl(presigned by botocore)", "what": "presigned GET with response-content-disposition", "method": "GET", "url": "/bkt/dir/a%20b%2Bc%3Dd~e%25f.txt?response-content-disposition=attachment%3B%20filename%3D%22x%20y.txt%22&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDBOTO%2F20261124%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261124T031933Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=a2353b7fd1c0b26b59232ab82463857fd24201d3da9d74d1c9adf45cf15968be", "headers": {"host": "127.0.0.1:9911"}},
  {"client": "curl(presigned by botocore)", "what": "presigned PUT URL replayed as GET", "method": "GET", "url": "/bkt/%C3%BC/%E6%97%A5%E6%9C%AC%E8%AA%9E%20%E2%9C%93.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDBOTO%2F20261124%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261124T031933Z&X-Amz-Expires=600&X-Amz-SignedHeaders=host&X-Amz-Signature=b722cc94cc32e53e719447e9f8b433cd8fdc4d0615cd7a909dce9619c88c06ce", "headers": {"host": "127.0.0.1:9911"}, "expect": "SignatureDoesNotMatch"},
  {"client": "curl(presigned by botocore)", "what": "presigned PUT", "method": "PUT", "url": "/bkt/%C3%BC/%E6%97%A5%E6%9C%AC%E8%AA%9E%20%E2%9C%93.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDBOTO%2F20261124%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261124T031933Z&X-Amz-Expires=600&X-Amz-SignedHeaders=host&X-Amz-Signature=b722cc94cc32e53e719447e9f8b433cd8fdc4d0615cd7a909dce9619c88c06ce", "headers": {"host": "127.0.0.1:9911"}},
  {"client": "aws-cli", "what": "PUT with Content-MD5", "method": "PUT", "url": "/bkt/cli%20dir/a%20b%2Bc%3Dd~e%25f%20%C3%BC.txt", "headers": {"content-md5": "XUFAKrxLKna5cZ2REBfFkg==", "host": "127.0.0.1:9911", "x-amz-checksum-crc32": "NhCmhg==", "x-amz-content-sha256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", "x-amz-date": "20261124T031934Z", "x-amz-sdk-checksum-algorithm": "CRC32", "authorization": "AWS4-HMAC-SHA256 Credential=AKIDCLI/20261124/us-east-1/s3/aws4_request, SignedHeaders=content-md5;host;x-amz-checksum-crc32;x-amz-content-sha256;x-amz-date;x-amz-sdk-checksum-algorithm, Signature=d480ddd90c5d983d1b4eec918f5a1bb31f053ca3040bc58e48a4a2a5ff5fa2fc"}},
  {"client": "aws-cli", "what": "70 KB PUT, key with +", "method": "PUT", "url": "/bkt/cli%20big/%C3%BC%2Bx.bin", "headers": {"content-type": "application/octet-stream", "host": "127.0.0.1:9911", "x-amz-checksum-crc32": "konEzQ==", "x-amz-content-sha256": "e070f8e4213b7924623dbd6a93bab089af7e9ef9a63b2f4de764758d5caac351", "x-amz-date": "20261124T031934Z", "x-amz-sdk-checksum-algorithm": "CRC32", "authorization": "AWS4-HMAC-SHA256 Credential=AKIDCLI/20261124/us-east-1/s3/aws4_request, SignedHeaders=content-type;host;x-amz-checksum-crc32;x-amz-content-sha256;x-amz-date;x-amz-sdk-checksum-algorithm, Signature=76757b01998fcdb54a69f017d69390838b0a92476540c4f809a4881a40e623f6"}},
  {"client": "aws-cli", "what": "ListObjectsV2", "method": "GET", "url": "/bkt?list-type=2&prefix=some%20prefix%2Bx%2F&delimiter=%2F&encoding-type=url", "headers": {"host": "127.0.0.1:9911", "x-amz-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "x-amz-date": "20261124T031934Z", "authorization": "AWS4-HMAC-SHA256 Credential=AKIDCLI/20261124/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=a437c5d2d78d58c3ca55c258a89aa166fb6cc005d5529ab655166f6300c33891"}},
  {"client": "rclone", "what": "PUT bucket", "method": "PUT", "url": "/bkt", "headers": {"host": "127.0.0.1:9911", "x-amz-acl": "private", "x-amz-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "x-amz-date": "20261124T031939Z", "authorization": "AWS4-HMAC-SHA256 Credential=AKIDRCLONE/20261124/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-acl;x-amz-content-sha256;x-amz-date, Signature=52af3e414554c971efb4c24d0fa1ada60235bf8ba8d842a18ce9b3da43f5051e"}},
  {"client": "rclone", "what": "PUT UNSIGNED-PAYLOAD", "method": "PUT", "url": "/bkt/rc%20dir/a%20b%2Bc%3Dd~e%25f%20%C3%BC.txt", "headers": {"content-length": "5", "content-md5": "XUFAKrxLKna5cZ2REBfFkg==", "content-type": "text/plain; charset=utf-8", "host": "127.0.0.1:9911", "x-amz-acl": "private", "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "x-amz-date": "20261124T031939Z", "x-amz-meta-mtime": "1795490368.771315252", "authorization": "AWS4-HMAC-SHA256 Credential=AKIDRCLONE/20261124/us-east-1/s3/aws4_request, SignedHeaders=content-length;content-md5;content-type;host;x-amz-acl;x-amz-content-sha256;x-amz-date;x-amz-meta-mtime, Signature=80b383871bc4c3bf78c4c22f68ac8af6453ddfe48dff5a301016577d2d171030"}},
  {"client": "rclone", "what": "ListObjects v1 prefix with space and +", "method": "GET", "url": "/bkt?delimiter=%2F&max-keys=1000&prefix=rc%20pre%2Bfix%2F", "headers": {"host": "127.0.0.1:9911", "x-amz-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "x-amz-date": "20261124T031939Z", "authorization": "AWS4-HMAC-SHA256 Credential=AKIDRCLONE/20261124/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=fb38d240ae5a8b802f8f02500ffd905599d2f977c734166657b3b48627a901de"}},
  {"client": "s3cmd", "what": "PUT with x-amz-meta-s3cmd-attrs, storage class", "method": "PUT", "url": "/bkt/s3%20dir/a%20b%2Bc%3Dd~e%25f%20%C3%BC.txt", "headers": {"content-length": "5", "content-type": "text/plain", "host": "127.0.0.1:9911", "x-amz-content-sha256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", "x-amz-date": "20261124T031939Z", "x-amz-meta-s3cmd-attrs": "atime:1795490373/ctime:1795490368/gid:0/gname:root/md5:5d41402abc4b2a76b9719d911017c592/mode:33188/mtime:1795490368/uid:0/uname:root", "x-amz-storage-class": "STANDARD", "authorization": "AWS4-HMAC-SHA256 Credential=AKIDS3CMD/20261124/us-east-1/s3/aws4_request,SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-meta-s3cmd-attrs;x-amz-storage-class,Signature=17725b39bd334ceef5114e8ad9861e997ff28c9fbf84623a75c2ed56209044c1"}},
  {"client": "s3cmd", "what": "ListObjects prefix with space and +", "method": "GET", "url": "/bkt/?delimiter=%2F&prefix=s3%20pre%2Bfix%2F", "headers": {"host": "127.0.0.1:9911", "x-amz-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "x-amz-date": "20261124T031939Z", "authorization": "AWS4-HMAC-SHA256 Credential=AKIDS3CMD/20261124/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=fd0087246af1573420b180765b2e8beec3bcf11212c05b1494ec4bc670d6d735"}},
];

function captureTime(req: SignedRequestInput): Date {
  const d = String(req.headers['x-amz-date'] ?? /X-Amz-Date=(\w+)/.exec(req.url)?.[1]);
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(d)!;
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
}

describe('requests signed by real clients', () => {
  for (const c of CAPTURED) {
    test(`${c.client}: ${c.method} ${c.what}`, async () => {
      const now = new Date(captureTime(c).getTime() + 1000);
      if (c.expect) {
        assert.equal((await rejection(c, { now })).code, c.expect);
      } else {
        const v = await verifies(c, { now });
        assert.equal(v.accessKeyId, /AKID\w+/.exec(JSON.stringify(c))![0]);
      }
    });
  }
});

// ---------------------------------------------------------------------------
// Requests built and signed by the AWS SDK for JavaScript v3 (its serializer
// and @smithy/signature-v4), captured before they leave the client.

const SDK_REGION = 'us-east-1';
const SDK_CREDENTIALS = { accessKeyId: 'AKIDSDK', secretAccessKey: SECRETS.AKIDSDK };
let captured: { method: string; path: string; query: Record<string, string | string[] | null>; headers: Record<string, string> };
const sdk = new S3Client({
  region: SDK_REGION,
  endpoint: 'http://127.0.0.1:9000',
  forcePathStyle: true,
  credentials: SDK_CREDENTIALS,
  requestHandler: {
    handle: async (request: typeof captured) => {
      captured = request;
      throw new Error('captured');
    },
  } as never,
});

/** What the SDK's Node HTTP handler puts in the request line: key and value escaped like encodeURIComponent plus !'()*. */
function wireQuery(query: Record<string, string | string[] | null>): string {
  const esc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
  const parts: string[] = [];
  for (const [k, v] of Object.entries(query)) {
    if (v === null) parts.push(esc(k));
    else for (const one of Array.isArray(v) ? v : [v]) parts.push(`${esc(k)}=${esc(one)}`);
  }
  return parts.join('&');
}

/** Any S3 command object (the SDK's per-command generics do not unify). */
type AnyCommand = object;

async function sdkRequest(command: AnyCommand): Promise<SignedRequestInput> {
  await assert.rejects(sdk.send(command as never), /captured/);
  const query = wireQuery(captured.query ?? {});
  const headers: IncomingHttpHeaders = {};
  for (const [k, v] of Object.entries(captured.headers)) headers[k.toLowerCase()] = v;
  return { method: captured.method, url: captured.path + (query ? `?${query}` : ''), headers };
}

async function presigned(command: AnyCommand, expiresIn = 900): Promise<SignedRequestInput> {
  // Not through new URL(): it would resolve the '.' and '..' segments of the key.
  const [, host, target] = /^https?:\/\/([^/]+)(.*)$/.exec(await getSignedUrl(sdk, command as never, { expiresIn }))!;
  return { method: '', url: target, headers: { host } };
}

const TRICKY_KEYS = [
  'plain.txt',
  'with space.txt',
  'plus+sign.txt',
  'equals=and&amp.txt',
  'tilde~and%percent.txt',
  "quotes'\"(parens)*!.txt",
  'ünïcödé/日本語/😀.txt',
  'double//slash',
  '/leading-slash',
  'dir/./dot/../dotdot',
  'trailing/',
  'semi;colon:at@comma,dollar$hash#question?.txt',
  '%2F already-encoded %20 looking',
];

describe('requests signed by the AWS SDK for JavaScript v3 (@smithy/signature-v4)', () => {
  for (const key of TRICKY_KEYS) {
    test(`PUT, GET, HEAD and CopyObject of ${JSON.stringify(key)}`, async () => {
      const put = await sdkRequest(new PutObjectCommand({ Bucket: 'bkt', Key: key, Body: 'hello', Metadata: { k: 'v  w' } }));
      const v = await verifies(put);
      assert.equal(v.payloadHash, sha256Hex('hello'));
      await verifies(await sdkRequest(new GetObjectCommand({ Bucket: 'bkt', Key: key, Range: 'bytes=0-1' })));
      await verifies(await sdkRequest(new HeadObjectCommand({ Bucket: 'bkt', Key: key })));
      const copy = await sdkRequest(new CopyObjectCommand({ Bucket: 'bkt', Key: `${key}-copy`, CopySource: `bkt/${encodeURIComponent(key)}` }));
      await verifies(copy);
      const get = await presigned(new GetObjectCommand({ Bucket: 'bkt', Key: key, ResponseContentDisposition: `attachment; filename="${key}"` }));
      assert.equal((await verifies({ ...get, method: 'GET' })).presigned, true);
    });
  }

  test('ListObjectsV2 with a prefix, delimiter and start-after full of reserved characters', async () => {
    const req = await sdkRequest(
      new ListObjectsV2Command({ Bucket: 'bkt', Prefix: 'a b+c=d&e/ü~%', Delimiter: '/', StartAfter: "x'y(z)*!", MaxKeys: 7 }),
    );
    assert.match(req.url, /prefix=a%20b%2Bc%3Dd%26e%2F%C3%BC~%25/);
    await verifies(req);
  });

  test('DeleteObjects (POST with a query flag and a body hash)', async () => {
    const req = await sdkRequest(new DeleteObjectsCommand({ Bucket: 'bkt', Delete: { Objects: [{ Key: 'a b' }] } }));
    assert.equal(req.method, 'POST');
    await verifies(req);
  });

  test('presigned PUT carrying the checksum query parameters the SDK adds', async () => {
    const req = await presigned(new PutObjectCommand({ Bucket: 'bkt', Key: 'up load+ü.bin' }), 3600);
    assert.match(req.url, /x-amz-checksum-crc32=AAAAAA%3D%3D/);
    const v = await verifies({ ...req, method: 'PUT' });
    assert.equal(v.payloadHash, 'UNSIGNED-PAYLOAD');
    assert.equal((await rejection({ ...req, method: 'GET' })).code, 'SignatureDoesNotMatch');
  });

  test('raw UTF-8 bytes in a signed header (as Node decodes them, latin1) verify', async () => {
    const signer = new SignatureV4({ service: 's3', region: SDK_REGION, credentials: SDK_CREDENTIALS, sha256: NodeSha256, uriEscapePath: false });
    const signed = await signer.sign({
      method: 'PUT',
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: 9000,
      path: '/bkt/k',
      query: {},
      headers: { host: '127.0.0.1:9000', 'x-amz-meta-name': 'café ☕', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    });
    const headers: IncomingHttpHeaders = {};
    for (const [k, v] of Object.entries(signed.headers)) headers[k.toLowerCase()] = Buffer.from(v, 'utf8').toString('latin1');
    await verifies({ method: 'PUT', url: '/bkt/k', headers });
  });
});

/** The Hash/Hmac constructor @smithy/signature-v4 wants, on node:crypto. */
class NodeSha256 {
  #hash: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#hash = secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.#hash.update(toBuffer(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }
  reset(): void {}
}

function toBuffer(d: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof d === 'string') return Buffer.from(d, 'utf8');
  if (ArrayBuffer.isView(d)) return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  return Buffer.from(d);
}

// ---------------------------------------------------------------------------
// Tampering: any change to what was signed is a SignatureDoesNotMatch.

describe('tampered requests', () => {
  const listing = () => sdkRequest(new ListObjectsV2Command({ Bucket: 'bkt', Prefix: 'photos/2024', Delimiter: '/' }));
  const upload = () => sdkRequest(new PutObjectCommand({ Bucket: 'bkt', Key: 'a b.txt', Body: 'hello' }));

  const mismatches: Array<[string, () => Promise<SignedRequestInput>, (r: SignedRequestInput) => SignedRequestInput]> = [
    ['method', listing, (r) => ({ ...r, method: 'HEAD' })],
    ['path', upload, (r) => ({ ...r, url: r.url.replace('a%20b', 'a%20c') })],
    ['path made double-encoded', upload, (r) => ({ ...r, url: r.url.replace('a%20b', 'a%2520b') })],
    ['query value', listing, (r) => ({ ...r, url: r.url.replace('photos%2F2024', 'photos%2F2025') })],
    ['query parameter added', listing, (r) => ({ ...r, url: r.url + '&max-keys=1' })],
    ['query parameter removed', listing, (r) => ({ ...r, url: r.url.replace('&delimiter=%2F', '') })],
    ['signed header value', listing, (r) => withHeaders(r, { 'amz-sdk-request': 'attempt=2; max=3' })],
    ['signed header removed', upload, (r) => withHeaders(r, { 'content-type': undefined })],
    ['payload hash', upload, (r) => withHeaders(r, { 'x-amz-content-sha256': sha256Hex('other') })],
    ['x-amz-date (same day)', listing, (r) => withHeaders(r, { 'x-amz-date': String(r.headers['x-amz-date']).replace(/\d\dZ$/, (s) => `${(Number(s.slice(0, 2)) + 1) % 60}`.padStart(2, '0') + 'Z') })],
    ['signature', listing, (r) => withHeaders(r, { authorization: String(r.headers.authorization).replace(/.$/, (c) => (c === '0' ? '1' : '0')) })],
    ['literal + sent for a %2B that was signed', () => sdkRequest(new ListObjectsV2Command({ Bucket: 'bkt', Prefix: 'a+b' })), (r) => ({ ...r, url: r.url.replace('a%2Bb', 'a+b') })],
  ];
  for (const [what, make, tamper] of mismatches) {
    test(`${what} → SignatureDoesNotMatch`, async () => {
      const req = await make();
      await verifies(req);
      const err = await rejection(tamper(req));
      assert.equal(err.code, 'SignatureDoesNotMatch');
      assert.equal(err.status, 403);
      assert.ok(err.details.CanonicalRequest && err.details.StringToSign.startsWith('AWS4-HMAC-SHA256\n'));
    });
  }

  const harmless: Array<[string, () => Promise<SignedRequestInput>, (r: SignedRequestInput) => SignedRequestInput]> = [
    ['query parameters reordered', listing, (r) => ({ ...r, url: r.url.replace(/\?(.*)$/, (_, q: string) => '?' + q.split('&').reverse().join('&')) })],
    ['lower-case percent escapes', upload, (r) => ({ ...r, url: r.url.replace('%20', '%20'.toLowerCase()) })],
    ['path character percent-encoded needlessly (%7E for ~)', () => sdkRequest(new GetObjectCommand({ Bucket: 'bkt', Key: 'a~b' })), (r) => ({ ...r, url: r.url.replace('~', '%7E') })],
    ['space sent as + in the query (S3 reads it as a space)', () => sdkRequest(new ListObjectsV2Command({ Bucket: 'bkt', Prefix: 'a b' })), (r) => ({ ...r, url: r.url.replace('a%20b', 'a+b') })],
    ['extra spaces inside a signed header value', upload, (r) => withHeaders(r, { 'x-amz-user-agent': `  ${String(r.headers['x-amz-user-agent']).replace(' ', '   ')}  ` })],
    ['an unsigned header that is not x-amz-*', listing, (r) => withHeaders(r, { accept: '*/*', 'user-agent': 'other' })],
    ['x-amz-content-sha256 left unsigned on a presigned URL', () => presigned(new GetObjectCommand({ Bucket: 'bkt', Key: 'k' })), (r) => ({ ...withHeaders(r, { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }), method: 'GET' })],
  ];
  for (const [what, make, change] of harmless) {
    test(`${what} still verifies`, async () => {
      const req = await make();
      await verifies({ ...req, method: req.method || 'GET' });
      await verifies(change({ ...req, method: req.method || 'GET' }));
    });
  }

  test('an unsigned x-amz-* header is refused like S3 does (HeadersNotSigned)', async () => {
    const err = await rejection(withHeaders(await listing(), { 'x-amz-meta-extra': '1', 'x-amz-acl': 'public-read' }));
    assert.equal(err.code, 'AccessDenied');
    assert.equal(err.message, 'There were headers present in the request which were not signed');
    assert.equal(err.details.HeadersNotSigned, 'x-amz-meta-extra, x-amz-acl');
  });
});

// ---------------------------------------------------------------------------
// Failures and the codes S3 gives them.

const signer = (region = SDK_REGION, credentials = SDK_CREDENTIALS) =>
  new SignatureV4({ service: 's3', region, credentials, sha256: NodeSha256, uriEscapePath: false });

async function headerSigned(
  opts: { at?: Date; region?: string; headers?: Record<string, string>; accessKeyId?: string; unsignable?: string[] } = {},
): Promise<SignedRequestInput> {
  const credentials = { ...SDK_CREDENTIALS, accessKeyId: opts.accessKeyId ?? SDK_CREDENTIALS.accessKeyId };
  const signed = await signer(opts.region, credentials).sign(
    {
      method: 'GET',
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: 9000,
      path: '/bkt/key',
      query: { 'list-type': '2' },
      headers: { host: '127.0.0.1:9000', 'x-amz-content-sha256': EMPTY, ...opts.headers },
    },
    { signingDate: opts.at, unsignableHeaders: new Set(opts.unsignable) },
  );
  return { method: 'GET', url: '/bkt/key?list-type=2', headers: { ...signed.headers } };
}

async function querySigned(opts: { at?: Date; expiresIn?: number; region?: string } = {}): Promise<SignedRequestInput> {
  const signed = await signer(opts.region).presign(
    // As @aws-sdk/s3-request-presigner does: the payload is UNSIGNED-PAYLOAD, hoisted into the query.
    {
      method: 'GET',
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: 9000,
      path: '/bkt/key',
      query: {},
      headers: { host: '127.0.0.1:9000', 'X-Amz-Content-Sha256': 'UNSIGNED-PAYLOAD' },
    },
    { signingDate: opts.at, expiresIn: opts.expiresIn ?? 3600 },
  );
  return { method: 'GET', url: '/bkt/key?' + wireQuery(signed.query as Record<string, string>), headers: { host: '127.0.0.1:9000' } };
}

function setQuery(req: SignedRequestInput, name: string, value: string | undefined): SignedRequestInput {
  const [path, query] = req.url.split('?');
  const params = query.split('&').filter((p) => !p.startsWith(`${name}=`));
  if (value !== undefined) params.push(`${name}=${value}`);
  return { ...req, url: `${path}?${params.join('&')}` };
}

describe('failures map to the S3 error codes', () => {
  const MINUTE = 60_000;

  test('no authentication at all is anonymous (null)', async () => {
    assert.equal(await verifySigV4({ method: 'GET', url: '/bkt/key?prefix=a', headers: { host: 'h' } }, lookup, { region: 'us-east-1' }), null);
  });

  test('clock skew beyond 15 minutes → RequestTimeTooSkewed; within → accepted', async () => {
    const now = new Date();
    await verifies(await headerSigned({ at: new Date(now.getTime() - 14 * MINUTE) }), { now });
    await verifies(await headerSigned({ at: new Date(now.getTime() + 14 * MINUTE) }), { now });
    for (const offset of [-16, 16]) {
      const err = await rejection(await headerSigned({ at: new Date(now.getTime() + offset * MINUTE) }), { now });
      assert.equal(err.code, 'RequestTimeTooSkewed');
      assert.equal(err.status, 403);
      assert.equal(err.details.MaxAllowedSkewMilliseconds, '900000');
    }
    const custom = await verifySigV4(await headerSigned({ at: new Date(now.getTime() - 2 * MINUTE) }), lookup, { region: 'us-east-1', now, maxSkewSeconds: 60 }).catch((e) => e);
    assert.equal(custom.code, 'RequestTimeTooSkewed');
  });

  test('the Date header stands in for x-amz-date, and is what the string to sign carries', async () => {
    const now = new Date('2024-03-01T10:20:30Z');
    const headers: IncomingHttpHeaders = { host: 'h', date: now.toUTCString(), 'x-amz-content-sha256': EMPTY };
    const signedHeaders = ['date', 'host', 'x-amz-content-sha256'];
    const canonical = canonicalRequest({ method: 'GET', url: '/b/k', headers, signedHeaders, payloadHash: EMPTY, presigned: false });
    const toSign = stringToSign('20240301T102030Z', '20240301/us-east-1/s3/aws4_request', canonical);
    const signature = createHmac('sha256', deriveSigningKey(SECRETS.AKIDSDK, '20240301', 'us-east-1')).update(toSign).digest('hex');
    const authorization = `AWS4-HMAC-SHA256 Credential=AKIDSDK/20240301/us-east-1/s3/aws4_request, SignedHeaders=${signedHeaders.join(';')}, Signature=${signature}`;
    const v = await verifies({ method: 'GET', url: '/b/k', headers: { ...headers, authorization } }, { now });
    assert.equal(v.amzDate, '20240301T102030Z');
    const noDate = await rejection({ method: 'GET', url: '/b/k', headers: { host: 'h', 'x-amz-content-sha256': EMPTY, authorization } }, { now });
    assert.equal(noDate.code, 'AccessDenied');
    assert.equal(noDate.message, 'AWS authentication requires a valid Date or x-amz-date header');
    const badDate = await rejection({ method: 'GET', url: '/b/k', headers: { ...headers, 'x-amz-date': '2024-03-01T10:20:30Z', authorization } }, { now });
    assert.equal(badDate.code, 'AccessDenied');
  });

  test('unknown access key → InvalidAccessKeyId', async () => {
    const err = await rejection(await headerSigned({ accessKeyId: 'AKIDNOBODY' }));
    assert.equal(err.code, 'InvalidAccessKeyId');
    assert.equal(err.status, 403);
    assert.equal(err.details.AWSAccessKeyId, 'AKIDNOBODY');
  });

  test('a region other than ours → AuthorizationHeaderMalformed / AuthorizationQueryParametersError naming ours', async () => {
    const header = await rejection(await headerSigned({ region: 'eu-west-1' }));
    assert.equal(header.code, 'AuthorizationHeaderMalformed');
    assert.equal(header.status, 400);
    assert.equal(header.message, "The authorization header is malformed; the region 'eu-west-1' is wrong; expecting 'us-east-1'");
    assert.deepEqual(header.details, { Region: 'us-east-1' });
    const query = await rejection(await querySigned({ region: 'eu-west-1' }));
    assert.equal(query.code, 'AuthorizationQueryParametersError');
    assert.equal(query.message, "Error parsing the X-Amz-Credential parameter; the region 'eu-west-1' is wrong; expecting 'us-east-1'");
    await verifies(await headerSigned({ region: 'eu-west-1' }), { region: 'eu-west-1' });
  });

  test('malformed Authorization headers → AuthorizationHeaderMalformed', async () => {
    const good = await headerSigned();
    const auth = String(good.headers.authorization);
    const variants = [
      auth.replace(/, Signature=\w+/, ''),
      auth.replace(/, SignedHeaders=[^,]+/, ''),
      auth.replace(/Credential=[^,]+/, 'Credential=AKIDSDK/20240101/us-east-1/s3'),
      auth.replace(/Credential=(\w+)\/\d{8}/, 'Credential=$1/2024-01-01'),
      auth.replace('/s3/aws4_request', '/s4/aws4_request'),
      auth.replace('/aws4_request', '/aws4_requests'),
      auth.replace('AWS4-HMAC-SHA256 ', 'AWS4-HMAC-SHA256'),
    ];
    for (const authorization of variants) {
      const err = await rejection(withHeaders(good, { authorization }));
      assert.equal(err.code, 'AuthorizationHeaderMalformed', authorization);
    }
    const otherDay = await rejection(withHeaders(good, { authorization: auth.replace(/Credential=(\w+)\/\d{8}/, 'Credential=$1/20000101') }));
    assert.equal(otherDay.message, 'The authorization header is malformed; Invalid credential date. Date is not the same as X-Amz-Date.');
  });

  test('x-amz-content-sha256 missing or invalid on header auth → InvalidRequest / InvalidArgument', async () => {
    const missing = await rejection(await headerSigned({ unsignable: ['x-amz-content-sha256'] }).then((r) => withHeaders(r, { 'x-amz-content-sha256': undefined })));
    assert.equal(missing.code, 'InvalidRequest');
    assert.equal(missing.message, 'Missing required header for this request: x-amz-content-sha256');
    const invalid = await rejection(await headerSigned({ headers: { 'x-amz-content-sha256': 'unsigned-payload' } }));
    assert.equal(invalid.code, 'InvalidArgument');
    assert.deepEqual(invalid.details, { ArgumentName: 'x-amz-content-sha256', ArgumentValue: 'unsigned-payload' });
    const upper = await verifies(await headerSigned({ headers: { 'x-amz-content-sha256': EMPTY.toUpperCase() } }));
    assert.equal(upper.payloadHash, EMPTY.toUpperCase());
  });

  test('host must be signed', async () => {
    const req = await headerSigned({ unsignable: ['host'] });
    assert.doesNotMatch(String(req.headers.authorization), /host/);
    const err = await rejection(req);
    assert.equal(err.code, 'AccessDenied');
    assert.equal(err.details.HeadersNotSigned, 'host');
  });

  test('Signature Version 2 → InvalidRequest "Please use AWS4-HMAC-SHA256"', async () => {
    const header = await rejection({ method: 'GET', url: '/bkt/key', headers: { host: 'h', authorization: 'AWS AKIDSDK:frJIUN8DYpKDtOLCwo//yllqDzg=' } });
    assert.equal(header.code, 'InvalidRequest');
    assert.equal(header.message, 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.');
    const query = await rejection({ method: 'GET', url: '/bkt/key?AWSAccessKeyId=AKIDSDK&Expires=1141889120&Signature=vjbyPxybdZaNmGa%2ByT272YEAiv4%3D', headers: { host: 'h' } });
    assert.equal(query.code, 'InvalidRequest');
  });

  test('other authorization schemes, and two mechanisms at once → InvalidArgument', async () => {
    const sigv4a = await rejection({ method: 'GET', url: '/b/k', headers: { host: 'h', authorization: 'AWS4-ECDSA-P256-SHA256 Credential=AKIDSDK/20240101/s3/aws4_request, SignedHeaders=host, Signature=00' } });
    assert.equal(sigv4a.code, 'InvalidArgument');
    assert.equal(sigv4a.message, 'Unsupported Authorization Type');
    const bearer = await rejection({ method: 'GET', url: '/b/k', headers: { host: 'h', authorization: 'Bearer abc' } });
    assert.equal(bearer.code, 'InvalidArgument');
    const both = await querySigned();
    const err = await rejection(withHeaders(both, { authorization: String((await headerSigned()).headers.authorization) }));
    assert.equal(err.code, 'InvalidArgument');
    assert.match(err.message, /^Only one auth mechanism allowed/);
  });

  test('presigned: expiry, range of X-Amz-Expires, missing parameters, algorithm', async () => {
    const now = new Date();
    await verifies(await querySigned({ at: new Date(now.getTime() - 59 * MINUTE), expiresIn: 3600 }), { now });
    const expired = await rejection(await querySigned({ at: new Date(now.getTime() - 61 * MINUTE), expiresIn: 3600 }), { now });
    assert.equal(expired.code, 'AccessDenied');
    assert.equal(expired.message, 'Request has expired');
    assert.equal(expired.details['X-Amz-Expires'], '3600');
    const future = await rejection(await querySigned({ at: new Date(now.getTime() + 20 * MINUTE) }), { now });
    assert.equal(future.code, 'AccessDenied');

    const good = await querySigned({ expiresIn: 604800 });
    await verifies(good);
    for (const expires of ['604801', '0', '-1', '1h']) {
      const err = await rejection(setQuery(good, 'X-Amz-Expires', expires));
      assert.equal(err.code, 'AuthorizationQueryParametersError', expires);
      assert.equal(err.status, 400);
    }
    // S3's words (its answer is 400 AuthorizationQueryParametersError, as MinIO and others measured it).
    assert.equal(
      (await rejection(setQuery(good, 'X-Amz-Expires', '604801'))).message,
      'X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds',
    );
    assert.equal((await rejection(setQuery(good, 'X-Amz-Expires', '-1'))).message, 'X-Amz-Expires must be non-negative');
    assert.equal((await rejection(setQuery(good, 'X-Amz-Expires', '1h'))).message, 'X-Amz-Expires should be a number');
    for (const name of ['X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature']) {
      const err = await rejection(setQuery(good, name, undefined));
      assert.equal(err.code, 'AuthorizationQueryParametersError', name);
    }
    assert.equal((await rejection(setQuery(good, 'X-Amz-Algorithm', 'AWS4-HMAC-SHA512'))).code, 'AuthorizationQueryParametersError');
    assert.equal((await rejection(setQuery(good, 'X-Amz-Date', '20240101'))).code, 'AuthorizationQueryParametersError');
    assert.equal((await rejection(setQuery(good, 'X-Amz-Expires', '3600'))).code, 'SignatureDoesNotMatch', 'X-Amz-Expires is signed');
  });

  test('a header named twice in SignedHeaders is malformed, not copied into the canonical request again', async () => {
    // Found by fuzz/sigv4.fuzz.ts: a 56 KB request whose SignedHeaders repeated
    // a long header made a 6.5 MB canonical request and a 20 MB error body.
    const header = await headerSigned({ headers: { 'x-amz-meta-long': 'v'.repeat(8000) } });
    const auth = String(header.headers.authorization);
    const repeated = auth.replace(/SignedHeaders=([^,]+)/, (_, list: string) => `SignedHeaders=${list}${';x-amz-meta-long'.repeat(1000)}`);
    const err = await rejection(withHeaders(header, { authorization: repeated }));
    assert.equal(err.code, 'AuthorizationHeaderMalformed');
    assert.equal(err.message, 'The authorization header is malformed; SignedHeaders is empty or mal-formed.');
    const query = await rejection(setQuery(await querySigned(), 'X-Amz-SignedHeaders', 'host;host'));
    assert.equal(query.code, 'AuthorizationQueryParametersError');
  });
});

// ---------------------------------------------------------------------------
// Canonicalisation rules, one by one.

describe('canonical URI (S3: decoded once, re-encoded once, never normalised)', () => {
  const cases: Array<[string, string]> = [
    ['', '/'],
    ['/', '/'],
    ['/test%24file.text', '/test%24file.text'],
    ['/a+b', '/a%2Bb'],
    ['/a%2Bb', '/a%2Bb'],
    ['/%7e%7E~', '/~~~'],
    ['/a%2fb/c', '/a/b/c'], // an encoded slash decodes to a slash, as S3 and MinIO read it
    ['/%c3%bc', '/%C3%BC'],
    ['//a/./b/../c//', '//a/./b/../c//'],
    ["/!'()*$&,;:=@", '/%21%27%28%29%2A%24%26%2C%3B%3A%3D%40'],
    ['/100%', '/100%25'],
    ['/%zz%4', '/%25zz%254'],
    ['/%FF%00', '/%FF%00'],
  ];
  for (const [raw, canonical] of cases) {
    test(`${JSON.stringify(raw)} → ${canonical}`, () => assert.equal(canonicalUri(raw), canonical));
  }
});

describe('canonical query', () => {
  const cases: Array<[string, string]> = [
    ['', ''],
    ['lifecycle', 'lifecycle='],
    ['uploads=', 'uploads='],
    ['prefix=J&max-keys=2', 'max-keys=2&prefix=J'],
    ['a=2&a=1&b&a=10', 'a=1&a=10&a=2&b='],
    ['prefix=a+b', 'prefix=a%20b'],
    ['prefix=a%2Bb', 'prefix=a%2Bb'],
    ['prefix=a%2bb%7e~', 'prefix=a%2Bb~~'],
    ['k=%C3%BC%2F/', 'k=%C3%BC%2F%2F'],
    ['x=1&&y=2&', 'x=1&y=2'],
    ['B=1&a=1&_=1&~=1', 'B=1&_=1&a=1&~=1'],
    ['v=a%3Db=c', 'v=a%3Db%3Dc'],
  ];
  for (const [raw, canonical] of cases) {
    test(`${JSON.stringify(raw)} → ${JSON.stringify(canonical)}`, () => assert.equal(canonicalQuery(raw), canonical));
  }
  test('presigned: X-Amz-Signature is left out', () => {
    assert.equal(canonicalQuery('X-Amz-Signature=ab&X-Amz-Date=1', { omitSignature: true }), 'X-Amz-Date=1');
    assert.equal(canonicalQuery('X-Amz-Signature=ab&X-Amz-Date=1'), 'X-Amz-Date=1&X-Amz-Signature=ab');
  });
});

test('canonical headers: trimmed, inner runs of spaces collapsed, repeated values joined with ","', () => {
  const canonical = canonicalRequest({
    method: 'get',
    url: '/',
    headers: { host: ' h ', 'x-amz-a': '  one   two  ', 'x-amz-b': ['1', ' 2 '], 'x-amz-c': '' },
    signedHeaders: ['host', 'x-amz-a', 'x-amz-b', 'x-amz-c'],
    payloadHash: 'UNSIGNED-PAYLOAD',
    presigned: false,
  });
  assert.equal(canonical, 'GET\n/\n\nhost:h\nx-amz-a:one two\nx-amz-b:1,2\nx-amz-c:\n\nhost;x-amz-a;x-amz-b;x-amz-c\nUNSIGNED-PAYLOAD');
});

describe('classifyPayload', () => {
  test('the announced payload kinds', () => {
    assert.deepEqual(classifyPayload('UNSIGNED-PAYLOAD'), { kind: 'unsigned' });
    assert.deepEqual(classifyPayload('STREAMING-AWS4-HMAC-SHA256-PAYLOAD'), { kind: 'streaming-signed', trailer: false });
    assert.deepEqual(classifyPayload('STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER'), { kind: 'streaming-signed', trailer: true });
    assert.deepEqual(classifyPayload('STREAMING-UNSIGNED-PAYLOAD-TRAILER'), { kind: 'streaming-unsigned-trailer' });
    assert.deepEqual(classifyPayload(EMPTY), { kind: 'sha256', hex: EMPTY });
    assert.deepEqual(classifyPayload(EMPTY.toUpperCase()), { kind: 'sha256', hex: EMPTY });
  });
  test('anything else → InvalidArgument naming x-amz-content-sha256', () => {
    for (const bad of ['unsigned-payload', 'invalid', EMPTY.slice(1), EMPTY + '0', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD ', '']) {
      assert.throws(
        () => classifyPayload(bad),
        (e: unknown) => e instanceof DomainError && e.code === 'InvalidArgument' && e.details.ArgumentName === 'x-amz-content-sha256' && e.details.ArgumentValue === bad,
      );
    }
  });
  test('contentSha256Mismatch carries both hashes', () => {
    const err = contentSha256Mismatch('aa', 'bb');
    assert.equal(err.code, 'XAmzContentSHA256Mismatch');
    assert.deepEqual(err.details, { ClientComputedContentSHA256: 'aa', S3ComputedContentSHA256: 'bb' });
  });
});
