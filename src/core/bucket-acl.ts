// A bucket's ACL: GetBucketAcl and PutBucketAcl (migrations 0021, 0028).
// The bucket's owner (and whom a bucket policy lets administer it) reads and
// sets it as before; a user the ACL grants READ_ACP or WRITE_ACP by name
// goes through storage.bucket_acl / storage.put_bucket_acl, which hold that
// rule in Postgres — a WRITE_ACP grantee changes the grants to users, never
// the read preset (the group grants, the owner's to give).
import { asPrincipal, readAs } from '../db/session.ts';
import type { Principal } from '../principals/principal.ts';
import { canAdminister } from './access.ts';
import { policyVerdict } from './bucket-policy.ts';
import { bucketGrants, canonicalId, type BucketAclSettings, type Grant } from './acl.ts';
import type { BucketRow } from './bucket.ts';
import { announceChange, updateBucketSettings } from './buckets.ts';
import { DomainError } from './errors.ts';
import type { Services } from './services.ts';

export interface BucketAclView {
  owner: string;
  grants: Grant[];
}

/** Whether the bucket policy refuses this principal the bucket's administration outright. */
function deniedByPolicy(bucket: BucketRow, principal: Principal): boolean {
  return policyVerdict(bucket, principal, 'administer') === 'deny';
}

/** GetBucketAcl: the owner, the bucket's administrators, a READ_ACP grantee. */
export async function getBucketAcl(storage: Services, bucket: BucketRow, principal: Principal): Promise<BucketAclView> {
  if (canAdminister(bucket, principal)) return { owner: canonicalId(bucket.owner_id), grants: bucketGrants(bucket) };
  if (principal.kind === 'anonymous' || deniedByPolicy(bucket, principal)) throw new DomainError('AccessDenied');
  const [row] = await readAs(storage.sql, principal, (tx) => tx<Pick<BucketRow, 'owner_id' | 'policy' | 'member_writes' | 'acl'>[]>`
    select owner_id, policy, member_writes, acl from storage.bucket_acl(${bucket.id})`);
  if (!row) throw new DomainError('AccessDenied');
  return { owner: canonicalId(row.owner_id), grants: bucketGrants(row) };
}

/** PutBucketAcl: as the owner (any ACL) or as a WRITE_ACP grantee (its grants to users only). */
export async function putBucketAcl(storage: Services, bucket: BucketRow, principal: Principal, settings: BucketAclSettings): Promise<void> {
  if (canAdminister(bucket, principal)) {
    await updateBucketSettings(storage, bucket.name, principal, settings);
    return;
  }
  if (principal.kind === 'anonymous' || deniedByPolicy(bucket, principal)) throw new DomainError('AccessDenied');
  const outcome = await asPrincipal(storage.sql, principal, async (tx) => {
    const [[row]] = await Promise.all([
      tx<{ outcome: string }[]>`
        select storage.put_bucket_acl(${bucket.id}, ${settings.policy}, ${settings.publicList}, ${settings.memberWrites}, ${settings.acl}::text[]) as outcome`,
      announceChange(tx, bucket.name),
    ]);
    return row.outcome;
  });
  storage.bucketCache.delete(bucket.name);
  switch (outcome) {
    case 'ok':
      return;
    case 'refused':
      throw new DomainError('AccessDenied', "Only the bucket's owner changes its grants to AllUsers and AuthenticatedUsers.");
    case 'disabled':
      throw new DomainError('AclNotSupported');
    case 'missing':
      throw new DomainError('NoSuchBucket', undefined, { BucketName: bucket.name });
    default:
      throw new DomainError('AccessDenied');
  }
}
