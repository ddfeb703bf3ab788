// Fuzz target: the aws-chunked decoder (src/s3/auth/chunked.ts), unsigned
// and with chunk signatures, fed in arbitrary pieces.
// Invariants: it ends with the data or fails with one of its S3 errors,
// never anything else; never emits more bytes than it was given, nor other
// than x-amz-decoded-content-length when that is set; never hangs; and a
// well-formed body always decodes to exactly its data and trailers.
import fc from 'fast-check';
import { createAwsChunkedDecoder, type AwsChunkedDecoderOptions } from '../src/s3/auth/chunked.ts';
import { chunkedBody, serialize, signingKeyOf, type ChunkSigning } from '../test/support/aws-chunked.ts';
import { corpus, expectS3Error, fuzzInput, preview, runFuzz } from './harness.ts';

const DECODER_ERRORS = ['IncompleteBody', 'InvalidChunkSizeError', 'MalformedTrailerError', 'SignatureDoesNotMatch'] as const;
const DICTIONARY = ['\r\n', '0\r\n\r\n', ';chunk-signature=', 'x-amz-checksum-crc32:', 'x-amz-trailer-signature:', '2000', 'ffffffff', ';', '\n', ':'];

const SIGNING: ChunkSigning = {
  signingKey: signingKeyOf('fuzz-secret', '20250101'),
  amzDate: '20250101T000000Z',
  scope: '20250101/us-east-1/s3/aws4_request',
  seedSignature: 'c0ffee'.padEnd(64, '0'),
};
const decoderSigning = { ...SIGNING };

/** Decodes `pieces`; resolves with what came out, or rejects with the decoder's error. */
function decode(pieces: Buffer[], opts: AwsChunkedDecoderOptions): Promise<{ data: Buffer; trailers: Record<string, string> }> {
  const decoder = createAwsChunkedDecoder(opts);
  const out: Buffer[] = [];
  decoder.on('data', (c: Buffer) => out.push(c));
  const done = new Promise<{ data: Buffer; trailers: Record<string, string> }>((resolve, reject) => {
    decoder.on('end', () => resolve({ data: Buffer.concat(out), trailers: { ...decoder.trailers } }));
    decoder.on('error', reject);
  });
  for (const p of pieces) {
    if (decoder.destroyed) break;
    decoder.write(p);
  }
  decoder.end();
  return done;
}

/** `body` cut at the given offsets. */
function pieces(body: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => (body.length ? c % body.length : 0)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let last = 0;
  for (const c of at) {
    out.push(body.subarray(last, c));
    last = c;
  }
  out.push(body.subarray(last));
  return out.filter((p) => p.length > 0);
}

const data = (n: number, fill: number) => Buffer.alloc(n, fill);
const signedSeeds = [
  serialize(chunkedBody([data(8192, 0x61), data(10, 0x62)], { signing: SIGNING })),
  serialize(chunkedBody([data(8192, 0x61), data(10, 0x62)], { signing: SIGNING, trailers: [['x-amz-checksum-crc32', 'AAAAAA==']] })),
  serialize(chunkedBody([data(5, 0x63)], { signing: SIGNING })),
  serialize(chunkedBody([], { signing: SIGNING })),
];
const unsignedSeeds = corpus('chunked');

/** Checks one decode of hostile input against the invariants. */
async function hostile(body: Buffer, cuts: number[], opts: AwsChunkedDecoderOptions): Promise<void> {
  try {
    const { data: out } = await decode(pieces(body, cuts), opts);
    if (out.length > body.length) throw new Error(`decoded ${out.length} bytes from ${body.length}: ${preview(body)}`);
    if (opts.decodedContentLength !== undefined && out.length !== opts.decodedContentLength) {
      throw new Error(`decoded ${out.length} bytes, x-amz-decoded-content-length ${opts.decodedContentLength}: ${preview(body)}`);
    }
  } catch (err) {
    expectS3Error(err, DECODER_ERRORS, body);
  }
}

const cuts = fc.array(fc.nat(), { maxLength: 8 });
const trailerNames = fc.constantFrom<string[]>([], ['x-amz-checksum-crc32'], ['x-amz-checksum-crc32', 'x-amz-checksum-sha256']);

await runFuzz('chunked', [
  {
    name: 'hostile unsigned bodies',
    weight: 2,
    property: fc.asyncProperty(
      fuzzInput(unsignedSeeds, DICTIONARY),
      cuts,
      trailerNames,
      fc.option(fc.nat(20_000), { nil: undefined }),
      (body, c, trailer, decodedContentLength) => hostile(body, c, { trailer, decodedContentLength }),
    ),
  },
  {
    name: 'hostile signed bodies',
    weight: 2,
    property: fc.asyncProperty(fuzzInput(signedSeeds, DICTIONARY), cuts, trailerNames, (body, c, trailer) =>
      hostile(body, c, { signing: decoderSigning, trailer }),
    ),
  },
  {
    name: 'well-formed bodies decode to their data',
    property: fc.asyncProperty(
      fc.array(fc.integer({ min: 8192, max: 12_000 }), { maxLength: 3 }),
      fc.integer({ min: 0, max: 9000 }),
      fc.boolean(),
      fc.option(fc.stringMatching(/^[A-Za-z0-9+/]{0,40}={0,2}$/), { nil: undefined }),
      cuts,
      async (sizes, lastSize, signed, checksum, c) => {
        const chunks = [...sizes, lastSize].map((n, i) => data(n, 0x41 + i));
        const trailers: Array<[string, string]> = checksum === undefined ? [] : [['x-amz-checksum-crc32', checksum]];
        const body = serialize(chunkedBody(chunks, { signing: signed ? SIGNING : undefined, trailers }));
        const expected = Buffer.concat(chunks);
        const { data: out, trailers: got } = await decode(pieces(body, c), {
          signing: signed ? decoderSigning : undefined,
          trailer: trailers.map(([n]) => n),
          decodedContentLength: expected.length,
        });
        if (!out.equals(expected)) throw new Error(`decoded ${out.length} bytes, expected ${expected.length}`);
        if (checksum !== undefined && got['x-amz-checksum-crc32'] !== checksum.trim()) throw new Error(`trailer ${got['x-amz-checksum-crc32']} != ${checksum}`);
      },
    ),
  },
]);
