// A SigV4-signing HTTP client for tests, benchmarks and tools: requests are
// signed by @smithy/signature-v4 (the signer inside the AWS SDKs), sent with
// node:http so that bodies can be streamed, cut off or malformed on purpose.
import { createHash, createHmac, type BinaryLike } from 'node:crypto';
import http from 'node:http';
import type { Readable } from 'node:stream';
import { SignatureV4 } from '@smithy/signature-v4';

function bytes(data: string | ArrayBuffer | ArrayBufferView): string | Uint8Array {
  if (typeof data === 'string') return data;
  return ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
}

/** The Hash shape @smithy/signature-v4 asks for, on node:crypto. */
class NodeSha256 {
  private hash;
  private readonly secret?: BinaryLike;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.secret = secret === undefined ? undefined : bytes(secret);
    this.hash = this.fresh();
  }
  private fresh() {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', this.secret);
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface RawRequest {
  method: string;
  /** Path exactly as it goes on the wire (percent-encoded), without the query. */
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  /** Buffer bodies are hashed into the signature; streams are sent UNSIGNED-PAYLOAD. */
  body?: Buffer | string | Readable;
  /** Presign (query auth) instead of the Authorization header. */
  presignExpiresIn?: number;
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** RFC 3986 encoding of one path segment, as the AWS SDKs do it. */
export function encodeKey(key: string): string {
  return key
    .split('/')
    .map((part) => encodeURIComponent(part).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase()))
    .join('/');
}

export class S3RawClient {
  private readonly signer: SignatureV4;
  readonly base: URL;

  constructor(endpoint: string, credentials: Credentials, region = 'us-east-1') {
    this.base = new URL(endpoint);
    this.signer = new SignatureV4({ credentials, region, service: 's3', sha256: NodeSha256, uriEscapePath: false });
  }

  /** Signs a request and returns what would go on the wire. */
  async sign(req: RawRequest): Promise<{ path: string; headers: Record<string, string> }> {
    const isStream = req.body !== undefined && typeof req.body !== 'string' && !Buffer.isBuffer(req.body);
    const headers: Record<string, string> = { host: this.base.host, ...req.headers };
    if (req.presignExpiresIn) {
      // Presigned URLs are signed over UNSIGNED-PAYLOAD (as S3's presigner does);
      // the header only feeds the signer and never goes on the wire.
      headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
    } else if (!isStream) {
      headers['x-amz-content-sha256'] ??= createHash('sha256')
        .update((req.body as Buffer | string | undefined) ?? '')
        .digest('hex');
    } else {
      headers['x-amz-content-sha256'] ??= 'UNSIGNED-PAYLOAD';
    }
    const request = {
      method: req.method,
      protocol: this.base.protocol,
      hostname: this.base.hostname,
      port: Number(this.base.port),
      path: req.path,
      query: req.query ?? {},
      headers,
    };
    const signed = req.presignExpiresIn
      ? await this.signer.presign(request, {
          expiresIn: req.presignExpiresIn,
          unhoistableHeaders: new Set(['x-amz-content-sha256']),
          unsignableHeaders: new Set(['x-amz-content-sha256']),
        })
      : await this.signer.sign(request);
    const q = signed.query as Record<string, string>;
    const queryString = Object.keys(q)
      .map((k) => `${encodeURIComponent(k)}=${encodeURIComponent(q[k])}`)
      .join('&');
    return { path: req.path + (queryString ? `?${queryString}` : ''), headers: signed.headers as Record<string, string> };
  }

  async send(req: RawRequest): Promise<RawResponse> {
    const { path, headers } = await this.sign(req);
    return sendRaw(this.base, req.method, path, headers, req.body);
  }
}

export function sendRaw(
  base: URL,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: Buffer | string | Readable,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const r = http.request({ host: base.hostname, port: base.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    r.on('error', reject);
    if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) r.end(body);
    else body.pipe(r);
  });
}
