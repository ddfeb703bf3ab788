// Request bodies: small XML documents, and object payloads in every framing
// S3 clients send (plain, signed hash, UNSIGNED-PAYLOAD, aws-chunked with
// signed chunks or unsigned trailers), with the integrity checks each implies.
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type { StagedBlob } from '../blobs/store.ts';
import { checksumOf, parseContentMd5, parseRequestedChecksum, type ChecksumAlgorithm } from '../core/checksums.ts';
import { checkContent, checksumsToCompute, type ExpectedContent } from '../core/integrity.ts';
import { chunkSigningOf, classifyPayload, type VerifiedSignature } from '../principals/sigv4.ts';
import { createAwsChunkedDecoder, type AwsChunkedDecoder } from './auth/chunked.ts';
import type { S3Context } from './context.ts';
import { S3Error } from './errors.ts';
import { MAX_REQUEST_XML, parseXml, xmlText } from './xml.ts';

/**
 * A request document (CreateBucketConfiguration, AccessControlPolicy,
 * CORSConfiguration, CompleteMultipartUpload, ...), read through
 * readVerifiedBody — Content-MD5, checksums and a signed payload hash hold
 * for it as for an object — then parsed.
 */
export async function readXmlBody(
  ctx: Pick<S3Context, 'req' | 'res' | 'signature'>,
  opts: { optional: boolean; requireDigest?: boolean; beforeBody?: () => Promise<unknown>; checksumHeadersForBody?: boolean },
): Promise<Record<string, unknown> | undefined> {
  const body = await readVerifiedBody(ctx, { maxBytes: MAX_REQUEST_XML, ...opts });
  const text = xmlText(body).trim();
  if (text === '') {
    if (opts.optional) return undefined;
    throw new S3Error('MalformedXML');
  }
  return parseXml(text);
}

function headerNumber(req: IncomingMessage, name: string): number | undefined {
  const raw = req.headers[name];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !/^\d+$/.test(raw)) throw new S3Error('InvalidArgument', `Invalid ${name} header.`);
  return Number(raw);
}

export interface ObjectPayload {
  body: Readable;
  expectedSize?: number;
  /** What the client promised the bytes are, for core to check (core/integrity.ts). */
  expected: ExpectedContent;
  /** The x-amz-checksum-* algorithm asked for, whose value the response echoes. */
  checksumAlgorithm?: ChecksumAlgorithm;
  /** Content-Encoding to store: aws-chunked is transport framing, not the object's encoding. */
  contentEncoding?: string;
}

/**
 * What a request without a SigV4 signature (anonymous, a Bearer token) says
 * its body is. Its x-amz-content-sha256 is not signed, but it still describes
 * the framing: ignoring it stored an aws-chunked body with its chunk framing
 * as the object's bytes. A hex hash is checked like a signed one; signed
 * chunks cannot be verified without a signature.
 */
function unsignedRequestPayload(req: IncomingMessage): string {
  const claimed = req.headers['x-amz-content-sha256'];
  if (typeof claimed !== 'string') return 'UNSIGNED-PAYLOAD';
  if (claimed.startsWith('STREAMING-AWS4-HMAC-SHA256-PAYLOAD')) {
    throw new S3Error('InvalidRequest', `x-amz-content-sha256 ${claimed} needs a request signed with AWS Signature Version 4.`);
  }
  return claimed;
}

/**
 * The Content-Encoding an object keeps: the header as sent, byte for byte,
 * less its `aws-chunked` token (transport framing, not the object's
 * encoding: `aws-chunked, gzip` is stored as `gzip`, `deflate, gzip` stays
 * `deflate, gzip`). Undefined when nothing else is left.
 */
export function storedContentEncoding(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const tokens = header.split(',');
  const kept = tokens.filter((t) => t.trim().toLowerCase() !== 'aws-chunked');
  const value = kept.length === tokens.length ? header : kept.join(',').trim();
  return value === '' ? undefined : value;
}

