// Signed URLs: /storage/v1/object/sign (download) and /object/upload/sign
// (upload), as storage-js's createSignedUrl(s), createSignedUploadUrl and
// uploadToSignedUrl use them. The URL's token (principals/url-tokens.ts) is
// the permission, checked against the signer's rights when it is signed:
// read — the object as the signer sees it — for a download, write on the
// bucket for an upload. Redeeming needs no other credential.
//
// A token grants what its signer could reach when signing, and nothing that
// later takes the name (issue 13, finding 2):
//  - a download token names the bucket's id, the object's row id and its
//    content's sha256. Redeemed, the object under that name must still be
//    that row with that content (an overwrite keeps the row id, so the
//    content is checked too); otherwise the answer is the missing object's,
//    404 FILE_NOT_FOUND, which says nothing of what holds the name now. The
//    bytes are then read as the signer (RLS): a URL also stops working when
//    its signer can no longer read the object, and an overwrite racing the
//    check can at most serve what the signer may read anyway.
//  - an upload token names the bucket's id: a bucket re-created under the
//    name refuses it (403 INVALID_SIGNATURE). The upload is written as the
//    signer (RLS sees the real owner and the bucket's current rules), once.
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { requireWrite } from '../core/access.ts';
import { requireBucket } from '../core/buckets.ts';
import { headObject, validateKey } from '../core/objects.ts';
import type { Storage } from '../core/storage.ts';
import { asPrincipal, readAs, SERVICE } from '../db/session.ts';
import type { Principal } from '../principals/principal.ts';
import { DomainError, isDomainError } from '../core/errors.ts';
import { signerOf, type UrlSigner, type UrlTokenClaims, type UrlTokenKind, type VerifiedUrlToken } from '../principals/url-tokens.ts';
import type { ApiEnv } from '../http/env.ts';
import { signedUrlErrors, StorageApiError } from './errors.ts';
import { objectJson, objectTarget, receiveUpload, sendObject, type ObjectTarget } from './objects.ts';
import { jsonObject } from './request.ts';

export interface SignedUrlSettings {
  signer: UrlSigner;
  /** The longest lifetime a URL may be given, in seconds (AEROSTORE_SIGNED_URL_MAX_EXPIRY). */
  maxExpiry: number;
}

/** Lifetimes when the request names none: an hour for a download; two hours for an upload, as Supabase's. */
const DEFAULT_EXPIRY: Record<UrlTokenKind, number> = { download: 3600, upload: 7200 };
/** As many paths as one batch delete takes. */
const MAX_BATCH_PATHS = 1000;
/** Supabase's wording for a path the batch could not sign. */
const NOT_SIGNABLE = 'Either the object does not exist or you do not have access to it';

const ROUTE: Record<UrlTokenKind, string> = { download: 'sign/', upload: 'upload/sign/' };

/**
 * The URL of a token, relative to /storage/v1. `raw` is Supabase's form,
 * the path unencoded: storage-js runs encodeURI over the URL it builds from
 * it, so an encoded path would be encoded twice. The encoded form (each
 * segment percent-encoded) works for any key, `?`, `#` and `%` included.
 */
function urlOf(kind: UrlTokenKind, { bucket, key }: ObjectTarget, token: string, form: 'raw' | 'encoded'): string {
  const path = form === 'raw' ? `${bucket}/${key}` : [bucket, ...key.split('/')].map(encodeURIComponent).join('/');
  return `/object/${ROUTE[kind]}${path}?token=${token}`;
}

/** `expiresIn` in the body, or `?expires_in=`, in seconds: 1 to the configured maximum. */
function lifetimeOf(c: Context<ApiEnv>, body: Record<string, unknown>, kind: UrlTokenKind, max: number): number {
  const given = body.expiresIn ?? c.req.query('expires_in');
  if (given === undefined) return Math.min(DEFAULT_EXPIRY[kind], max);
  const parsed = z.coerce.number().int().positive().safeParse(given);
  if (!parsed.success) throw new StorageApiError(400, 'INVALID_REQUEST', 'expiresIn: a whole number of seconds, at least 1.');
  if (parsed.data > max) throw new StorageApiError(400, 'INVALID_REQUEST', `expiresIn: at most ${max} seconds.`);
  return parsed.data;
}

