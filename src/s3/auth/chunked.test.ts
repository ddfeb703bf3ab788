import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { checksumOf } from '../../core/checksums.ts';
import { S3Error } from '../errors.ts';
import { createAwsChunkedDecoder, type AwsChunkedDecoderOptions, type ChunkSigningContext } from './chunked.ts';
import { verifySigV4 } from '../../principals/sigv4.ts';

const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const EXAMPLE_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const lookup = async (id: string) =>
  id === 'AKIAIOSFODNN7EXAMPLE' || id === 'AKIDSDK'
    ? { accessKeyId: id, secretAccessKey: id === 'AKIDSDK' ? 'sdk-secret' : EXAMPLE_SECRET }
    : undefined;

// ---------------------------------------------------------------------------
// Helpers

interface Decoded {
  data: Buffer;
  trailers: Record<string, string>;
}

/** Feeds the body to a fresh decoder in the given pieces. */
async function decode(pieces: Buffer[], opts: AwsChunkedDecoderOptions = {}): Promise<Decoded> {
  const decoder = createAwsChunkedDecoder(opts);
  const out: Buffer[] = [];
  decoder.on('data', (c: Buffer) => out.push(c));
  const done = new Promise<void>((resolve, reject) => {
    decoder.on('end', resolve);
    decoder.on('error', reject);
  });
  for (const p of pieces) {
    if (decoder.destroyed) break;
    decoder.write(p);
  }
  decoder.end();
  await done;
  return { data: Buffer.concat(out), trailers: { ...decoder.trailers } };
}

async function decodeError(pieces: Buffer[], opts: AwsChunkedDecoderOptions = {}): Promise<S3Error> {
  try {
    await decode(pieces, opts);
  } catch (err) {
    assert.ok(err instanceof S3Error, `expected an S3Error, got ${String(err)}`);
    return err;
  }
  assert.fail('the body decoded');
}

function bytewise(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < body.length; i++) out.push(body.subarray(i, i + 1));
  return out;
}

/** Deterministic random slices (mulberry32), sizes 1..maxSize. */
function randomSlices(body: Buffer, seed: number, maxSize = 700): Buffer[] {
  let s = seed >>> 0;
  const rand = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out: Buffer[] = [];
  for (let i = 0; i < body.length; ) {
    const n = 1 + Math.floor(rand() * maxSize);
    out.push(body.subarray(i, i + n));
    i += n;
  }
  return out;
}

const sha256 = (d: Buffer | string) => createHash('sha256').update(d).digest('hex');
const hmac = (key: Buffer, s: string) => createHmac('sha256', key).update(s).digest('hex');

/** A test-side chunk signer, held to AWS's published signatures below. */
function chunkSigner(ctx: ChunkSigningContext) {
  let previous = ctx.seedSignature;
  return {
    chunk(data: Buffer): string {
      previous = hmac(ctx.signingKey, ['AWS4-HMAC-SHA256-PAYLOAD', ctx.amzDate, ctx.scope, previous, EMPTY, sha256(data)].join('\n'));
      return previous;
    },
    trailer(canonical: string): string {
      return hmac(ctx.signingKey, ['AWS4-HMAC-SHA256-TRAILER', ctx.amzDate, ctx.scope, previous, sha256(canonical)].join('\n'));
    },
  };
}