export function objectPayload(
  req: IncomingMessage,
  signature: VerifiedSignature | null,
  /** false when x-amz-checksum-* headers describe something else than this body (CompleteMultipartUpload). */
  checksumHeadersForBody = true,
): ObjectPayload {
  const payload = classifyPayload(signature?.payloadHash ?? unsignedRequestPayload(req));
  const requested = checksumHeadersForBody ? parseRequestedChecksum(req.headers) : undefined;
  const contentMd5 = req.headers['content-md5'] === undefined ? undefined : String(req.headers['content-md5']);
  // A malformed Content-MD5 is refused before the body is accepted.
  if (contentMd5 !== undefined) parseContentMd5(contentMd5);

  let body: Readable = req;
  let expectedSize: number | undefined;
  let decoder: AwsChunkedDecoder | undefined;
  if (payload.kind === 'streaming-signed' || payload.kind === 'streaming-unsigned-trailer') {
    expectedSize = headerNumber(req, 'x-amz-decoded-content-length');
    if (expectedSize === undefined) throw new S3Error('MissingContentLength', 'x-amz-decoded-content-length is required with aws-chunked bodies.');
    const trailer = String(req.headers['x-amz-trailer'] ?? '')
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean);
    decoder = createAwsChunkedDecoder({
      signing: payload.kind === 'streaming-signed' && signature ? chunkSigningOf(signature) : undefined,
      trailer,
      decodedContentLength: expectedSize,
    });
    // Not pipeline(): a decoding error must not destroy the request (and its
    // socket) before the handler has answered it. ingest() consumes the decoder.
    // The client may go away before anyone reads the decoder (while the
    // request is still being checked): its error then waits in
    // decoder.errored for the reader. An 'error' event nobody listens to
    // would end the whole process.
    decoder.on('error', () => {});
    req.on('error', (err) => decoder!.destroy(err));
    // Closed without an error before its end was read (the connection was
    // dropped right after the last byte): no more bytes will come.
    const closedEarly = () => Object.assign(new Error('request closed before its body was read'), { code: 'ECONNRESET' });
    req.on('close', () => {
      if (!req.readableEnded) decoder!.destroy(closedEarly());
    });
    // The request flows into the decoder only once ingest() reads: before
    // that, a framing error would have nobody to report to.
    const chunked = decoder;
    const read = chunked._read.bind(chunked);
    let piped = false;
    chunked._read = (size: number) => {
      if (!piped) {
        piped = true;
        // Gone before this handler listened (during authentication): piping
        // a destroyed request would wait forever.
        if (req.destroyed && !req.readableEnded) {
          chunked.destroy(req.errored ?? closedEarly());
          return;
        }
        req.pipe(chunked);
      }
      read(size);
    };
    body = decoder;
  } else {
    if (requested?.fromTrailer) {
      throw new S3Error('MalformedTrailerError', 'x-amz-trailer is only valid with an aws-chunked (STREAMING-*-TRAILER) body.');
    }
    expectedSize = headerNumber(req, 'content-length');
    if (expectedSize === undefined) throw new S3Error('MissingContentLength');
  }

  const algorithm = requested?.algorithm;
  return {
    body,
    expectedSize,
    expected: {
      contentMd5,
      sha256: payload.kind === 'sha256' ? payload.hex : undefined,
      checksum: algorithm && {
        algorithm,
        value: requested.fromTrailer ? undefined : requested.expected,
        // A trailer announced on a body without one is refused above.
        trailers: requested.fromTrailer ? decoder?.trailers : undefined,
      },
    },
    checksumAlgorithm: algorithm,
    contentEncoding: storedContentEncoding(req.headers['content-encoding']),
  };
}

/**
 * A small request document (DeleteObjects, PutObjectTagging, ...) read whole
 * and put through every check an object payload gets: Content-MD5,
 * x-amz-checksum-* in a header or trailer, a signed x-amz-content-sha256,
 * aws-chunked framing. With requireDigest, S3 insists on Content-MD5 or a
 * checksum before it reads anything.
 */
export async function readVerifiedBody(
  ctx: Pick<S3Context, 'req' | 'res' | 'signature'>,
  opts: { maxBytes: number; requireDigest?: boolean; beforeBody?: () => Promise<unknown>; checksumHeadersForBody?: boolean },
): Promise<Buffer> {
  const { headers } = ctx.req;
  if (headers['content-length'] === undefined && headers['transfer-encoding'] === undefined) {
    // Neither header: the request has no body at all (RFC 9112 §6.3).
    if (opts.requireDigest) {
      throw new S3Error('InvalidRequest', 'Missing required header for this request: Content-MD5 OR x-amz-checksum-*');
    }
    await opts.beforeBody?.();
    return Buffer.alloc(0);
  }
  const payload = objectPayload(ctx.req, ctx.signature, opts.checksumHeadersForBody ?? true);
  if (opts.requireDigest && ctx.req.headers['content-md5'] === undefined && !payload.checksumAlgorithm) {
    throw new S3Error('InvalidRequest', 'Missing required header for this request: Content-MD5 OR x-amz-checksum-*');
  }
  if ((payload.expectedSize ?? 0) > opts.maxBytes) throw new S3Error('MaxMessageLengthExceeded');
  await opts.beforeBody?.();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of payload.body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > opts.maxBytes) throw new S3Error('MaxMessageLengthExceeded');
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks);
  if (payload.expectedSize !== undefined && body.length !== payload.expectedSize) throw new S3Error('IncompleteBody');
  const checksums: StagedBlob['checksums'] = {};
  for (const algorithm of checksumsToCompute(payload.expected)) checksums[algorithm] = await checksumOf(algorithm, body);
  checkContent(payload.expected, {
    sha256: createHash('sha256').update(body).digest('hex'),
    md5: createHash('md5').update(body).digest(),
    checksums,
  });
  return body;
}