/** Who signed, written into the token: an upload acts as this principal. */
function signerClaims(p: Principal): Pick<UrlTokenClaims, 'sub' | 'role'> {
  if (p.kind === 'anonymous') return {};
  return { ...(p.userId !== null && { sub: p.userId }), role: p.role };
}

/** The request's token, verified for this kind of access to this object, or the refusal. */
function redeem(c: Context<ApiEnv>, signer: UrlSigner, kind: UrlTokenKind, target: ObjectTarget): VerifiedUrlToken {
  const token = c.req.query('token');
  if (!token) throw new StorageApiError(400, 'INVALID_REQUEST', 'token: the signed URL has no token.');
  const check = signer.verify(token, { kind, ...target });
  if (check.ok) return check.token;
  if (check.reason === 'invalid') throw signedUrlErrors.invalidSignature();
  throw kind === 'upload' ? signedUrlErrors.uploadExpired() : signedUrlErrors.downloadExpired();
}

/**
 * Whether the bucket (and, for a download, the object, by row id and
 * content) that the token was signed for still holds its name: read as the
 * service role, since the answer must not depend on who asks.
 */
async function isStillSigned(storage: Storage, token: VerifiedUrlToken): Promise<boolean> {
  const rows =
    token.kind === 'upload'
      ? await readAs(storage.sql, SERVICE, (tx) => tx`
          select 1 from storage.buckets where id = ${token.bucketId} and name = ${token.bucket}`)
      : await readAs(storage.sql, SERVICE, (tx) => tx`
          select 1 from storage.objects o join storage.buckets b on b.id = o.bucket_id
          where b.id = ${token.bucketId} and b.name = ${token.bucket} and o.key = ${token.key}
            and o.id = ${token.objectId ?? null} and o.sha256 = ${token.sha256 ?? null}`);
  return rows.length === 1;
}

/**
 * Spends an upload token: records its id, unless it is there already (used,
 * or in use). Expired ids are cleared on the way: their tokens are refused
 * before they get here.
 */
async function claimUploadToken(storage: Storage, jti: string, expiresAt: Date): Promise<boolean> {
  const now = new Date();
  const rows = await asPrincipal(storage.sql, SERVICE, (tx) => tx<{ id: string }[]>`
    with expired as (delete from storage.signed_upload_tokens where expires_at < ${now})
    insert into storage.signed_upload_tokens (id, expires_at) values (${jti}, ${expiresAt})
    on conflict (id) do nothing
    returning id`);
  return rows.length === 1;
}

/** An upload that failed stored nothing: its token may be used again. */
async function releaseUploadToken(storage: Storage, jti: string): Promise<void> {
  await asPrincipal(storage.sql, SERVICE, (tx) => tx`delete from storage.signed_upload_tokens where id = ${jti}`);
}

