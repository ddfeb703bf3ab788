// S3 canned ACLs mapped onto aerostore's bucket policy. aerostore has one
// read policy per bucket (private | authenticated | public), not per-grant
// ACLs; S3 clients that set or read ACLs see the canned ACL that matches.
import { DomainError } from './errors.ts';
import type { BucketPolicy } from './bucket.ts';

/**
 * Canned ACL → bucket policy. `public-read-write` reads as public: anonymous
 * writes are never granted. Owner-only ACLs are private.
 */
const CANNED: Record<string, BucketPolicy> = {
  private: 'private',
  'bucket-owner-read': 'private',
  'bucket-owner-full-control': 'private',
  'aws-exec-read': 'private',
  'log-delivery-write': 'private',
  'authenticated-read': 'authenticated',
  'public-read': 'public',
  'public-read-write': 'public',
};

export function policyFromCannedAcl(acl: string): BucketPolicy {
  const policy = CANNED[acl.trim()];
  if (!policy) throw new DomainError('InvalidArgument', `Unsupported canned ACL: ${acl}`, { ArgumentName: 'x-amz-acl', ArgumentValue: acl });
  return policy;
}

export function cannedAclOf(policy: BucketPolicy): string {
  return policy === 'public' ? 'public-read' : policy === 'authenticated' ? 'authenticated-read' : 'private';
}

export const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers';
export const AUTHENTICATED_USERS = 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers';

/** The grantee group whose READ grant expresses a policy, if any. */
export function readGroupOf(policy: BucketPolicy): string | undefined {
  return policy === 'public' ? ALL_USERS : policy === 'authenticated' ? AUTHENTICATED_USERS : undefined;
}

/**
 * An AccessControlPolicy document's grants → policy: a READ (or
 * FULL_CONTROL) grant to AllUsers makes it public, to AuthenticatedUsers
 * authenticated; anything else private.
 */
export function policyFromGrants(grants: Array<{ uri?: string; permission?: string }>): BucketPolicy {
  const reads = (uri: string) => grants.some((g) => g.uri === uri && (g.permission === 'READ' || g.permission === 'FULL_CONTROL'));
  if (reads(ALL_USERS)) return 'public';
  if (reads(AUTHENTICATED_USERS)) return 'authenticated';
  return 'private';
}
