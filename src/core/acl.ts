// S3 access control lists, as data (migration 0021; docs/architecture.md
// "ACLs and Object Ownership"). An object's list is stored on its row and
// read by row-level security; a bucket's list is its read preset (policy,
// public_list, member_writes: the AllUsers and AuthenticatedUsers grants)
// plus the grants stored beside it. Nothing here decides who may do what:
// that is Postgres's (and its early mirror, core/access.ts).
import { DomainError } from './errors.ts';
import type { BucketPolicy, BucketRow } from './bucket.ts';

export const PERMISSIONS = ['READ', 'WRITE', 'READ_ACP', 'WRITE_ACP', 'FULL_CONTROL'] as const;
export type Permission = (typeof PERMISSIONS)[number];

export const GROUPS = ['AllUsers', 'AuthenticatedUsers', 'LogDelivery'] as const;
export type Group = (typeof GROUPS)[number];

/** Each group's URI, as S3 names it in grants. */
export const GROUP_URIS: Record<Group, string> = {
  AllUsers: 'http://acs.amazonaws.com/groups/global/AllUsers',
  AuthenticatedUsers: 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers',
  LogDelivery: 'http://acs.amazonaws.com/groups/s3/LogDelivery',
};
export const ALL_USERS = GROUP_URIS.AllUsers;
export const AUTHENTICATED_USERS = GROUP_URIS.AuthenticatedUsers;

/**
 * The canonical id of a principal: its user id; the root key has none and
 * is 'aerostore' (as ListObjects and ListBuckets name it, s3/ops/bucket.ts).
 */
export const ROOT_CANONICAL_ID = 'aerostore';
export function canonicalId(userId: string | null): string {
  return userId ?? ROOT_CANONICAL_ID;
}

export type Grantee = { kind: 'user'; id: string } | { kind: 'group'; group: Group };
export interface Grant {
  grantee: Grantee;
  permission: Permission;
}

export const CANNED_ACLS = [
  'private',
  'public-read',
  'public-read-write',
  'authenticated-read',
  'aws-exec-read',
  'bucket-owner-read',
  'bucket-owner-full-control',
  'log-delivery-write',
] as const;
export type CannedAcl = (typeof CANNED_ACLS)[number];

/** What a request asks an ACL to be: a canned ACL (x-amz-acl, a form's acl) or grants (x-amz-grant-*, an AccessControlPolicy). */
export type AclRequest = { canned: CannedAcl } | { grants: Grant[] };

export function cannedAcl(value: string, argumentName = 'x-amz-acl'): CannedAcl {
  const v = value.trim();
  if (!(CANNED_ACLS as readonly string[]).includes(v)) {
    throw new DomainError('InvalidArgument', undefined, { ArgumentName: argumentName, ArgumentValue: value });
  }
  return v as CannedAcl;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A CanonicalUser grantee's id: a principal's user id (a uuid) or the root
 * key's 'aerostore'; anything else names nobody (S3: InvalidArgument,
 * "Invalid id"). This server keeps no list of users — a user signs in with a
 * JWT it never saw before — so any well-formed user id is accepted.
 */
export function userGrantee(id: string): Grantee {
  const v = id.trim();
  if (v === ROOT_CANONICAL_ID) return { kind: 'user', id: v };
  if (!UUID.test(v)) throw new DomainError('InvalidArgument', 'Invalid id', { ArgumentName: 'CanonicalUser/ID', ArgumentValue: id });
  return { kind: 'user', id: v.toLowerCase() };
}

/** A Group grantee's URI (S3: InvalidArgument "Invalid group uri"). */
export function groupGrantee(uri: string): Grantee {
  const group = GROUPS.find((g) => GROUP_URIS[g] === uri.trim());
  if (!group) throw new DomainError('InvalidArgument', 'Invalid group uri', { ArgumentName: 'Group/URI', ArgumentValue: uri });
  return { kind: 'group', group };
}