/** `<hex>;chunk-signature=<sig>\r\n<data>\r\n` ... final chunk, optional signed trailer lines, closing CRLF. */
function signedBody(ctx: ChunkSigningContext, chunks: Buffer[], trailer?: Array<[string, string]>): Buffer {
  const sign = chunkSigner(ctx);
  const parts: Buffer[] = [];
  for (const data of [...chunks, Buffer.alloc(0)]) {
    parts.push(Buffer.from(`${data.length.toString(16)};chunk-signature=${sign.chunk(data)}\r\n`), data);
    if (data.length) parts.push(Buffer.from('\r\n'));
  }
  if (trailer) {
    const canonical = trailer.map(([n, v]) => `${n}:${v}\n`).join('');
    parts.push(Buffer.from(trailer.map(([n, v]) => `${n}:${v}\r\n`).join('') + `x-amz-trailer-signature:${sign.trailer(canonical)}\r\n`));
  }
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

/** The unsigned framing: `<hex>\r\n<data>\r\n` ... `0\r\n`, trailer text, closing CRLF. */
function unsignedBody(chunks: Buffer[], trailer = '', close = '\r\n'): Buffer {
  const parts: Buffer[] = [];
  for (const data of chunks) parts.push(Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n'));
  parts.push(Buffer.from(`0\r\n${trailer}${close}`));
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------
// AWS's published examples ("Signature Calculations for the Authorization
// Header: Transferring Payload in Multiple Chunks" and "... trailing headers"):
// a 66,560-byte object of 'a' in a 64 KiB chunk, a 1 KiB chunk and the final
// one, with the AWS example credentials on 20130524 in us-east-1.

const EXAMPLE_DATA = Buffer.alloc(66_560, 'a');
const EXAMPLE_CHUNKS = [EXAMPLE_DATA.subarray(0, 65_536), EXAMPLE_DATA.subarray(65_536)];
const EXAMPLE_HEADERS: IncomingHttpHeaders = {
  host: 's3.amazonaws.com',
  'x-amz-date': '20130524T000000Z',
  'x-amz-storage-class': 'REDUCED_REDUNDANCY',
  'content-encoding': 'aws-chunked',
  'x-amz-decoded-content-length': '66560',
};
const EXAMPLE_AUTH = 'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=';

const SIGNED = {
  seed: '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
  chunks: [
    'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
    '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
    'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
  ],
};
const SIGNED_TRAILER = {
  seed: '106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e',
  chunks: [
    'b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2',
    '1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7',
    '2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992',
  ],
  trailer: 'x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n',
};

function exampleBody(signatures: string[], trailer = ''): Buffer {
  return Buffer.concat([
    Buffer.from(`10000;chunk-signature=${signatures[0]}\r\n`),
    EXAMPLE_CHUNKS[0],
    Buffer.from(`\r\n400;chunk-signature=${signatures[1]}\r\n`),
    EXAMPLE_CHUNKS[1],
    Buffer.from(`\r\n0;chunk-signature=${signatures[2]}\r\n${trailer}\r\n`),
  ]);
}

/** The chunk signing context, straight from verifying the example's seed request. */
async function exampleContext(withTrailer: boolean): Promise<ChunkSigningContext> {
  const headers: IncomingHttpHeaders = withTrailer
    ? {
        ...EXAMPLE_HEADERS,
        'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
        'x-amz-trailer': 'x-amz-checksum-crc32c',
        authorization: `${EXAMPLE_AUTH}content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer,Signature=${SIGNED_TRAILER.seed}`,
      }
    : {
        ...EXAMPLE_HEADERS,
        'content-length': '66824',
        'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
        authorization: `${EXAMPLE_AUTH}content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=${SIGNED.seed}`,
      };
  const v = await verifySigV4({ method: 'PUT', url: '/examplebucket/chunkObject.txt', headers }, lookup, {
    region: 'us-east-1',
    now: new Date('2013-05-24T00:00:00Z'),
  });
  assert.ok(v);
  return { signingKey: v.signingKey, amzDate: v.amzDate, scope: v.scope, seedSignature: v.seedSignature };
}

describe('AWS published chunked upload examples', () => {
  test('STREAMING-AWS4-HMAC-SHA256-PAYLOAD: every chunk signature verifies, 66,560 bytes out', async () => {
    const ctx = await exampleContext(false);
    const body = exampleBody(SIGNED.chunks);
    assert.equal(body.length, 66_824, 'the published Content-Length');
    const opts = { signing: ctx, decodedContentLength: 66_560 };
    for (const pieces of [[body], bytewise(body), randomSlices(body, 1), randomSlices(body, 2, 70_000)]) {
      const { data, trailers } = await decode(pieces, opts);
      assert.ok(data.equals(EXAMPLE_DATA));
      assert.deepEqual(trailers, {});
    }
  });

  test('STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER: chunk and trailer signatures verify, trailer exposed', async () => {
    const ctx = await exampleContext(true);
    const body = exampleBody(SIGNED_TRAILER.chunks, SIGNED_TRAILER.trailer);
    const opts = { signing: ctx, trailer: ['x-amz-checksum-crc32c'], decodedContentLength: 66_560 };
    for (const pieces of [[body], bytewise(body), randomSlices(body, 3)]) {
      const { data, trailers } = await decode(pieces, opts);
      assert.ok(data.equals(EXAMPLE_DATA));
      assert.deepEqual(trailers, { 'x-amz-checksum-crc32c': 'sOO8/Q==' });
    }
    assert.equal(await checksumOf('CRC32C', EXAMPLE_DATA), 'sOO8/Q==', 'the trailer is the CRC32C of the data');
  });

  test('the test-side signer reproduces the published signatures', async () => {
    for (const [example, trailer] of [[SIGNED, undefined], [SIGNED_TRAILER, [['x-amz-checksum-crc32c', 'sOO8/Q==']]]] as const) {
      const ctx = await exampleContext(trailer !== undefined);
      const body = signedBody(ctx, EXAMPLE_CHUNKS, trailer as Array<[string, string]> | undefined);
      const expected = exampleBody(example.chunks, 'trailer' in example ? example.trailer : '');
      assert.ok(body.equals(expected));
    }
  });

  test('tampering is a SignatureDoesNotMatch: data, chunk signature, seed, order, trailer', async () => {
    const ctx = await exampleContext(false);
    const body = exampleBody(SIGNED.chunks);
    const flipAt = (b: Buffer, i: number) => {
      const c = Buffer.from(b);
      c[i] = c[i] === 0x61 ? 0x62 : 0x61;
      return c;
    };
    const headerLength = `10000;chunk-signature=${SIGNED.chunks[0]}\r\n`.length;
    const cases: Array<[string, Buffer, ChunkSigningContext]> = [
      ['first data byte', flipAt(body, headerLength), ctx],
      ['last byte of the 1 KiB chunk', flipAt(body, body.length - `\r\n0;chunk-signature=${SIGNED.chunks[2]}\r\n\r\n`.length - 1), ctx],
      ['final chunk signature', exampleBody([SIGNED.chunks[0], SIGNED.chunks[1], SIGNED.chunks[1]]), ctx],
      ['chunk signatures swapped', exampleBody([SIGNED.chunks[1], SIGNED.chunks[0], SIGNED.chunks[2]]), ctx],
      ['seed of another request', body, { ...ctx, seedSignature: SIGNED_TRAILER.seed }],
      ['signature 0000…', exampleBody(['0'.repeat(64), ...SIGNED.chunks.slice(1)]), ctx],
      ['signature not hex (S3: SignatureDoesNotMatch)', exampleBody(['invalid', ...SIGNED.chunks.slice(1)]), ctx],
    ];
    for (const [what, tampered, signing] of cases) {
      for (const pieces of [[tampered], randomSlices(tampered, 7)]) {
        const err = await decodeError(pieces, { signing, decodedContentLength: 66_560 });
        assert.equal(err.code, 'SignatureDoesNotMatch', what);
        assert.equal(err.status, 403);
      }
    }
    const trailerCtx = await exampleContext(true);
    const badTrailer = exampleBody(SIGNED_TRAILER.chunks, SIGNED_TRAILER.trailer.replace('sOO8/Q==', 'sOO8/A=='));
    const err = await decodeError([badTrailer], { signing: trailerCtx, trailer: ['x-amz-checksum-crc32c'] });
    assert.equal(err.code, 'SignatureDoesNotMatch');
    assert.match(err.details.StringToSign, /^AWS4-HMAC-SHA256-TRAILER\n/);
  });

  test('signed trailer: a missing trailer signature is an IncompleteBody', async () => {
    const ctx = await exampleContext(true);
    const body = exampleBody(SIGNED_TRAILER.chunks, 'x-amz-checksum-crc32c:sOO8/Q==\r\n');
    assert.equal((await decodeError([body], { signing: ctx, trailer: ['x-amz-checksum-crc32c'] })).code, 'IncompleteBody');
  });
});

// ---------------------------------------------------------------------------
// What the AWS SDK for JavaScript v3 sends for a streamed PutObject:
// STREAMING-UNSIGNED-PAYLOAD-TRAILER, `<hex>\r\n<data>\r\n ... 0\r\n
// x-amz-checksum-crc32:<b64>\r\n\r\n` (see FIELD-NOTES), captured from the SDK.

async function sdkStreamedPut(data: Buffer, pieceSize: number) {
  let captured:
    | { headers: Record<string, string>; body: AsyncIterable<Uint8Array>; path: string; query: Record<string, string>; method: string }
    | undefined;
  const client = new S3Client({
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1:9000',
    forcePathStyle: true,
    credentials: { accessKeyId: 'AKIDSDK', secretAccessKey: 'sdk-secret' },
    requestHandler: {
      handle: async (request: NonNullable<typeof captured>) => {
        captured = request;
        throw new Error('captured');
      },
    } as never,
  });
  const pieces: Buffer[] = [];
  for (let i = 0; i < data.length; i += pieceSize) pieces.push(data.subarray(i, i + pieceSize));
  await assert.rejects(
    client.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'streamed', Body: Readable.from(pieces), ContentLength: data.length })),
    /captured/,
  );
  assert.ok(captured);
  const wire: Buffer[] = [];
  for await (const c of captured.body) wire.push(Buffer.from(c));
  const headers: IncomingHttpHeaders = {};
  for (const [k, v] of Object.entries(captured.headers)) headers[k.toLowerCase()] = v;
  const query = Object.entries(captured.query ?? {}).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
  return { method: captured.method, url: captured.path + (query.length ? `?${query.join('&')}` : ''), headers, body: Buffer.concat(wire) };
}

