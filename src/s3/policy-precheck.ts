// Bucket policies at the S3 edge (issue 17 §5): what a request states about
// itself for policy conditions, and — for a bucket that has a policy — the
// policy's word on the request's own action, asked of Postgres before the
// operation runs, so that core/access.ts's early checks (before the body is
// read, before 100 Continue) widen and narrow as the policy says. Row-level
// security decides again on every row (migration 0023); this is the early
// answer, not a second rule: the same SQL function gives both.
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { publicAccessFlag } from '../core/bucket-policies.ts';
import { findBucket } from '../core/buckets.ts';
import { DomainError } from '../core/errors.ts';
import type { Services } from '../core/services.ts';
import { readAs } from '../db/session.ts';
import { isService, type PolicyVerdict, type Principal } from '../principals/principal.ts';
import type { Endpoint, S3Route } from './router.ts';

/**
 * The endpoints whose pre-check a policy answers: the S3 action, whether the
 * object key is part of the resource, and which pre-check (core/access.ts)
 * the answer stands for. Reads of objects are absent: RLS alone decides
 * them, so a GET costs no extra statement. Policy and Block Public Access
 * endpoints are absent too: the bucket owner can always change its policy,
 * as an AWS account's root user can (no policy can lock the owner out).
 */
const ACTIONS: Partial<Record<Endpoint, { action: string; object: boolean; use: PolicyVerdict['use'] }>> = {
  PutObject: { action: 's3:putobject', object: true, use: 'write' },
  CopyObject: { action: 's3:putobject', object: true, use: 'write' },
  CreateMultipartUpload: { action: 's3:putobject', object: true, use: 'write' },
  UploadPart: { action: 's3:putobject', object: true, use: 'write' },
  UploadPartCopy: { action: 's3:putobject', object: true, use: 'write' },
  CompleteMultipartUpload: { action: 's3:putobject', object: true, use: 'write' },
  AbortMultipartUpload: { action: 's3:abortmultipartupload', object: true, use: 'write' },
  DeleteObject: { action: 's3:deleteobject', object: true, use: 'write' },
  PutObjectTagging: { action: 's3:putobjecttagging', object: true, use: 'write' },
  DeleteObjectTagging: { action: 's3:deleteobjecttagging', object: true, use: 'write' },
  ListObjects: { action: 's3:listbucket', object: false, use: 'list' },
  ListObjectsV2: { action: 's3:listbucket', object: false, use: 'list' },
  ListObjectVersions: { action: 's3:listbucketversions', object: false, use: 'list' },
  ListMultipartUploads: { action: 's3:listbucketmultipartuploads', object: false, use: 'list' },
  DeleteBucket: { action: 's3:deletebucket', object: false, use: 'administer' },
  GetBucketAcl: { action: 's3:getbucketacl', object: false, use: 'administer' },
  PutBucketAcl: { action: 's3:putbucketacl', object: false, use: 'administer' },
  GetBucketTagging: { action: 's3:getbuckettagging', object: false, use: 'administer' },
  PutBucketTagging: { action: 's3:putbuckettagging', object: false, use: 'administer' },
  DeleteBucketTagging: { action: 's3:putbuckettagging', object: false, use: 'administer' },
  GetBucketCors: { action: 's3:getbucketcors', object: false, use: 'administer' },
  PutBucketVersioning: { action: 's3:putbucketversioning', object: false, use: 'administer' },
  PutBucketCors: { action: 's3:putbucketcors', object: false, use: 'administer' },
  DeleteBucketCors: { action: 's3:putbucketcors', object: false, use: 'administer' },
  GetBucketLifecycleConfiguration: { action: 's3:getlifecycleconfiguration', object: false, use: 'administer' },
  PutBucketLifecycleConfiguration: { action: 's3:putlifecycleconfiguration', object: false, use: 'administer' },
  DeleteBucketLifecycle: { action: 's3:putlifecycleconfiguration', object: false, use: 'administer' },
  GetBucketOwnershipControls: { action: 's3:getbucketownershipcontrols', object: false, use: 'administer' },
  PutBucketOwnershipControls: { action: 's3:putbucketownershipcontrols', object: false, use: 'administer' },
};

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/**
 * The condition keys a request states (lower case, as compiled policies
 * name them): where it comes from and over what, and the s3: keys of its
 * parameters and headers. The principal's own keys (aws:userid, …) are not
 * here: Postgres takes them from the claims (storage.policy_facts).
 */
