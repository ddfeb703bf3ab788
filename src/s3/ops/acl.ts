// Get/PutBucketAcl and Get/PutObjectAcl, answered from the bucket's read
// policy (src/core/acl.ts): aerostore has no per-grant ACLs, so clients see
// and set the canned ACL that matches the policy.
import { cannedAclOf, policyFromCannedAcl, policyFromGrants, readGroupOf } from '../../core/acl.ts';
import { type BucketPolicy } from '../../core/bucket.ts';
import { requireAdminister, requireWrite } from '../../core/access.ts';
import { requireBucket, updateBucketSettings } from '../../core/buckets.ts';
import { findObject } from '../../core/objects.ts';
import { bucketOf, keyOf, xmlReply, type S3Context, type S3Operation } from '../context.ts';
import { S3Error } from '../errors.ts';
import { readXmlBody } from '../request-body.ts';
import { toXml, type XmlNode } from '../xml.ts';
import { ownerXml } from './bucket.ts';

const XSI = 'http://www.w3.org/2001/XMLSchema-instance';

function aclXml(ownerId: string | null, policy: BucketPolicy): string {
  const owner = ownerXml(ownerId);
  const grants: XmlNode[] = [
    { Grantee: { '@_xmlns:xsi': XSI, '@_xsi:type': 'CanonicalUser', ...owner }, Permission: 'FULL_CONTROL' },
  ];
  const group = readGroupOf(policy);
  if (group) grants.push({ Grantee: { '@_xmlns:xsi': XSI, '@_xsi:type': 'Group', URI: group }, Permission: 'READ' });
  return toXml('AccessControlPolicy', { Owner: owner, AccessControlList: { Grant: grants } });
}

/** The canned ACL header, or undefined; per-grantee headers are not supported. */
function cannedAclHeader(ctx: S3Context): string | undefined {
  if (Object.keys(ctx.req.headers).some((h) => h.startsWith('x-amz-grant-'))) {
    throw new S3Error('NotImplemented', 'x-amz-grant-* headers are not supported: use a canned ACL (x-amz-acl).');
  }
  const acl = ctx.req.headers['x-amz-acl'];
  return typeof acl === 'string' ? acl : undefined;
}

/** The policy a PutBucketAcl/PutObjectAcl asks for: a canned ACL header or an AccessControlPolicy body. */
async function requestedPolicy(ctx: S3Context): Promise<BucketPolicy> {
  const canned = cannedAclHeader(ctx);
  const body = await readXmlBody(ctx, { optional: canned !== undefined });
  if (canned !== undefined) {
    if (body) throw new S3Error('UnexpectedContent', 'This request does not support content together with x-amz-acl.');
    return policyFromCannedAcl(canned);
  }
  return policyFromGrants(grantsFromXml(body));
}

/** The grants of a parsed `<AccessControlPolicy>`: text where text belongs, else MalformedACLError. */
export function grantsFromXml(body: Record<string, unknown> | undefined): Array<{ uri?: string; permission?: string }> {
  const policy = body?.AccessControlPolicy;
  const list = policy !== null && typeof policy === 'object' ? (policy as { AccessControlList?: unknown }).AccessControlList : undefined;
  if (list === null || typeof list !== 'object') throw new S3Error('MalformedACLError');
  const optionalText = (v: unknown): string | undefined => {
    if (v !== undefined && typeof v !== 'string') throw new S3Error('MalformedACLError');
    return v;
  };
  const grants = (list as { Grant?: unknown }).Grant ?? [];
  if (!Array.isArray(grants)) throw new S3Error('MalformedACLError');
  return grants.map((g) => {
    if (g === null || typeof g !== 'object') throw new S3Error('MalformedACLError');
    const { Grantee, Permission } = g as { Grantee?: unknown; Permission?: unknown };
    if (Grantee !== undefined && (Grantee === null || typeof Grantee !== 'object')) throw new S3Error('MalformedACLError');
    return { uri: optionalText((Grantee as { URI?: unknown } | undefined)?.URI), permission: optionalText(Permission) };
  });
}

export const getBucketAclOp: S3Operation = async (ctx) => {
  const bucket = await requireBucket(ctx.storage, bucketOf(ctx));
  requireAdminister(bucket, ctx.principal);
  return xmlReply(aclXml(bucket.owner_id, bucket.policy));
};

export const putBucketAclOp: S3Operation = async (ctx) => {
  requireAdminister(await requireBucket(ctx.storage, bucketOf(ctx)), ctx.principal);
  await updateBucketSettings(ctx.storage, bucketOf(ctx), ctx.principal, { policy: await requestedPolicy(ctx) });
  return { status: 200 };
};

export const getObjectAclOp: S3Operation = async (ctx) => {
  const { bucket, object } = await findObject(ctx.storage, bucketOf(ctx), keyOf(ctx), ctx.principal, 'metadata');
  return xmlReply(aclXml(object.owner_id, bucket.policy));
};

/**
 * Objects take their readers from the bucket. An object ACL that says what
 * the bucket already says (or owner-only) is accepted; one that would make
 * a single object more public than its bucket is refused, not ignored.
 */
export const putObjectAclOp: S3Operation = async (ctx) => {
  const { bucket } = await findObject(ctx.storage, bucketOf(ctx), keyOf(ctx), ctx.principal, 'metadata');
  requireWrite(bucket, ctx.principal);
  const wanted = await requestedPolicy(ctx);
  if (wanted !== 'private' && wanted !== bucket.policy) {
    throw new S3Error(
      'NotImplemented',
      `aerostore sets readers per bucket, not per object: set the bucket's ACL to ${cannedAclOf(wanted)} instead.`,
    );
  }
  return { status: 200 };
};