describe('unsigned trailer framing', () => {
  test('a streamed PutObject from the AWS SDK v3 verifies and decodes, CRC32 trailer included', async () => {
    const data = Buffer.from(Array.from({ length: 50_000 }, (_, i) => (i * 31) & 0xff));
    const req = await sdkStreamedPut(data, 16_384);
    assert.equal(req.headers['x-amz-content-sha256'], 'STREAMING-UNSIGNED-PAYLOAD-TRAILER');
    assert.equal(req.headers['x-amz-trailer'], 'x-amz-checksum-crc32');
    assert.match(req.body.toString('latin1'), /\r\n0\r\nx-amz-checksum-crc32:[A-Za-z0-9+/=]{8}\r\n\r\n$/);
    const v = await verifySigV4(req, lookup, { region: 'us-east-1' });
    assert.equal(v?.payloadHash, 'STREAMING-UNSIGNED-PAYLOAD-TRAILER');
    const opts = { trailer: ['x-amz-checksum-crc32'], decodedContentLength: Number(req.headers['x-amz-decoded-content-length']) };
    const crc = await checksumOf('CRC32', data);
    for (const pieces of [[req.body], bytewise(req.body), randomSlices(req.body, 11)]) {
      const out = await decode(pieces, opts);
      assert.ok(out.data.equals(data));
      assert.deepEqual(out.trailers, { 'x-amz-checksum-crc32': crc });
    }
  });

  const data = Buffer.alloc(10_000, 'd');
  const crc = 'x-amz-checksum-crc32';
  const upper = Buffer.alloc(0x2aaa, 'u');
  const accepted: Array<[string, Buffer, AwsChunkedDecoderOptions, Buffer, Record<string, string>]> = [
    ['trailer then closing CRLF (AWS SDKs)', unsignedBody([data], `${crc}:AAAAAA==\r\n`), { trailer: [crc] }, data, { [crc]: 'AAAAAA==' }],
    ['no closing CRLF after the trailer (S3 accepts; AWS SDK for .NET)', unsignedBody([data], `${crc}:AAAAAA==\r\n`, ''), { trailer: [crc] }, data, { [crc]: 'AAAAAA==' }],
    ['body ends right after the final chunk (no trailer, no CRLF)', unsignedBody([data], '', ''), {}, data, {}],
    ["minio-go: 'name:value\\n' then CRLF CRLF", unsignedBody([data], `${crc}:AAAAAA==\n\r\n`), { trailer: [crc] }, data, { [crc]: 'AAAAAA==' }],
    ['spaces around the value, upper-case name', unsignedBody([data], `X-Amz-Checksum-CRC32 :  AAAAAA==  \r\n`), { trailer: [crc] }, data, { [crc]: 'AAAAAA==' }],
    ['a repeated trailer: the last one counts', unsignedBody([data], `${crc}:BBBBBB==\r\n${crc}:AAAAAA==\r\n`), { trailer: [crc] }, data, { [crc]: 'AAAAAA==' }],
    ['anything after the closing blank line is ignored', unsignedBody([data], `${crc}:AAAAAA==\r\n`, '\r\n\r\nbonus: trailer\r\n\xff'), { trailer: [crc] }, data, { [crc]: 'AAAAAA==' }],
    ['upper-case hex sizes', Buffer.from(unsignedBody([upper]).toString('latin1').replace('2aaa', '2AAA'), 'latin1'), {}, upper, {}],
    ['chunk extensions are ignored when chunks are unsigned', Buffer.from(unsignedBody([data]).toString('latin1').replace('2710\r\n', '2710;chunk-signature=abc\r\n'), 'latin1'), {}, data, {}],
    ['empty object', Buffer.from(`0\r\n${crc}:AAAAAA==\r\n\r\n`), { trailer: [crc], decodedContentLength: 0 }, Buffer.alloc(0), { [crc]: 'AAAAAA==' }],
  ];
  for (const [what, body, opts, expected, trailers] of accepted) {
    test(`accepted: ${what}`, async () => {
      for (const pieces of [[body], bytewise(body)]) {
        const out = await decode(pieces, opts);
        assert.ok(out.data.equals(expected));
        assert.deepEqual(out.trailers, trailers);
      }
    });
  }
});

