// A bucket's policy and Block Public Access settings, stored (migration
// 0023): set, read and removed by the bucket's owner (or the service role),
// as S3 lets only the owner's account manage them. The language is
// core/bucket-policy.ts's; evaluation is Postgres's.
import { isService, type Principal } from '../principals/principal.ts';
import { readAs, SERVICE } from '../db/session.ts';
import type { TransactionSql } from '../db/connect.ts';
import { missingObject, ownsBucket, requireAdminister } from './access.ts';
import type { BucketRow } from './bucket.ts';
import { changeBucket, COLUMNS, requireBucket } from './buckets.ts';
import { compilePolicy, type PublicAccessBlock } from './bucket-policy.ts';
import { DomainError } from './errors.ts';
import type { Services } from './services.ts';

/** The owner's bucket, refused to anyone else (bucket policies never decide who manages them). */
async function ownedBucket(storage: Services, name: string, principal: Principal): Promise<BucketRow> {
  const bucket = await requireBucket(storage, name);
  requireAdminister(bucket, principal);
  return bucket;
}

/** A Block Public Access flag as it holds for the bucket: its own setting, else the server's default. */
export async function publicAccessFlag(storage: Services, bucket: BucketRow | null, flag: keyof PublicAccessBlock): Promise<boolean> {
  const [row] = await readAs(storage.sql, SERVICE, (tx) => tx<{ on: boolean }[]>`
    select storage.public_access_flag(${bucket?.public_access_block ? tx.json(bucket.public_access_block) : null}::jsonb, ${flag}) as on`);
  return row?.on ?? false;
}

/**
 * Stores the policy after validating it (MalformedPolicy) for this bucket.
 * A public policy is refused where BlockPublicPolicy holds (S3: 403 AccessDenied).
 */
export async function putBucketPolicy(storage: Services, name: string, principal: Principal, document: string): Promise<void> {
  const bucket = await ownedBucket(storage, name, principal);
  const compiled = compilePolicy(document, bucket.name);
  if (compiled.isPublic && (await publicAccessFlag(storage, bucket, 'BlockPublicPolicy'))) throw new DomainError('AccessDenied');
  await changeBucket(storage, bucket, principal, (tx) => tx<BucketRow[]>`
    update storage.buckets set policy_document = ${document}, policy_statements = ${tx.json(compiled.statements as never)},
      policy_public = ${compiled.isPublic}
    where id = ${bucket.id} returning ${COLUMNS(tx)}`);
}

export interface StoredPolicy {
  document: string | null;
  isPublic: boolean;
}

/** The policy as sent, and whether it is public; document null when the bucket has none. */
export async function getBucketPolicy(storage: Services, name: string, principal: Principal): Promise<{ bucket: BucketRow } & StoredPolicy> {
  const bucket = await ownedBucket(storage, name, principal);
  const [row] = await readAs(storage.sql, SERVICE, (tx) => tx<{ policy_document: string | null; policy_public: boolean }[]>`
    select policy_document, policy_public from storage.buckets where id = ${bucket.id}`);
  if (!row) throw new DomainError('NoSuchBucket', undefined, { BucketName: name });
  return { bucket, document: row.policy_document, isPublic: row.policy_public };
}

export async function deleteBucketPolicy(storage: Services, name: string, principal: Principal): Promise<void> {
  const bucket = await ownedBucket(storage, name, principal);
  await changeBucket(storage, bucket, principal, (tx) => tx<BucketRow[]>`
    update storage.buckets set policy_document = null, policy_statements = null, policy_public = false
    where id = ${bucket.id} returning ${COLUMNS(tx)}`);
}

/** The bucket's own Block Public Access settings; null when it has none (the server's default applies). */
export async function getPublicAccessBlock(storage: Services, name: string, principal: Principal): Promise<PublicAccessBlock | null> {
  const bucket = await ownedBucket(storage, name, principal);
  return (bucket.public_access_block as PublicAccessBlock | null | undefined) ?? null;
}

