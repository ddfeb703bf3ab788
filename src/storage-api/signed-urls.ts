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
import { requireWriteOf } from '../core/policy-checks.ts';
import { requireBucket } from '../core/buckets.ts';
import { findObject, type ObjectRow } from '../core/objects.ts';
import type { BucketRow } from '../core/bucket.ts';
import { fileRecordOf } from '../core/file-record.ts';
import { claimUploadToken, downloadIdentity, grantStillHolds, releaseUploadToken, signableObjects } from '../core/signed-grants.ts';
import type { Services } from '../core/services.ts';
import { actingFrom, ownerId, type Principal } from '../principals/principal.ts';
import { clientAddress } from '../http/client-address.ts';
import { DomainError, isDomainError } from '../core/errors.ts';
import { signerOf, type UrlSigner, type UrlTokenClaims, type UrlTokenKind, type VerifiedUrlToken } from '../principals/url-tokens.ts';
import type { ApiEnv } from '../http/env.ts';
import { signedUrlTokenKey, type RateLimits } from '../http/rate-limit.ts';
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
export function lifetimeOf(c: Context<ApiEnv>, body: Record<string, unknown>, kind: UrlTokenKind, max: number, defaults = DEFAULT_EXPIRY): number {
  const given = body.expiresIn ?? c.req.query('expires_in');
  if (given === undefined) return Math.min(defaults[kind], max);
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

/** A download URL of `object`, which `principal` has just been found able to read, for `expiresIn` seconds. */
export function signDownload(signer: UrlSigner, principal: Principal, bucket: BucketRow, object: ObjectRow, expiresIn: number) {
  const target = { bucket: bucket.name, key: object.key };
  const { token, expiresAt } = signer.sign({ kind: 'download', ...target, ...downloadIdentity(bucket, object), ...signerClaims(principal) }, expiresIn);
  return { signedURL: urlOf('download', target, token, 'raw'), url: urlOf('download', target, token, 'encoded'), expires_at: expiresAt.toISOString() };
}

/** An upload URL for `key` in `bucket`, which `principal` may write into, for `expiresIn` seconds; `upsert` lets it replace. */
export async function signUpload(storage: Services, signer: UrlSigner, principal: Principal, bucket: BucketRow, key: string, upsert: boolean, expiresIn: number) {
  const target = { bucket: bucket.name, key };
  await requireWriteOf(storage, bucket, principal, { key, owner: ownerId(principal), acl: null, overwrite: upsert });
  const { token, expiresAt } = signer.sign({ kind: 'upload', ...target, bucketId: bucket.id, ...signerClaims(principal), upsert }, expiresIn);
  return { url: urlOf('upload', target, token, 'raw'), encoded: urlOf('upload', target, token, 'encoded'), token, expires_at: expiresAt.toISOString() };
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

/** Signing: needs the principal, so mounted after authentication, and before objects.ts's catch-all POST. */
export function signingRoutes(storage: Services, { signer, maxExpiry }: SignedUrlSettings): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();

  // storage-js's createSignedUrls: one answer per path, an error in place of a URL for any it may not read.
  app.post('/sign/:bucket', async (c) => {
    const body = await jsonObject(c);
    const expiresIn = lifetimeOf(c, body, 'download', maxExpiry);
    const paths = z.array(z.string()).min(1).max(MAX_BATCH_PATHS).safeParse(body.paths);
    if (!paths.success) throw new StorageApiError(400, 'INVALID_REQUEST', `paths: 1 to ${MAX_BATCH_PATHS} object paths.`);
    const principal = c.get('principal');
    // What the signer may read now, and the scanner does not withhold.
    const { bucket, objects: readable } = await signableObjects(storage, c.req.param('bucket'), paths.data, principal);
    return c.json(
      paths.data.map((path) => {
        const object = readable.get(path);
        if (!object) return { path, signedURL: null, error: NOT_SIGNABLE };
        return { path, ...signDownload(signer, principal, bucket, object, expiresIn), error: null };
      }),
    );
  });

  // storage-js's createSignedUrl: the signer must be able to read the object now (404 or 403 otherwise, no URL).
  app.post('/sign/*', async (c) => {
    const target = objectTarget(c, 'sign/');
    const body = await jsonObject(c);
    const expiresIn = lifetimeOf(c, body, 'download', maxExpiry);
    const principal = c.get('principal');
    const { bucket, object } = await findObject(storage, target.bucket, target.key, principal);
    const signed = signDownload(signer, principal, bucket, object, expiresIn);
    // Beside Supabase's fields, the blueprint's file record with this URL as its download_url.
    return c.json({ ...signed, file: fileRecordOf(bucket.name, object, { download_url: `/storage/v1${signed.url}` }) });
  });

  // storage-js's createSignedUploadUrl: the signer must be able to write into the bucket; `x-upsert: true` lets the upload replace.
  app.post('/upload/sign/*', async (c) => {
    const target = objectTarget(c, 'upload/sign/');
    const body = await jsonObject(c);
    const expiresIn = lifetimeOf(c, body, 'upload', maxExpiry);
    const principal = c.get('principal');
    const bucket = await requireBucket(storage, target.bucket);
    const { url, token, expires_at } = await signUpload(storage, signer, principal, bucket, target.key, c.req.header('x-upsert') === 'true', expiresIn);
    // storage-js reads the token from `url`'s query.
    return c.json({ url, token, expires_at });
  });

  return app;
}

/**
 * Redeeming: the token is the permission, so these are mounted before
 * authentication — whatever credentials come along (storage-js sends its
 * own, perhaps stale) are neither needed nor checked.
 */
export function signedUrlRoutes(storage: Services, { signer }: SignedUrlSettings, defaultSizeLimit: number, limits: RateLimits): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  /** A verified token's rate limits, before any database work: the URL's and its signer's (http/rate-limit.ts). */
  const admit = (c: Context<ApiEnv>, token: VerifiedUrlToken) =>
    limits.admit(c.env.incoming, { signedUrl: signedUrlTokenKey(c.req.query('token') as string), principal: signerOf(token) });

  app.on(['GET', 'HEAD'], '/sign/*', async (c) => {
    const target = objectTarget(c, 'sign/');
    const token = redeem(c, signer, 'download', target);
    admit(c, token);
    const missing = () => new DomainError('NoSuchKey', undefined, { Key: target.key });
    if (!(await grantStillHolds(storage, token))) throw missing();
    // As the signer: it must still be allowed to read what it signed. Its refusal
    // (or the object gone since the check) is answered as the missing object too.
    const signerPrincipal = actingFrom(signerOf(token), clientAddress(c.env.incoming));
    return sendObject(c, storage, target, signerPrincipal, signerPrincipal).catch((err: unknown) => {
      if (isDomainError(err) && (err.code === 'NoSuchKey' || err.code === 'NoSuchBucket' || err.code === 'AccessDenied')) throw missing();
      throw err;
    });
  });

  // storage-js's uploadToSignedUrl; its x-upsert header is ignored, the token's decides.
  app.put('/upload/sign/*', async (c) => {
    const target = objectTarget(c, 'upload/sign/');
    const token = redeem(c, signer, 'upload', target);
    admit(c, token);
    if (!(await grantStillHolds(storage, token))) throw signedUrlErrors.invalidSignature();
    const { jti } = token;
    if (jti === undefined) throw signedUrlErrors.invalidSignature();
    if (!(await claimUploadToken(storage, jti, token.expiresAt))) throw signedUrlErrors.uploadUsed();
    const object = await receiveUpload(c, storage, target, { principal: actingFrom(signerOf(token), clientAddress(c.env.incoming)), upsert: token.upsert === true, defaultSizeLimit }).catch(
      async (err: unknown) => {
        await releaseUploadToken(storage, jti).catch((e: unknown) => storage.log.warn({ err: e }, 'signed upload token not released'));
        throw err;
      },
    );
    return c.json(objectJson(target.bucket, object)); // storage-js reads `Key`
  });

  return app;
}
