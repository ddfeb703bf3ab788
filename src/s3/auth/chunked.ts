// Decoder for `Content-Encoding: aws-chunked` request bodies, as a streaming
// Transform. References, by AWS doc page name:
//  - "Signature Calculations for the Authorization Header: Transferring Payload
//    in Multiple Chunks (Chunked Upload) (AWS Signature Version 4)"
//  - "Signature calculations for trailing headers (chunked uploads)"
// Where the pages are silent, the behaviour follows what Amazon S3 answers
// (as recorded by suites run against it: OpenStack Swift's s3api
// test_input_errors.py, versitygw's integration tests).
//
// Framing:
//   <hex-size>[;chunk-signature=<sig>]\r\n<data>\r\n      (repeated)
//   0[;chunk-signature=<sig>]\r\n                          (final chunk)
//   [<name>:<value>\r\n ...] [x-amz-trailer-signature:<sig>\r\n]
//   \r\n
//
// Memory stays bounded: only one header or trailer line is buffered (capped);
// chunk data passes straight through and is hashed incrementally. Data is
// pushed downstream before its chunk signature can be checked, so a consumer
// must treat what it wrote as provisional until the stream ends without error.
import { createHash, createHmac, timingSafeEqual, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { S3Error } from '../errors.ts';

export interface ChunkSigningContext {
  signingKey: Buffer;
  amzDate: string;
  scope: string;
  seedSignature: string;
}

export interface AwsChunkedDecoderOptions {
  /** Present for STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]: every chunk signature (and the trailer signature) is verified. */
  signing?: ChunkSigningContext;
  /** Lower-cased names from x-amz-trailer that must appear in the trailer. */
  trailer?: string[];
  /** x-amz-decoded-content-length: the decoded total must equal it. */
  decodedContentLength?: number;
}

export interface AwsChunkedDecoder extends Transform {
  /** Trailing headers received (lower-cased names), complete after 'end'. */
  readonly trailers: Record<string, string>;
}

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const MAX_LINE = 4096;
const MAX_TRAILER_SECTION = 16 * 1024;
// S3: "The chunk size must be at least 8 KB ... except the last one"; it
// enforces this for signed chunks and for STREAMING-UNSIGNED-PAYLOAD-TRAILER
// alike (InvalidChunkSizeError, see aws-sdk-js-v3#6859).
const MIN_CHUNK = 8192;
const MAX_CHUNK = 5 * 1024 ** 3; // no single PUT may exceed 5 GiB

const CR = 0x0d;
const LF = 0x0a;

function incompleteBody(): S3Error {
  return new S3Error('IncompleteBody', 'The request body terminated unexpectedly');
}

function lengthMismatch(expected: number, provided: number): S3Error {
  return new S3Error('IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header', {
    NumberBytesExpected: String(expected),
    NumberBytesProvided: String(provided),
  });
}

function hmacHex(key: Buffer, data: string): string {
  return createHmac('sha256', key).update(data, 'utf8').digest('hex');
}

function sameSignature(expected: string, provided: string): boolean {
  const a = Buffer.from(expected, 'latin1');
  const b = Buffer.from(provided, 'latin1');
  return a.length === b.length && timingSafeEqual(a, b);
}

type State = 'chunk-header' | 'data' | 'data-cr' | 'data-lf' | 'trailer' | 'done';

class Decoder extends Transform implements AwsChunkedDecoder {
  readonly trailers: Record<string, string> = {};
  readonly #signing?: ChunkSigningContext;
  readonly #declared: Set<string>;
  readonly #expectedLength?: number;

  #state: State = 'chunk-header';
  #line = ''; // partial header/trailer line, latin1
  #remaining = 0; // data bytes left in the current chunk
  #chunkNumber = 0;
  #previousSize = -1;
  #decoded = 0;
  #hash?: Hash;
  #chunkSignature = '';
  #previousSignature = '';
  #trailerLines: string[] = []; // canonical `name:value\n` lines, in order received
  #trailerBytes = 0;
  #trailerSignature?: string;

  constructor(opts: AwsChunkedDecoderOptions) {
    super();
    this.#signing = opts.signing;
    this.#previousSignature = opts.signing?.seedSignature ?? '';
    this.#declared = new Set((opts.trailer ?? []).map((t) => t.toLowerCase()));
    this.#expectedLength = opts.decodedContentLength;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#consume(chunk);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.#finish();
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  #consume(buf: Buffer): void {
    let i = 0;
    while (i < buf.length) {
      switch (this.#state) {
        case 'chunk-header':
        case 'trailer':
          i = this.#readLine(buf, i);
          break;
        case 'data': {
          const n = Math.min(this.#remaining, buf.length - i);
          const piece = buf.subarray(i, i + n);
          this.#hash?.update(piece);
          this.push(piece);
          i += n;
          this.#remaining -= n;
          if (this.#remaining === 0) {
            this.#verifyChunk();
            this.#state = 'data-cr';
          }
          break;
        }
        case 'data-cr':
          if (buf[i++] !== CR) throw incompleteBody();
          this.#state = 'data-lf';
          break;
        case 'data-lf':
          if (buf[i++] !== LF) throw incompleteBody();
          this.#state = 'chunk-header';
          break;
        case 'done':
          // S3 ignores whatever follows the blank line that closes the trailer.
          return;
      }
    }
  }

  /**
   * Lines end at CRLF. A bare LF is part of the line (and trimmed away from
   * trailer values): minio-go writes `name:value\n\r\n`, which S3 accepts,
   * while a trailer line ending in a bare LF with nothing after it is an
   * IncompleteBody on S3.
   */
  #readLine(buf: Buffer, start: number): number {
    const nl = buf.indexOf(LF, start);
    const end = nl === -1 ? buf.length : nl;
    if (this.#line.length + (end - start) > MAX_LINE) throw this.#state === 'trailer' ? new S3Error('MalformedTrailerError') : incompleteBody();
    this.#line += buf.toString('latin1', start, end);
    if (nl === -1) return buf.length;
    if (this.#line.endsWith('\r')) {
      const line = this.#line.slice(0, -1);
      this.#line = '';
      if (this.#state === 'chunk-header') this.#onChunkHeader(line);
      else this.#onTrailerLine(line);
    } else {
      this.#line += '\n';
    }
    return nl + 1;
  }

  #onChunkHeader(line: string): void {
    const semi = line.indexOf(';');
    const sizeText = (semi === -1 ? line : line.slice(0, semi)).trim();
    if (!/^[0-9a-fA-F]{1,16}$/.test(sizeText)) throw incompleteBody();
    const size = parseInt(sizeText, 16);
    if (size > MAX_CHUNK) throw incompleteBody();
    this.#chunkNumber++;
    // S3 reports the number of the chunk it was reading when it noticed, and
    // the size of the short chunk before it.
    if (size > 0 && this.#previousSize >= 0 && this.#previousSize < MIN_CHUNK) {
      throw new S3Error('InvalidChunkSizeError', undefined, {
        Chunk: String(this.#chunkNumber),
        BadChunkSize: String(this.#previousSize),
      });
    }
    this.#previousSize = size;
    if (this.#signing) this.#chunkSignature = chunkSignatureOf(semi === -1 ? undefined : line.slice(semi + 1));
    const expected = this.#expectedLength;
    if (expected !== undefined && (this.#decoded + size > expected || (size === 0 && this.#decoded !== expected))) {
      throw lengthMismatch(expected, this.#decoded + size);
    }
    this.#decoded += size;
    if (size === 0) {
      this.#verifyChunk();
      this.#state = 'trailer';
    } else {
      if (this.#signing) this.#hash = createHash('sha256');
      this.#remaining = size;
      this.#state = 'data';
    }
  }

  /** Chunk string to sign: AWS4-HMAC-SHA256-PAYLOAD, date, scope, previous signature, hash(""), hash(chunk data). */
  #verifyChunk(): void {
    const signing = this.#signing;
    if (!signing) return;
    const dataHash = this.#hash ? this.#hash.digest('hex') : EMPTY_SHA256;
    this.#hash = undefined;
    const toSign = ['AWS4-HMAC-SHA256-PAYLOAD', signing.amzDate, signing.scope, this.#previousSignature, EMPTY_SHA256, dataHash].join('\n');
    this.#previousSignature = this.#checkSignature(toSign, this.#chunkSignature);
  }

  #checkSignature(toSign: string, provided: string): string {
    const expected = hmacHex((this.#signing as ChunkSigningContext).signingKey, toSign);
    if (!sameSignature(expected, provided)) {
      throw new S3Error('SignatureDoesNotMatch', undefined, { StringToSign: toSign, SignatureProvided: provided });
    }
    return expected;
  }

  #onTrailerLine(line: string): void {
    if (line === '') {
      this.#state = 'done';
      return;
    }
    this.#trailerBytes += line.length + 2;
    if (this.#trailerBytes > MAX_TRAILER_SECTION) throw new S3Error('MalformedTrailerError');
    const colon = line.indexOf(':');
    if (colon <= 0) throw new S3Error('MalformedTrailerError');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (this.#trailerSignature !== undefined) throw new S3Error('MalformedTrailerError'); // nothing may follow the signature
    if (name === 'x-amz-trailer-signature') {
      if (!this.#signing) throw new S3Error('MalformedTrailerError');
      this.#trailerSignature = value;
      return;
    }
    // An undeclared trailer is refused, as S3 does; a repeated one replaces
    // the earlier value (S3: the last one counts).
    if (!this.#declared.has(name)) throw new S3Error('MalformedTrailerError');
    this.trailers[name] = value;
    this.#trailerLines.push(`${name}:${value}\n`);
  }

  #finish(): void {
    if (this.#state === 'trailer') {
      // The body may end right after the last trailer line (or right after
      // the final chunk when there is no trailer): S3 accepts both, and some
      // SDKs (e.g. AWS SDK for .NET, minio#17774) leave the closing CRLF out.
      // A partial line without its CRLF is still an incomplete body.
      if (this.#line !== '') throw incompleteBody();
    } else if (this.#state !== 'done') {
      throw incompleteBody();
    }
    for (const name of this.#declared) {
      if (!(name in this.trailers)) throw new S3Error('MalformedTrailerError', undefined, { TrailerHeader: name });
    }
    if (this.#signing && (this.#trailerLines.length > 0 || this.#trailerSignature !== undefined)) {
      if (this.#trailerSignature === undefined || this.#trailerLines.length === 0) throw incompleteBody();
      // Trailer string to sign: AWS4-HMAC-SHA256-TRAILER, date, scope, final
      // chunk signature, hash of the trailing headers in canonical form
      // (`name:value\n` each, as received).
      const signing = this.#signing;
      const trailerHash = createHash('sha256').update(this.#trailerLines.join(''), 'latin1').digest('hex');
      const toSign = ['AWS4-HMAC-SHA256-TRAILER', signing.amzDate, signing.scope, this.#previousSignature, trailerHash].join('\n');
      this.#checkSignature(toSign, this.#trailerSignature);
    }
  }
}

/**
 * The chunk-signature extension, read as S3 reads it: spaces around ';' and
 * '=' are fine; a missing or empty signature, or a second extension after it,
 * is an IncompleteBody; another extension in its place is a signature
 * mismatch.
 */
function chunkSignatureOf(extensions: string | undefined): string {
  if (extensions === undefined) throw incompleteBody();
  const [first, ...rest] = extensions.split(';');
  const eq = first.indexOf('=');
  const name = (eq === -1 ? first : first.slice(0, eq)).trim();
  const value = eq === -1 ? '' : first.slice(eq + 1).trim();
  if (name !== 'chunk-signature') {
    throw new S3Error('SignatureDoesNotMatch', undefined, { SignatureProvided: value });
  }
  if (value === '' || rest.length > 0) throw incompleteBody();
  return value;
}

export function createAwsChunkedDecoder(opts: AwsChunkedDecoderOptions = {}): AwsChunkedDecoder {
  return new Decoder(opts);
}