export function isPermission(value: string): value is Permission {
  return (PERMISSIONS as readonly string[]).includes(value);
}

/**
 * The grants of a canned ACL on an object (S3 User Guide, "Canned ACL").
 * `owner` is the object's writer, `bucketOwner` the bucket's; bucket-owner-*
 * name nobody more when they are one. aws-exec-read's EC2 grant has no
 * grantee here.
 */
export function cannedGrants(canned: CannedAcl, owner: string | null, bucketOwner: string | null): Grant[] {
  const me: Grantee = { kind: 'user', id: canonicalId(owner) };
  const grants: Grant[] = [{ grantee: me, permission: 'FULL_CONTROL' }];
  const group = (g: Group, permission: Permission) => grants.push({ grantee: { kind: 'group', group: g }, permission });
  const bucketOwnerGets = (permission: Permission) => {
    if (canonicalId(bucketOwner) !== canonicalId(owner)) grants.push({ grantee: { kind: 'user', id: canonicalId(bucketOwner) }, permission });
  };
  switch (canned) {
    case 'public-read':
      group('AllUsers', 'READ');
      break;
    case 'public-read-write':
      group('AllUsers', 'READ');
      group('AllUsers', 'WRITE');
      break;
    case 'authenticated-read':
      group('AuthenticatedUsers', 'READ');
      break;
    case 'bucket-owner-read':
      bucketOwnerGets('READ');
      break;
    case 'bucket-owner-full-control':
      bucketOwnerGets('FULL_CONTROL');
      break;
    case 'log-delivery-write':
      group('LogDelivery', 'WRITE');
      group('LogDelivery', 'READ_ACP');
      break;
    case 'private':
    case 'aws-exec-read':
      break;
  }
  return grants;
}

/** A grantee as stored in a list entry (migration 0021): a canonical id or a group name. */
function granteeKey(g: Grantee): string {
  return g.kind === 'user' ? g.id : g.group;
}

/**
 * Grants as the stored list: '<PERMISSION>:<grantee>' in the order given,
 * without repeats; null for the default list (the owner's FULL_CONTROL alone).
 */
export function storedAcl(grants: readonly Grant[], owner: string | null): string[] | null {
  const entries = [...new Set(grants.map((g) => `${g.permission}:${granteeKey(g.grantee)}`))];
  return entries.length === 1 && entries[0] === `FULL_CONTROL:${canonicalId(owner)}` ? null : entries;
}

/** A stored list as grants; null is the owner's FULL_CONTROL. */
export function grantsOf(stored: readonly string[] | null, owner: string | null): Grant[] {
  if (stored === null) return [{ grantee: { kind: 'user', id: canonicalId(owner) }, permission: 'FULL_CONTROL' }];
  return stored.map((entry) => {
    const at = entry.indexOf(':');
    const permission = entry.slice(0, at) as Permission;
    const who = entry.slice(at + 1);
    const grantee: Grantee = (GROUPS as readonly string[]).includes(who) ? { kind: 'group', group: who as Group } : { kind: 'user', id: who };
    return { grantee, permission };
  });
}

/** The stored entries that name a group (what only the bucket owner may grant beyond the bucket's policy). */
export function groupsGranted(stored: readonly string[] | null): Set<Group> {
  const groups = new Set<Group>();
  for (const g of grantsOf(stored, null)) if (g.grantee.kind === 'group') groups.add(g.grantee.group);
  return groups;
}

/** Whether a stored list grants `permission` (or FULL_CONTROL) to this canonical id or group. */
export function grants(stored: readonly string[] | null, who: string, permission: Permission): boolean {
  return stored !== null && (stored.includes(`${permission}:${who}`) || stored.includes(`FULL_CONTROL:${who}`));
}

// ---------------------------------------------------------------------------
// Buckets: the read preset is the AllUsers / AuthenticatedUsers part of the
// bucket's ACL; what else a bucket's list may hold is stored in buckets.acl.