// ---------------------------------------------------------------------------
// Malformed bodies, and the codes S3 answers them with.

describe('malformed bodies', () => {
  const data = Buffer.alloc(9000, 'm');
  const crc = 'x-amz-checksum-crc32';
  const cases: Array<[string, Buffer | string, AwsChunkedDecoderOptions, string, Record<string, string>?]> = [
    ['size is not hex', 'zz\r\nab\r\n0\r\n\r\n', {}, 'IncompleteBody'],
    ['negative size', '-2\r\nab\r\n0\r\n\r\n', {}, 'IncompleteBody'],
    ['empty size line', '\r\nab\r\n0\r\n\r\n', {}, 'IncompleteBody'],
    ['size over 5 GiB', '140000001\r\nab', {}, 'IncompleteBody'],
    ['17 hex digits', '00000000000000002\r\nab\r\n0\r\n\r\n', {}, 'IncompleteBody'],
    ['chunk line ends in a bare LF', '2\nab\n0\n\n', {}, 'IncompleteBody'],
    ['data not followed by CRLF', '2\r\nabX\r\n0\r\n\r\n', {}, 'IncompleteBody'],
    ['data followed by LF only', '2\r\nab\n0\r\n\r\n', {}, 'IncompleteBody'],
    ['body ends inside the data', '5\r\nab', {}, 'IncompleteBody'],
    ['body ends before the CRLF after the data', '2\r\nab', {}, 'IncompleteBody'],
    ['body ends without the final chunk', '2\r\nab\r\n', {}, 'IncompleteBody'],
    ['body ends inside a chunk line', '2\r\nab\r\n0', {}, 'IncompleteBody'],
    ['final chunk line then a lone CR', '2\r\nab\r\n0\r\n\r', {}, 'IncompleteBody'],
    ['empty body', '', {}, 'IncompleteBody'],
    ['not aws-chunked at all', 'hello world', {}, 'IncompleteBody'],
    ['trailer line without CRLF at the end', `2\r\nab\r\n0\r\n${crc}:AAAAAA==`, { trailer: [crc] }, 'IncompleteBody'],
    ['trailer line ending in a bare LF at the end', `2\r\nab\r\n0\r\n${crc}:AAAAAA==\n`, { trailer: [crc] }, 'IncompleteBody'],
    ['fewer bytes than x-amz-decoded-content-length', '2\r\nab\r\n0\r\n\r\n', { decodedContentLength: 3 }, 'IncompleteBody', { NumberBytesExpected: '3', NumberBytesProvided: '2' }],
    ['more bytes than x-amz-decoded-content-length', '4\r\nabcd\r\n0\r\n\r\n', { decodedContentLength: 3 }, 'IncompleteBody', { NumberBytesExpected: '3', NumberBytesProvided: '4' }],
    ['a zero chunk mid-stream', '2\r\nab\r\n0\r\n2\r\ncd\r\n0\r\n\r\n', { decodedContentLength: 4 }, 'IncompleteBody', { NumberBytesExpected: '4', NumberBytesProvided: '2' }],
    ['declared trailer not sent', `2\r\nab\r\n0\r\n\r\n`, { trailer: [crc] }, 'MalformedTrailerError'],
    ['declared trailer after a blank line', `2\r\nab\r\n0\r\n\r\n${crc}:AAAAAA==\r\n`, { trailer: [crc] }, 'MalformedTrailerError'],
    ['another trailer than the declared one', `2\r\nab\r\n0\r\nx-amz-checksum-crc32c:AAAAAA==\r\n\r\n`, { trailer: [crc] }, 'MalformedTrailerError'],
    ['an undeclared extra trailer', `2\r\nab\r\n0\r\n${crc}:AAAAAA==\r\nbonus: trailer\r\n\r\n`, { trailer: [crc] }, 'MalformedTrailerError'],
    ['a trailer when none was declared', `2\r\nab\r\n0\r\n${crc}:AAAAAA==\r\n\r\n`, {}, 'MalformedTrailerError'],
    ['a trailer line without a colon', `2\r\nab\r\n0\r\n${crc} AAAAAA==\r\n\r\n`, { trailer: [crc] }, 'MalformedTrailerError'],
    ['a trailer signature on an unsigned body', `2\r\nab\r\n0\r\n${crc}:AAAAAA==\r\nx-amz-trailer-signature:${'0'.repeat(64)}\r\n\r\n`, { trailer: [crc] }, 'MalformedTrailerError'],
    ['a trailer line over 4 KiB', `2\r\nab\r\n0\r\n${crc}:${'A'.repeat(5000)}\r\n\r\n`, { trailer: [crc] }, 'MalformedTrailerError'],
    ['a chunk line over 4 KiB', `2;${'x'.repeat(5000)}\r\nab\r\n0\r\n\r\n`, {}, 'IncompleteBody'],
    ['a non-final chunk under 8 KiB (unsigned too)', unsignedBody([Buffer.alloc(8191, 's'), Buffer.alloc(10, 's')]), {}, 'InvalidChunkSizeError', { Chunk: '2', BadChunkSize: '8191' }],
    ['a small chunk in the middle', unsignedBody([data, Buffer.alloc(100), data]), {}, 'InvalidChunkSizeError', { Chunk: '3', BadChunkSize: '100' }],
  ];
  for (const [what, raw, opts, code, details] of cases) {
    test(`${what} → ${code}`, async () => {
      const body = typeof raw === 'string' ? Buffer.from(raw, 'latin1') : raw;
      for (const pieces of [[body], bytewise(body), randomSlices(body, 5, 40)]) {
        const err = await decodeError(pieces, opts);
        assert.equal(err.code, code);
        if (details) assert.deepEqual(err.details, details);
      }
    });
  }

  test('chunk sizes: 8 KiB exactly, a small last chunk and a small only chunk are fine', async () => {
    for (const chunks of [[Buffer.alloc(8192, 1), Buffer.alloc(8192, 2), Buffer.alloc(1, 3)], [Buffer.alloc(5, 4)], [Buffer.alloc(20_000, 5), Buffer.alloc(1, 6)]]) {
      const out = await decode([unsignedBody(chunks)]);
      assert.ok(out.data.equals(Buffer.concat(chunks)));
    }
  });

  test('signed chunks: the chunk size rule, S3 style (detected at chunk 2, reports the short chunk)', async () => {
    const ctx = await exampleContext(false);
    const body = signedBody(ctx, [Buffer.alloc(1024, 'x'), Buffer.alloc(4096, 'y'), Buffer.alloc(3072, 'z')]);
    const err = await decodeError([body], { signing: ctx });
    assert.equal(err.code, 'InvalidChunkSizeError');
    assert.equal(err.status, 403);
    assert.equal(err.message, 'Only the last chunk is allowed to have a size less than 8192 bytes');
    assert.deepEqual(err.details, { Chunk: '2', BadChunkSize: '1024' });
    const ragged = [Buffer.alloc(15 * 1024, 'x'), Buffer.alloc(8 * 1024, 'y'), Buffer.alloc(16 * 1024, 'z')];
    assert.ok((await decode([signedBody(ctx, ragged)], { signing: ctx })).data.equals(Buffer.concat(ragged)));
  });

  test('signed chunks: the chunk-signature extension as S3 reads it', async () => {
    const ctx = await exampleContext(false);
    const good = signedBody(ctx, [data]).toString('latin1');
    const variant = (f: (s: string) => string) => Buffer.from(f(good), 'latin1');
    const spaced = variant((s) => s.replace(/;chunk-signature=(\w+)/g, ' ; chunk-signature = $1 '));
    assert.ok((await decode([spaced], { signing: ctx })).data.equals(data), 'spaces around ; and = are fine');
    const expectations: Array<[string, Buffer, string]> = [
      ['no signature', variant((s) => s.replace(/;chunk-signature=\w+/g, '')), 'IncompleteBody'],
      ['empty signature', variant((s) => s.replace(/;chunk-signature=\w+/g, ';chunk-signature=')), 'IncompleteBody'],
      ['another extension first', variant((s) => s.replace(/;chunk-signature=/g, ';extra=param;chunk-signature=')), 'SignatureDoesNotMatch'],
      ['another extension after', variant((s) => s.replace(/(;chunk-signature=\w+)/g, '$1;extra=param')), 'IncompleteBody'],
      ['upper-case signature', variant((s) => s.replace(/;chunk-signature=(\w+)/, (_, sig: string) => `;chunk-signature=${sig.toUpperCase()}`)), 'SignatureDoesNotMatch'],
    ];
    for (const [what, body, code] of expectations) {
      assert.equal((await decodeError([body], { signing: ctx })).code, code, what);
    }
  });

  test('signed trailer built by the test signer: good, then each way of breaking it', async () => {
    const ctx = await exampleContext(true);
    const opts = { signing: ctx, trailer: [crc], decodedContentLength: data.length };
    const good = signedBody(ctx, [data], [[crc, 'AAAAAA==']]);
    assert.deepEqual((await decode(randomSlices(good, 9), opts)).trailers, { [crc]: 'AAAAAA==' });
    const text = good.toString('latin1');
    const broken: Array<[string, string, string]> = [
      ['trailer value changed', text.replace(`${crc}:AAAAAA==`, `${crc}:AAAAAB==`), 'SignatureDoesNotMatch'],
      ['trailer signature removed', text.replace(/x-amz-trailer-signature:\w+\r\n/, ''), 'IncompleteBody'],
      ['trailer removed, signature kept', text.replace(`${crc}:AAAAAA==\r\n`, ''), 'MalformedTrailerError'],
      ['a trailer after the signature', text.replace(/(x-amz-trailer-signature:\w+\r\n)/, `$1${crc}:AAAAAA==\r\n`), 'MalformedTrailerError'],
    ];
    for (const [what, body, code] of broken) {
      assert.equal((await decodeError([Buffer.from(body, 'latin1')], opts)).code, code, what);
    }
  });
});

