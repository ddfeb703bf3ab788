// Object ACLs: the list a write gives an object, and Get/PutObjectAcl
// (migration 0021; docs/architecture.md "ACLs and Object Ownership").
// Reading an object is row-level security's, on the list stored in the row;
// reading and changing the list itself goes through storage.object_acl and
// storage.put_object_acl, which hold the READ_ACP / WRITE_ACP rule.
import { readAs, SERVICE } from '../db/session.ts';
import { ownerId, type Principal } from '../principals/principal.ts';
import { aclsApply, requireAclAllowed } from './access.ts';
import { canonicalId, cannedGrants, grantsOf, storedAcl, type AclRequest, type Grant } from './acl.ts';
import type { BucketRow } from './bucket.ts';
import { requireBucket } from './buckets.ts';
import { explainMissingObject } from './bucket-policies.ts';
import { DomainError } from './errors.ts';
import type { Services } from './services.ts';

/** What a write gives its object: the stored list and the owner. */
export interface ObjectAccess {
  acl: string[] | null;
  owner: string | null;
}

/**
 * The list `request` asks for, on an object owned by `owner` in `bucket`.
 * With ACLs disabled (BucketOwnerEnforced) only what changes nothing is
 * accepted — no list, the owner's own FULL_CONTROL, bucket-owner-full-control
 * — as S3 accepts it; anything else is AccessControlListNotSupported.
 */
export function requestedAcl(bucket: BucketRow, owner: string | null, request: AclRequest | undefined): string[] | null {
  if (!request) return null;
  const grants = 'canned' in request ? cannedGrants(request.canned, owner, bucket.owner_id) : request.grants;
  if (!aclsApply(bucket)) {
    const owners = new Set([canonicalId(owner), canonicalId(bucket.owner_id)]);
    const harmless = grants.every((g) => g.grantee.kind === 'user' && owners.has(g.grantee.id) && g.permission === 'FULL_CONTROL');
    if (!harmless) throw new DomainError('AclNotSupported');
    return null;
  }
  return storedAcl(grants, owner);
}

/**
 * What a write by `principal` gives the new object (PutObject, POST, a copy,
 * CreateMultipartUpload), decided before any body is read: the list (refused
 * early as RLS would refuse it at commit: core/access.ts mayGiveAcl), and the
 * owner — the writer, or in a BucketOwnerPreferred bucket the bucket owner
 * when the list gives it FULL_CONTROL (bucket-owner-full-control), as S3 does.
 */
export function objectAccessFor(bucket: BucketRow, principal: Principal, request: AclRequest | undefined): ObjectAccess {
  const writer = ownerId(principal);
  const acl = requestedAcl(bucket, writer, request);
  requireAclAllowed(bucket, principal, acl);
  return { acl, owner: ownerOnWrite(bucket, writer, acl) };
}

/** The owner of an object `writer` writes with `acl` (BucketOwnerPreferred's rule). */
export function ownerOnWrite(bucket: BucketRow, writer: string | null, acl: readonly string[] | null): string | null {
  const toBucketOwner =
    bucket.object_ownership === 'BucketOwnerPreferred' && acl !== null && acl.includes(`FULL_CONTROL:${canonicalId(bucket.owner_id)}`);
  return toBucketOwner ? bucket.owner_id : writer;
}

/** An object's ACL as S3 reports it. */
export interface ObjectAclView {
  /** The owner's canonical id: the bucket owner's when ACLs are disabled (BucketOwnerEnforced owns every object). */
  owner: string;
  grants: Grant[];
}

/**
 * GetObjectAcl: the list, if `principal` may read it (storage.object_acl:
 * the service role, the bucket owner, the object's owner, READ_ACP). A key
 * it may not read the list of is AccessDenied when it may see the object,
 * and answered as missing otherwise (core/bucket-policies.ts explainMissingObject).
 */
export async function getObjectAcl(storage: Services, bucketName: string, key: string, principal: Principal): Promise<ObjectAclView> {
  const bucket = await requireBucket(storage, bucketName);
  const [row] = await readAs(storage.sql, principal, (tx) => tx<
    { owner_id: string | null; acl: string[] | null; object_ownership: string | null; bucket_owner_id: string | null; readable: boolean | null; visible: boolean }[]
  >`
    select a.*, a.readable, exists (select 1 from storage.objects o where o.bucket_uuid = ${bucket.id} and o.key = ${key}) as visible
    from (select 1) one left join lateral (select true as readable, * from storage.object_acl(${bucket.id}, ${key})) a on true`);
  if (!row.readable) throw row.visible ? new DomainError('AccessDenied') : await explainMissingObject(storage, bucket, principal, key);
  if (row.object_ownership === 'BucketOwnerEnforced') {
    const owner = canonicalId(row.bucket_owner_id);
    return { owner, grants: [{ grantee: { kind: 'user', id: owner }, permission: 'FULL_CONTROL' }] };
  }
  return { owner: canonicalId(row.owner_id), grants: grantsOf(row.acl, row.owner_id) };
}

/**
 * PutObjectAcl: replaces the list (storage.put_object_acl: the service role,
 * the bucket owner, the object's owner or a WRITE_ACP grantee, and only a
 * list storage.acl_allowed lets it give). A canned ACL names the object's
 * owner, read first; an overwrite racing in between is retried with the new
 * owner. Changes no ETag, no Last-Modified and writes no event (as tagging).
 */
export async function putObjectAcl(storage: Services, bucketName: string, key: string, principal: Principal, request: AclRequest): Promise<void> {
  const bucket = await requireBucket(storage, bucketName);
  // Anonymous principals write nothing, ACLs included (the function is the writer's).
  if (principal.kind === 'anonymous') throw new DomainError('AccessDenied');
  for (let attempt = 0; attempt < 3; attempt++) {
    const [current] = await readAs(storage.sql, SERVICE, (tx) => tx<{ owner_id: string | null }[]>`
      select owner_id from storage.objects where bucket_uuid = ${bucket.id} and key = ${key}`);
    if (!current) throw await explainMissingObject(storage, bucket, principal, key);
    const acl = requestedAcl(bucket, current.owner_id, request);
    const [{ outcome }] = await readAs(storage.sql, principal, (tx) => tx<{ outcome: string }[]>`
      select storage.put_object_acl(${bucket.id}, ${key}, ${acl}::text[], ${current.owner_id}::uuid) as outcome`);
    switch (outcome) {
      case 'ok':
        return;
      case 'changed':
        continue;
      case 'missing':
        throw await explainMissingObject(storage, bucket, principal, key);
      case 'disabled':
        throw new DomainError('AclNotSupported');
      default:
        throw new DomainError('AccessDenied');
    }
  }
  throw new DomainError('AccessDenied', 'The object kept changing owner while its ACL was being set; try again.');
}