/** What a bucket ACL sets: the read preset, and the grants kept beside it. */
export interface BucketAclSettings {
  policy: BucketPolicy;
  /** AllUsers READ: anonymous listing too, as on S3. */
  publicList: boolean;
  /** AuthenticatedUsers WRITE: any signed-in principal may write (member writes). */
  memberWrites: boolean;
  /** The other grants (to named users, LogDelivery's), stored; null: none. */
  acl: string[] | null;
}

/**
 * A bucket ACL's grants → the bucket's settings. AllUsers READ is a public
 * bucket, listable anonymously; AuthenticatedUsers READ an authenticated
 * one; AuthenticatedUsers WRITE member writes; the owner's own grants are
 * implied. Grants to other users are kept in the bucket's list and mean the
 * same for that user alone (migration 0028): READ reads and lists, WRITE
 * writes as a member. LogDelivery's are kept too (they grant nothing: there
 * is no log delivery). Anonymous writes are never granted: refused, not
 * dropped. The canned public-read-write reads as public-read (as it always
 * has here, docs/architecture.md).
 */
export function bucketAclSettings(request: AclRequest, bucket: Pick<BucketRow, 'owner_id'>): BucketAclSettings {
  const list = 'canned' in request ? cannedGrants(request.canned, bucket.owner_id, bucket.owner_id).filter((g) => !(g.grantee.kind === 'group' && g.grantee.group === 'AllUsers' && g.permission === 'WRITE')) : request.grants;
  const out: BucketAclSettings = { policy: 'private', publicList: false, memberWrites: false, acl: null };
  const kept: string[] = [];
  for (const { grantee, permission } of list) {
    if (grantee.kind === 'user') {
      if (grantee.id !== canonicalId(bucket.owner_id)) kept.push(`${permission}:${grantee.id}`);
      continue;
    }
    const reads = permission === 'READ' || permission === 'FULL_CONTROL';
    const writes = permission === 'WRITE' || permission === 'FULL_CONTROL';
    if (grantee.group === 'LogDelivery') {
      kept.push(`${permission}:LogDelivery`);
    } else if (grantee.group === 'AllUsers') {
      if (writes) throw new DomainError('NotSupported', 'Anonymous writes are never granted: AllUsers may be granted READ only.');
      if (!reads) throw new DomainError('NotSupported', `${permission} to AllUsers on a bucket is not supported.`);
      out.policy = 'public';
      out.publicList = true;
    } else {
      if (permission === 'READ_ACP' || permission === 'WRITE_ACP') {
        throw new DomainError('NotSupported', `${permission} to AuthenticatedUsers on a bucket is not supported.`);
      }
      if (reads && out.policy === 'private') out.policy = 'authenticated';
      if (writes) out.memberWrites = true;
    }
  }
  out.acl = kept.length ? [...new Set(kept)] : null;
  return out;
}

/** A bucket's ACL as grants: the owner's FULL_CONTROL, its preset's group grants, the stored rest. */
export function bucketGrants(bucket: Pick<BucketRow, 'owner_id' | 'policy' | 'member_writes' | 'acl'>): Grant[] {
  const out: Grant[] = [{ grantee: { kind: 'user', id: canonicalId(bucket.owner_id) }, permission: 'FULL_CONTROL' }];
  if (bucket.policy === 'public') out.push({ grantee: { kind: 'group', group: 'AllUsers' }, permission: 'READ' });
  if (bucket.policy === 'authenticated') out.push({ grantee: { kind: 'group', group: 'AuthenticatedUsers' }, permission: 'READ' });
  if (bucket.member_writes) out.push({ grantee: { kind: 'group', group: 'AuthenticatedUsers' }, permission: 'WRITE' });
  if (bucket.acl) out.push(...grantsOf(bucket.acl, bucket.owner_id));
  return out;
}
