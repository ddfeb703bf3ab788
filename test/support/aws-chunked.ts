// aws-chunked request bodies as the AWS SDKs frame them, written
// independently of the server's decoder, so tests and fuzz targets can build
// a valid body and then break exactly one thing in it. References: the AWS
// pages "Transferring Payload in Multiple Chunks (Chunked Upload)" and
// "Signature calculations for trailing headers".
import { createHash, createHmac } from 'node:crypto';

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const sha256Hex = (d: Buffer | string) => createHash('sha256').update(d).digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();

/** kSigning for a secret, a yyyymmdd date and a region (service s3). */
export function signingKeyOf(secretAccessKey: string, date: string, region = 'us-east-1'): Buffer {
  return hmac(hmac(hmac(hmac('AWS4' + secretAccessKey, date), region), 's3'), 'aws4_request');
}

export interface ChunkSigning {
  signingKey: Buffer;
  /** x-amz-date of the request. */
  amzDate: string;
  /** `<yyyymmdd>/<region>/s3/aws4_request` */
  scope: string;
  /** The request's own signature (from its Authorization header). */
  seedSignature: string;
}

/** The signing context of a request signed with x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]. */
export function chunkSigningOf(headers: Record<string, string>, secretAccessKey: string, region = 'us-east-1'): ChunkSigning {
  const amzDate = headers['x-amz-date'];
  const auth = headers['authorization'] ?? headers['Authorization'];
  const seedSignature = /Signature=([0-9a-f]{64})/.exec(auth)?.[1];
  if (!amzDate || !seedSignature) throw new Error('not a SigV4 header-signed request');
  const date = amzDate.slice(0, 8);
  return { signingKey: signingKeyOf(secretAccessKey, date, region), amzDate, scope: `${date}/${region}/s3/aws4_request`, seedSignature };
}

export function chunkSignature(s: ChunkSigning, previous: string, data: Buffer): string {
  const toSign = ['AWS4-HMAC-SHA256-PAYLOAD', s.amzDate, s.scope, previous, EMPTY_SHA256, sha256Hex(data)].join('\n');
  return createHmac('sha256', s.signingKey).update(toSign, 'utf8').digest('hex');
}

export function trailerSignature(s: ChunkSigning, previous: string, trailers: Array<[string, string]>): string {
  const canonical = trailers.map(([n, v]) => `${n}:${v}\n`).join('');
  const toSign = ['AWS4-HMAC-SHA256-TRAILER', s.amzDate, s.scope, previous, sha256Hex(Buffer.from(canonical, 'latin1'))].join('\n');
  return createHmac('sha256', s.signingKey).update(toSign, 'utf8').digest('hex');
}

/** One frame of an aws-chunked body, so that a test can change any part of it. */
export interface Frame {
  /** The size line's size field (hex). */
  size: string;
  /** `;chunk-signature=<sig>` or '' (unsigned). */
  extension: string;
  data: Buffer;
  /** What ends the data: normally CRLF. */
  terminator: string;
}

export interface ChunkedBody {
  frames: Frame[];
  /** `name:value` lines after the final frame, CRLF each, before the blank line. */
  trailerLines: string[];
  /** The blank line closing the body (normally CRLF). */
  closing: string;
}

/**
 * A well-formed aws-chunked body: `chunks` (the data, already split), a final
 * zero-size frame, then `trailers`. With `signing`, every frame carries its
 * chunk signature and trailers are followed by x-amz-trailer-signature.
 */
export function chunkedBody(chunks: Buffer[], opts: { signing?: ChunkSigning; trailers?: Array<[string, string]> } = {}): ChunkedBody {
  const frames: Frame[] = [];
  let previous = opts.signing?.seedSignature ?? '';
  for (const data of [...chunks.filter((c) => c.length > 0), Buffer.alloc(0)]) {
    let extension = '';
    if (opts.signing) {
      previous = chunkSignature(opts.signing, previous, data);
      extension = `;chunk-signature=${previous}`;
    }
    frames.push({ size: data.length.toString(16), extension, data, terminator: data.length ? '\r\n' : '' });
  }
  const trailers = opts.trailers ?? [];
  const trailerLines = trailers.map(([n, v]) => `${n}:${v}`);
  if (opts.signing && trailers.length) trailerLines.push(`x-amz-trailer-signature:${trailerSignature(opts.signing, previous, trailers)}`);
  return { frames, trailerLines, closing: '\r\n' };
}

/** The body's bytes. */
export function serialize(body: ChunkedBody): Buffer {
  const out: Buffer[] = [];
  for (const f of body.frames) out.push(Buffer.from(`${f.size}${f.extension}\r\n`, 'latin1'), f.data, Buffer.from(f.terminator, 'latin1'));
  for (const line of body.trailerLines) out.push(Buffer.from(`${line}\r\n`, 'latin1'));
  out.push(Buffer.from(body.closing, 'latin1'));
  return Buffer.concat(out);
}

/** `data` cut into `size`-byte chunks (the last one shorter). */
export function split(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return out;
}