// ---------------------------------------------------------------------------
// Streaming behaviour.

describe('streaming', () => {
  test('any write boundaries give the same bytes and trailers', async () => {
    const ctx = await exampleContext(true);
    const chunks = [Buffer.alloc(70_000, 1), Buffer.alloc(8192, 2), Buffer.alloc(33, 3)];
    const bodies: Array<[Buffer, AwsChunkedDecoderOptions]> = [
      [signedBody(ctx, chunks, [['x-amz-checksum-sha256', 'x'.repeat(43) + '=']]), { signing: ctx, trailer: ['x-amz-checksum-sha256'], decodedContentLength: 78_225 }],
      [unsignedBody(chunks, 'x-amz-checksum-crc32c:AAAAAA==\r\n'), { trailer: ['x-amz-checksum-crc32c'], decodedContentLength: 78_225 }],
    ];
    for (const [body, opts] of bodies) {
      const reference = await decode([body], opts);
      assert.ok(reference.data.equals(Buffer.concat(chunks)));
      for (let seed = 0; seed < 25; seed++) {
        const out = await decode(randomSlices(body, seed, seed % 2 ? 9 : 9000), opts);
        assert.ok(out.data.equals(reference.data), `seed ${seed}`);
        assert.deepEqual(out.trailers, reference.trailers);
      }
      const out = await decode(bytewise(body), opts);
      assert.ok(out.data.equals(reference.data));
    }
  });

  test('chunk data is passed on as it arrives, not held until the chunk is complete', async () => {
    const decoder = createAwsChunkedDecoder({});
    let received = 0;
    decoder.on('data', (c: Buffer) => (received += c.length));
    decoder.write(Buffer.from(`${(1 << 20).toString(16)}\r\n`));
    decoder.write(Buffer.alloc(1000, 'p'));
    await new Promise((r) => setImmediate(r));
    assert.equal(received, 1000, 'the first 1000 bytes of a 1 MiB chunk are already out');
    decoder.write(Buffer.alloc(2000, 'p'));
    await new Promise((r) => setImmediate(r));
    assert.equal(received, 3000);
    decoder.destroy();
  });

  test('a runaway chunk line fails as soon as it passes the cap, before the body ends', async () => {
    const decoder = createAwsChunkedDecoder({});
    const failed = new Promise<S3Error>((resolve) => decoder.on('error', resolve));
    decoder.resume();
    for (let i = 0; i < 5; i++) decoder.write(Buffer.alloc(1000, '1'));
    const err = await failed;
    assert.equal(err.code, 'IncompleteBody');
  });

  test('too many bytes for x-amz-decoded-content-length fail at the chunk header, before the data is passed on', async () => {
    const decoder = createAwsChunkedDecoder({ decodedContentLength: 10 });
    let received = 0;
    decoder.on('data', (c: Buffer) => (received += c.length));
    const failed = new Promise<S3Error>((resolve) => decoder.on('error', resolve));
    decoder.write(Buffer.from('100000\r\n'));
    const err = await failed;
    assert.equal(err.code, 'IncompleteBody');
    assert.equal(err.details.NumberBytesProvided, String(0x100000));
    assert.equal(received, 0);
  });
});
