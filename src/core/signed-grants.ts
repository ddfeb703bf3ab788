// What a /storage/v1 signed URL grants, as the database keeps it: the
// identity a token is signed for, whether that identity still holds the name
// when the token is redeemed, and the one-use bookkeeping of upload tokens
// (storage.signed_upload_tokens, migration 0011). The token itself — its
// signature, lifetime and claims — is principals/url-tokens.ts's; the HTTP
// side (routes, URLs, answers) is storage-api/signed-urls.ts's.
//
// A token grants what its signer could reach when signing, and nothing that
// later takes the name (issue 13, finding 2): a download token names the
// bucket's id, the object's row id and its content's sha256; an upload token
// the bucket's id.
import { asPrincipal, readAs, SERVICE } from '../db/session.ts';
import type { Principal } from '../principals/principal.ts';
import type { UrlTokenClaims } from '../principals/url-tokens.ts';
import type { BucketRow } from './bucket.ts';
import { requireBucket } from './buckets.ts';
import { findObjects, validateKey, type ObjectRow } from './objects.ts';
import type { Services } from './services.ts';

/** The identity a download token is signed for: this bucket, this object row, this content. */
export function downloadIdentity(bucket: BucketRow, object: ObjectRow): Pick<UrlTokenClaims, 'bucketId' | 'objectId' | 'sha256'> {
  return { bucketId: bucket.id, objectId: object.id, sha256: object.sha256 };
}

/**
 * The objects among `keys` that `principal` may sign download URLs for, by
 * key: those it may read now (one read as the signer: RLS shows it exactly
 * those), whose content the scanner does not withhold (the rule of every
 * download, core/objects.ts requireScanClearance). Keys that are not valid
 * keys are simply not signable.
 */
export async function signableObjects(
  storage: Services,
  bucketName: string,
  keys: readonly string[],
  principal: Principal,
): Promise<{ bucket: BucketRow; objects: Map<string, ObjectRow> }> {
  const bucket = await requireBucket(storage, bucketName);
  const valid = keys.filter((k) => {
    try {
      validateKey(k);
      return true;
    } catch {
      return false;
    }
  });
  const objects = valid.length === 0 ? [] : await findObjects(storage, bucket, valid, principal, 'content');
  return { bucket, objects: new Map(objects.map((o) => [o.key, o])) };
}

/**
 * Whether the bucket (and, for a download, the object, by row id and
 * content) that the token was signed for still holds its name: read as the
 * service role, since the answer must not depend on who asks.
 */
export async function grantStillHolds(storage: Services, token: UrlTokenClaims): Promise<boolean> {
  const rows =
    token.kind === 'upload'
      ? await readAs(storage.sql, SERVICE, (tx) => tx`
          select 1 from storage.buckets where id = ${token.bucketId} and name = ${token.bucket}`)
      : await readAs(storage.sql, SERVICE, (tx) => tx`
          select 1 from storage.objects o join storage.buckets b on b.id = o.bucket_uuid
          where b.id = ${token.bucketId} and b.name = ${token.bucket} and o.key = ${token.key}
            and o.id = ${token.objectId ?? null} and o.sha256 = ${token.sha256 ?? null}`);
  return rows.length === 1;
}

/**
 * Spends an upload token: records its id, unless it is there already (used,
 * or in use). Expired ids are cleared on the way: their tokens are refused
 * before they get here.
 */
export async function claimUploadToken(storage: Services, jti: string, expiresAt: Date): Promise<boolean> {
  const now = new Date();
  const rows = await asPrincipal(storage.sql, SERVICE, (tx) => tx<{ id: string }[]>`
    with expired as (delete from storage.signed_upload_tokens where expires_at < ${now})
    insert into storage.signed_upload_tokens (id, expires_at) values (${jti}, ${expiresAt})
    on conflict (id) do nothing
    returning id`);
  return rows.length === 1;
}

/** An upload that failed stored nothing: its token may be used again. */
export async function releaseUploadToken(storage: Services, jti: string): Promise<void> {
  await asPrincipal(storage.sql, SERVICE, (tx) => tx`delete from storage.signed_upload_tokens where id = ${jti}`);
}
