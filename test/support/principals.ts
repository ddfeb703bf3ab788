// Credentials for each kind of principal aerostore accepts, minted the way a
// real client would get them: HS256 bearer tokens (Supabase-style claims),
// STS temporary credentials (AssumeRoleWithWebIdentity), and presigned URLs
// with a chosen clock and headers kept out of the query string.
import { createHash, createHmac, type BinaryLike } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { SignJWT } from 'jose';
import { xmlValue } from './s3-xml.ts';
import type { Credentials, S3RawClient } from './signer.ts';

/** An HS256 JWT for `sub` with Supabase's `authenticated` role, valid for an hour. */
export function userJwt(secret: string, sub: string): Promise<string> {
  return new SignJWT({ sub, role: 'authenticated' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(secret));
}

export interface TemporaryCredentials extends Credentials {
  sessionToken: string;
}

/** The raw STS AssumeRoleWithWebIdentity call at the service root (unsigned: the token is the credential). */
export async function requestWebIdentityRole(endpoint: string, token: string, durationSeconds = 900): Promise<{ status: number; body: string }> {
  const res = await fetch(new URL('/', endpoint), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      Action: 'AssumeRoleWithWebIdentity',
      Version: '2011-06-15',
      WebIdentityToken: token,
      RoleArn: 'arn:aws:iam::000000000000:role/x',
      RoleSessionName: 'test',
      DurationSeconds: String(durationSeconds),
    }).toString(),
  });
  return { status: res.status, body: await res.text() };
}

/** STS AssumeRoleWithWebIdentity, its credentials or a thrown error. */
export async function assumeRoleWithWebIdentity(endpoint: string, token: string, durationSeconds = 900): Promise<TemporaryCredentials> {
  const { status, body: xml } = await requestWebIdentityRole(endpoint, token, durationSeconds);
  const res = { status };
  const accessKeyId = xmlValue(xml, 'AccessKeyId');
  const secretAccessKey = xmlValue(xml, 'SecretAccessKey');
  const sessionToken = xmlValue(xml, 'SessionToken');
  if (res.status !== 200 || !accessKeyId || !secretAccessKey || !sessionToken) {
    throw new Error(`AssumeRoleWithWebIdentity failed: ${res.status} ${xml}`);
  }
  return { accessKeyId, secretAccessKey, sessionToken };
}

/** The Hash shape @smithy/signature-v4 asks for, on node:crypto. */
class Sha256 {
  private hash;
  private readonly secret?: BinaryLike;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.secret = secret === undefined ? undefined : asBytes(secret);
    this.hash = this.fresh();
  }
  private fresh() {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', this.secret);
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(asBytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

function asBytes(data: string | ArrayBuffer | ArrayBufferView): string | Uint8Array {
  if (typeof data === 'string') return data;
  return ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
}

export interface PresignRequest {
  method: string;
  /** Percent-encoded path, without the query. */
  path: string;
  query?: Record<string, string>;
  /**
   * Headers signed into the URL and sent as headers (x-amz-copy-source, say):
   * the SDK presigners hoist x-amz-* headers into the query, which would turn
   * a CopyObject into a PutObject; these stay headers.
   */
  headers?: Record<string, string>;
}

/**
 * A presigned request (query-string SigV4 over UNSIGNED-PAYLOAD, as S3's
 * presigners sign): the path with its query, and the headers to send with
 * it. `signingDate` in the past makes a URL that has already expired.
 */
export async function presign(
  endpoint: string,
  credentials: Credentials,
  req: PresignRequest,
  opts: { expiresIn: number; signingDate?: Date; region?: string },
): Promise<{ path: string; headers: Record<string, string> }> {
  const base = new URL(endpoint);
  const signer = new SignatureV4({ credentials, region: opts.region ?? 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false });
  const headers: Record<string, string> = { host: base.host, ...req.headers };
  const kept = new Set(Object.keys(headers).map((h) => h.toLowerCase()));
  const signed = await signer.presign(
    {
      method: req.method,
      protocol: base.protocol,
      hostname: base.hostname,
      port: Number(base.port),
      path: req.path,
      query: req.query ?? {},
      // Feeds the signer only: the payload is unsigned.
      headers: { ...headers, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    },
    {
      expiresIn: opts.expiresIn,
      signingDate: opts.signingDate,
      unhoistableHeaders: new Set([...kept, 'x-amz-content-sha256']),
      unsignableHeaders: new Set(['x-amz-content-sha256']),
    },
  );
  const q = signed.query as Record<string, string>;
  const queryString = Object.keys(q)
    .map((k) => `${encodeURIComponent(k)}=${encodeURIComponent(q[k])}`)
    .join('&');
  return { path: `${req.path}?${queryString}`, headers };
}

/** An access key as the admin API's 201 answer gives it. */
export interface CreatedKey {
  id: string;
  access_key_id: string;
  secret_access_key: string;
}

export const credentialsOf = (k: CreatedKey): Credentials => ({ accessKeyId: k.access_key_id, secretAccessKey: k.secret_access_key });

/** A new access key for `userId`, made through POST /admin/v1/keys as `root`. */
export async function createAccessKey(
  root: S3RawClient,
  userId: string,
  role: 'authenticated' | 'service' = 'authenticated',
  name = '',
): Promise<CreatedKey> {
  const res = await root.send({
    method: 'POST',
    path: '/admin/v1/keys',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user_id: userId, role, name }),
  });
  if (res.status !== 201) throw new Error(`POST /admin/v1/keys: ${res.status} ${res.body}`);
  return JSON.parse(res.body.toString()) as CreatedKey;
}

/** Changes a bucket's policy and options (PATCH /admin/v1/buckets/{name}) as `root`. */
export async function setBucketSettings(root: S3RawClient, name: string, settings: Record<string, unknown>): Promise<void> {
  const res = await root.send({
    method: 'PATCH',
    path: `/admin/v1/buckets/${name}`,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(settings),
  });
  if (res.status !== 200) throw new Error(`PATCH /admin/v1/buckets/${name}: ${res.status} ${res.body}`);
}