/** Signing: needs the principal, so mounted after authentication, and before objects.ts's catch-all POST. */
export function signingRoutes(storage: Storage, { signer, maxExpiry }: SignedUrlSettings): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();

  // storage-js's createSignedUrls: one answer per path, an error in place of a URL for any it may not read.
  app.post('/sign/:bucket', async (c) => {
    const body = await jsonObject(c);
    const expiresIn = lifetimeOf(c, body, 'download', maxExpiry);
    const paths = z.array(z.string()).min(1).max(MAX_BATCH_PATHS).safeParse(body.paths);
    if (!paths.success) throw new StorageApiError(400, 'INVALID_REQUEST', `paths: 1 to ${MAX_BATCH_PATHS} object paths.`);
    const principal = c.get('principal');
    const bucket = await requireBucket(storage, c.req.param('bucket'));
    const valid = paths.data.filter((p) => {
      try {
        validateKey(p);
        return true;
      } catch {
        return false;
      }
    });
    // One read as the signer: RLS shows it exactly the objects it may read;
    // quarantined content (and, when downloads wait for the scanner, unscanned) is not signed.
    const withheld = storage.blockUntilScanned ? ['infected', 'pending'] : ['infected'];
    const readable = new Map(
      (await readAs(storage.sql, principal, (tx) => tx<{ key: string; id: string; sha256: string }[]>`
        select key, id, sha256 from storage.objects o where bucket_id = ${bucket.id} and key = any(${valid}::text[])
          and coalesce(storage.object_scan_status(o.id), 'pending') <> all(${withheld}::text[])`)).map((r) => [r.key, r]),
    );
    return c.json(
      paths.data.map((path) => {
        const object = readable.get(path);
        if (!object) return { path, signedURL: null, error: NOT_SIGNABLE };
        const target = { bucket: bucket.name, key: path };
        const identity = { bucketId: bucket.id, objectId: object.id, sha256: object.sha256 };
        const { token, expiresAt } = signer.sign({ kind: 'download', ...target, ...identity, ...signerClaims(principal) }, expiresIn);
        return {
          path,
          signedURL: urlOf('download', target, token, 'raw'),
          url: urlOf('download', target, token, 'encoded'),
          expires_at: expiresAt.toISOString(),
          error: null,
        };
      }),
    );
  });

  // storage-js's createSignedUrl: the signer must be able to read the object now (404 or 403 otherwise, no URL).
  app.post('/sign/*', async (c) => {
    const target = objectTarget(c, 'sign/');
    const body = await jsonObject(c);
    const expiresIn = lifetimeOf(c, body, 'download', maxExpiry);
    const principal = c.get('principal');
    const { bucket, object } = await headObject(storage, target.bucket, target.key, principal);
    const identity = { bucketId: bucket.id, objectId: object.id, sha256: object.sha256 };
    const { token, expiresAt } = signer.sign({ kind: 'download', ...target, ...identity, ...signerClaims(principal) }, expiresIn);
    return c.json({
      signedURL: urlOf('download', target, token, 'raw'),
      url: urlOf('download', target, token, 'encoded'),
      expires_at: expiresAt.toISOString(),
    });
  });

  // storage-js's createSignedUploadUrl: the signer must be able to write into the bucket; `x-upsert: true` lets the upload replace.
  app.post('/upload/sign/*', async (c) => {
    const target = objectTarget(c, 'upload/sign/');
    const body = await jsonObject(c);
    const expiresIn = lifetimeOf(c, body, 'upload', maxExpiry);
    const principal = c.get('principal');
    const bucket = await requireBucket(storage, target.bucket);
    requireWrite(bucket, principal);
    const upsert = c.req.header('x-upsert') === 'true';
    const { token, expiresAt } = signer.sign({ kind: 'upload', ...target, bucketId: bucket.id, ...signerClaims(principal), upsert }, expiresIn);
    // storage-js reads the token from `url`'s query.
    return c.json({ url: urlOf('upload', target, token, 'raw'), token, expires_at: expiresAt.toISOString() });
  });

  return app;
}

/**
 * Redeeming: the token is the permission, so these are mounted before
 * authentication — whatever credentials come along (storage-js sends its
 * own, perhaps stale) are neither needed nor checked.
 */
export function signedUrlRoutes(storage: Storage, { signer }: SignedUrlSettings, defaultSizeLimit: number): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();

  app.on(['GET', 'HEAD'], '/sign/*', async (c) => {
    const target = objectTarget(c, 'sign/');
    const token = redeem(c, signer, 'download', target);
    const missing = () => new DomainError('NoSuchKey', undefined, { Key: target.key });
    if (!(await isStillSigned(storage, token))) throw missing();
    // As the signer: it must still be allowed to read what it signed. Its refusal
    // (or the object gone since the check) is answered as the missing object too.
    const signerPrincipal = signerOf(token);
    return sendObject(c, storage, target, signerPrincipal, signerPrincipal).catch((err: unknown) => {
      if (isDomainError(err) && (err.code === 'NoSuchKey' || err.code === 'NoSuchBucket' || err.code === 'AccessDenied')) throw missing();
      throw err;
    });
  });

  // storage-js's uploadToSignedUrl; its x-upsert header is ignored, the token's decides.
  app.put('/upload/sign/*', async (c) => {
    const target = objectTarget(c, 'upload/sign/');
    const token = redeem(c, signer, 'upload', target);
    if (!(await isStillSigned(storage, token))) throw signedUrlErrors.invalidSignature();
    const { jti } = token;
    if (jti === undefined) throw signedUrlErrors.invalidSignature();
    if (!(await claimUploadToken(storage, jti, token.expiresAt))) throw signedUrlErrors.uploadUsed();
    const object = await receiveUpload(c, storage, target, { principal: signerOf(token), upsert: token.upsert === true, defaultSizeLimit }).catch(
      async (err: unknown) => {
        await releaseUploadToken(storage, jti).catch((e: unknown) => storage.log.warn({ err: e }, 'signed upload token not released'));
        throw err;
      },
    );
    return c.json(objectJson(target.bucket, object)); // storage-js reads `Key`
  });

  return app;
}