/** Sets (or, with null, removes) the bucket's own Block Public Access settings. */
export async function setPublicAccessBlock(storage: Services, name: string, principal: Principal, block: PublicAccessBlock | null): Promise<void> {
  const bucket = await ownedBucket(storage, name, principal);
  await changeBucket(storage, bucket, principal, (tx) => tx<BucketRow[]>`
    update storage.buckets set public_access_block = ${block ? tx.json({ ...block }) : null}::jsonb
    where id = ${bucket.id} returning ${COLUMNS(tx)}`);
}

/** Writes the server-wide default (AEROSTORE_BLOCK_PUBLIC_ACCESS) where Postgres reads it, at start. */
export async function storePublicAccessDefault(storage: Pick<Services, 'sql'>, block: PublicAccessBlock): Promise<void> {
  await readAs(storage.sql, SERVICE, (tx) => tx`update storage.public_access_default set block = ${tx.json({ ...block })}`);
}

/** Whether a miss in `bucket` may need more than core/access.ts's answer: it has a policy or a public read preset. */
function missMayBeDenied(bucket: BucketRow, principal: Principal): boolean {
  return !isService(principal) && (bucket.has_policy === true || bucket.policy !== 'private');
}

/** Per key: the bucket policy's word on s3:GetObject, and whether IgnorePublicAcls holds — as the principal of `tx`. */
function readVerdicts(tx: TransactionSql, bucket: BucketRow, keys: readonly string[]) {
  return tx<{ key: string; effect: string | null; ignoring: boolean }[]>`
    select k.key, storage.bucket_policy_effect(${bucket.id}, 's3:getobject', k.key) as effect,
           storage.public_access_flag(${bucket.public_access_block ? tx.json(bucket.public_access_block) : null}::jsonb, 'IgnorePublicAcls') as ignoring
    from unnest(${keys as string[]}::text[]) as k(key)`;
}

/**
 * Of `keys` — objects RLS did not show the principal of `tx` — those it must
 * be told AccessDenied about rather than "missing": where the bucket policy
 * explicitly denies it s3:GetObject on the key (as S3 answers an explicit
 * Deny, whether or not the key exists), or where IgnorePublicAcls takes away
 * the preset that would have let it know the bucket's keys. One statement,
 * in the caller's transaction (a write's too: neither function reads
 * objects); buckets with neither a policy nor a public preset cost nothing.
 */
export async function readsDenied(tx: TransactionSql, bucket: BucketRow, principal: Principal, keys: readonly string[]): Promise<Set<string>> {
  if (keys.length === 0 || !missMayBeDenied(bucket, principal)) return new Set();
  return deniedKeys(await readVerdicts(tx, bucket, keys), bucket, principal);
}

/** The keys whose verdicts refuse: an explicit Deny; IgnorePublicAcls, for all but the bucket's owner. */
function deniedKeys(rows: readonly { key: string; effect: string | null; ignoring: boolean }[], bucket: BucketRow, principal: Principal): Set<string> {
  const owner = ownsBucket(bucket, principal);
  return new Set(rows.filter((r) => r.effect === 'deny' || (r.ignoring && !owner)).map((r) => r.key));
}

/**
 * An object row RLS did not return: AccessDenied where readsDenied says
 * so, otherwise core/access.ts's answer. Asked only after a miss: a read
 * that finds its row pays nothing.
 */
export async function explainMissingObject(storage: Services, bucket: BucketRow, principal: Principal, key: string): Promise<DomainError> {
  if (missMayBeDenied(bucket, principal)) {
    const rows = await readAs(storage.sql, principal, (tx) => readVerdicts(tx, bucket, [key]));
    if (deniedKeys(rows, bucket, principal).size > 0) return new DomainError('AccessDenied');
  }
  return missingObject(bucket, principal, key);
}