export function requestContext(req: IncomingMessage, route: S3Route, address: string | undefined): Record<string, string | string[]> {
  const ctx: Record<string, string | string[]> = {};
  if (address) ctx['aws:sourceip'] = address;
  ctx['aws:securetransport'] = (req.socket as TLSSocket).encrypted ? 'true' : 'false';
  const put = (key: string, value: string | null | undefined) => {
    if (value !== undefined && value !== null) ctx[key] = value;
  };
  put('aws:referer', header(req, 'referer'));
  put('aws:useragent', header(req, 'user-agent'));
  put('s3:prefix', route.query.get('prefix'));
  put('s3:delimiter', route.query.get('delimiter'));
  put('s3:max-keys', route.query.get('max-keys'));
  put('s3:x-amz-acl', header(req, 'x-amz-acl'));
  put('s3:x-amz-server-side-encryption', header(req, 'x-amz-server-side-encryption'));
  const tagging = header(req, 'x-amz-tagging');
  if (tagging !== undefined) {
    const tags = new URLSearchParams(tagging);
    for (const [k, v] of tags) ctx[`s3:requestobjecttag/${k.toLowerCase()}`] = v;
    ctx['s3:requestobjecttagkeys'] = [...tags.keys()];
  }
  return ctx;
}

/** The writes that may carry an ACL in their headers (x-amz-acl, x-amz-grant-*). */
const ACL_WRITES: ReadonlySet<Endpoint> = new Set<Endpoint>(['PutObject', 'CopyObject', 'CreateMultipartUpload', 'PutObjectAcl', 'PutBucketAcl', 'CreateBucket']);
const PUBLIC_CANNED = new Set(['public-read', 'public-read-write', 'authenticated-read']);
const PUBLIC_GROUPS = /acs\.amazonaws\.com\/groups\/global\/(AllUsers|AuthenticatedUsers)/;

/** Whether the request's headers ask for a public ACL: S3's "public" grants, to AllUsers or AuthenticatedUsers. */
export function asksPublicAcl(req: IncomingMessage): boolean {
  const canned = header(req, 'x-amz-acl');
  if (canned !== undefined && PUBLIC_CANNED.has(canned.trim())) return true;
  return ['x-amz-grant-read', 'x-amz-grant-write', 'x-amz-grant-read-acp', 'x-amz-grant-write-acp', 'x-amz-grant-full-control']
    .some((h) => PUBLIC_GROUPS.test(header(req, h) ?? ''));
}

/**
 * BlockPublicAcls (issue 17 §6): a write that asks for a public ACL is
 * refused where it holds — the bucket's own setting, else the server's
 * default (a new bucket has only that) — for every principal, the root key
 * included, as S3 refuses it (403 AccessDenied). Asked only of requests
 * that carry such a header.
 */
async function refusePublicAcl(storage: Services, req: IncomingMessage, route: S3Route): Promise<void> {
  if (!ACL_WRITES.has(route.endpoint) || !route.bucket || !asksPublicAcl(req)) return;
  const bucket = route.endpoint === 'CreateBucket' ? null : ((await findBucket(storage, route.bucket)) ?? null);
  if (await publicAccessFlag(storage, bucket, 'BlockPublicAcls')) throw new DomainError('AccessDenied');
}

/**
 * `signer` with the request's facts, and with the bucket policy's word on
 * the request's action when its bucket has a policy (one statement, as the
 * principal: storage.bucket_policy_effect). The service role is not subject
 * to bucket policies; buckets without one cost nothing, nor do the owner's
 * requests to a bucket whose policy has no Deny.
 */
export async function withBucketPolicy(storage: Services, req: IncomingMessage, route: S3Route, signer: Principal): Promise<Principal> {
  const principal: Principal = { ...signer, requestContext: requestContext(req, route, signer.address) };
  await refusePublicAcl(storage, req, route);
  const asked = ACTIONS[route.endpoint];
  if (!asked || !route.bucket || isService(principal)) return principal;
  const bucket = await findBucket(storage, route.bucket);
  if (!bucket?.has_policy) return principal;
  // An Allow widens nothing for the bucket's owner: without a Deny, its requests need no early answer.
  if (!bucket.policy_has_deny && principal.kind === 'user' && principal.userId !== null && principal.userId === bucket.owner_id) return principal;
  const key = asked.object ? (route.key ?? null) : null;
  const [row] = await readAs(storage.sql, principal, (tx) => tx<{ effect: 'allow' | 'deny' | null }[]>`
    select storage.bucket_policy_effect(${bucket.id}, ${asked.action}, ${key}) as effect`);
  return { ...principal, policyVerdict: { bucketId: bucket.id, use: asked.use, effect: row?.effect ?? null } };
}
