// What a principal may do with a bucket under the built-in presets, decided
// from the bucket row alone. Row-level security in Postgres (migrations 0009,
// 0021, 0022) is the enforcement: every object row read or written goes
// through it. These checks mirror the presets one level up, as a fast path:
// what they admit needs no question to Postgres before the body is read;
// what they do not admit, an operator's own policy still may, and
// core/policy-checks.ts asks Postgres before refusing. They also choose the
// error S3 would give (AccessDenied rather than an empty answer).
import { isService, ownerId, type Principal } from '../principals/principal.ts';
import { DomainError } from './errors.ts';
import type { BucketRow } from './bucket.ts';
import { grants, groupsGranted, type Permission } from './acl.ts';
import { policyVerdict } from './bucket-policy.ts';

export function ownsBucket(bucket: Pick<BucketRow, 'owner_id'>, p: Principal): boolean {
  const me = ownerId(p);
  return me !== null && bucket.owner_id === me;
}

/** A grant of the bucket's ACL to this user by name (migration 0028). */
export function grantedOnBucket(bucket: Pick<BucketRow, 'acl'>, p: Principal, permission: Permission): boolean {
  const me = ownerId(p);
  return me !== null && grants(bucket.acl, me, permission);
}

/** Reads every object of the bucket (the bucket policy grants it). */
export function canReadAll(bucket: BucketRow, p: Principal): boolean {
  if (isService(p) || bucket.policy === 'public') return true;
  if (p.kind !== 'user') return false;
  return bucket.policy === 'authenticated' || ownsBucket(bucket, p) || grantedOnBucket(bucket, p, 'READ');
}

/** Lists the bucket; RLS then shows each principal the rows it may read. */
export function canList(bucket: BucketRow, p: Principal): boolean {
  // The bucket policy's word, when the bucket has one (issue 17 §5, s3/policy-precheck.ts).
  const policy = policyVerdict(bucket, p, 'list');
  if (policy) return policy === 'allow';
  if (p.kind === 'anonymous') return bucket.policy === 'public' && bucket.public_list;
  return canReadAll(bucket, p) || bucket.member_writes || grantedOnBucket(bucket, p, 'WRITE');
}

/** Creates objects in the bucket (and, as a member, overwrites or deletes its own). */
export function canWrite(bucket: BucketRow, p: Principal): boolean {
  if (isService(p)) return true;
  // The bucket policy's word, when the bucket has one (issue 17 §5, s3/policy-precheck.ts).
  const policy = policyVerdict(bucket, p, 'write');
  if (policy) return policy === 'allow';
  if (p.kind !== 'user') return false;
  return ownsBucket(bucket, p) || bucket.member_writes || grantedOnBucket(bucket, p, 'WRITE');
}

/** Changes the bucket itself: delete it, its policy, ACL, CORS rules. */
export function canAdminister(bucket: BucketRow, p: Principal): boolean {
  if (isService(p)) return true;
  // The bucket policy's word, when the bucket has one (issue 17 §5, s3/policy-precheck.ts).
  const policy = policyVerdict(bucket, p, 'administer');
  if (policy) return policy === 'allow';
  return ownsBucket(bucket, p);
}

/** Knows the bucket exists (HeadBucket, GetBucketLocation and the like). */
export function canSee(bucket: BucketRow, p: Principal): boolean {
  return canReadAll(bucket, p) || canWrite(bucket, p);
}

/**
 * Object ACLs count in the bucket: not Object Ownership BucketOwnerEnforced
 * (storage.acl_disabled_buckets). When they do not, a request that sets one is
 * refused (S3's AccessControlListNotSupported) and stored lists are ignored.
 */
export function aclsApply(bucket: Pick<BucketRow, 'object_ownership'>): boolean {
  return bucket.object_ownership !== 'BucketOwnerEnforced';
}

/**
 * May give an object in the bucket this stored list (storage.acl_allowed,
 * the restrictive policies of migration 0021): any list while ACLs apply,
 * but a grant to AllUsers or AuthenticatedUsers only as the bucket's owner —
 * or where the bucket's read policy already grants that group as much. So a
 * member of a member-writes bucket may share its own objects with named
 * users, not publish them from the owner's private bucket.
 */
export function mayGiveAcl(bucket: BucketRow, p: Principal, acl: readonly string[] | null): boolean {
  if (acl === null || isService(p)) return true;
  if (p.kind !== 'user' || !aclsApply(bucket)) return false;
  if (ownsBucket(bucket, p)) return true;
  const groups = groupsGranted(acl);
  if (groups.has('AllUsers') && bucket.policy !== 'public') return false;
  if (groups.has('AuthenticatedUsers') && bucket.policy === 'private') return false;
  return true;
}

export function requireAclAllowed(bucket: BucketRow, p: Principal, acl: readonly string[] | null): void {
  if (!mayGiveAcl(bucket, p, acl)) throw denied();
}

function denied(): DomainError {
  return new DomainError('AccessDenied');
}

export function requireAdminister(bucket: BucketRow, p: Principal): void {
  if (!canAdminister(bucket, p)) throw denied();
}

export function requireSee(bucket: BucketRow, p: Principal): void {
  if (!canSee(bucket, p)) throw denied();
}

/**
 * Whether "not visible" means "not there": only for a principal that sees
 * every object of the bucket and may list it. Anyone else (a member of a
 * private bucket sees only its own objects) cannot be told whether a key
 * it may not read exists.
 */
export function knowsWholeBucket(bucket: BucketRow, p: Principal): boolean {
  return canReadAll(bucket, p) && canList(bucket, p);
}

/**
 * An object row RLS did not return: NoSuchKey for a principal that would
 * have seen it, AccessDenied otherwise (as S3 answers without
 * s3:ListBucket), whether or not the key exists.
 */
export function missingObject(bucket: BucketRow, p: Principal, key: string): DomainError {
  return knowsWholeBucket(bucket, p) ? new DomainError('NoSuchKey', undefined, { Key: key }) : denied();
}

/** Postgres' insufficient_privilege (42501): an RLS policy refused a row. */
export function isRlsRefusal(err: unknown): boolean {
  return (err as { code?: string } | null)?.code === '42501';
}

/** Rethrows an RLS refusal as S3's AccessDenied. */
export function rethrowRefusal(err: unknown): never {
  if (isRlsRefusal(err)) throw denied();
  throw err;
}
