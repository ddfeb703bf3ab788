// Bucket operations: ListBuckets, CreateBucket, DeleteBucket, HeadBucket,
// GetBucketLocation, GetBucketVersioning.
import { policyFromCannedAcl } from '../../core/acl.ts';
import { requireSee } from '../../core/access.ts';
import { createBucket, deleteBucket, listBuckets, requireBucket } from '../../core/buckets.ts';
import type { BucketRow } from '../../core/bucket.ts';
import { ownerId } from '../../principals/principal.ts';
import { bucketOf, xmlReply, type S3Context, type S3Operation } from '../context.ts';
import { S3Error } from '../errors.ts';
import { readXmlBody } from '../request-body.ts';
import { isoTime, toXml } from '../xml.ts';

export function ownerXml(id: string | null) {
  const owner = id ?? 'aerostore';
  return { ID: owner, DisplayName: owner };
}

export const listBucketsOp: S3Operation = async (ctx) => {
  // S3 refuses an anonymous ListBuckets; everyone else sees the buckets RLS shows them.
  if (ctx.principal.kind === 'anonymous') throw new S3Error('AccessDenied');
  const buckets = await listBuckets(ctx.storage, ctx.principal);
  return xmlReply(
    toXml('ListAllMyBucketsResult', {
      Owner: ownerXml(ownerId(ctx.principal)),
      Buckets: { Bucket: buckets.map((b) => ({ Name: b.name, CreationDate: isoTime(b.created_at), BucketRegion: b.region })) },
    }),
  );
};

export const createBucketOp: S3Operation = async (ctx) => {
  const body = await readXmlBody(ctx, { optional: true });
  // A document, if any, must be the configuration: another one is a client bug, not "no configuration".
  if (body !== undefined && body.CreateBucketConfiguration === undefined) throw new S3Error('MalformedXML');
  const config = body?.CreateBucketConfiguration as { LocationConstraint?: string } | '' | undefined;
  const location = typeof config === 'object' ? config?.LocationConstraint : undefined;
  if (location && location !== ctx.storage.region) {
    throw new S3Error(
      'IllegalLocationConstraintException',
      `The ${location} location constraint is incompatible with the region this server serves (${ctx.storage.region}).`,
    );
  }
  // A canned ACL on CreateBucket sets who may read it (src/core/acl.ts).
  const acl = ctx.req.headers['x-amz-acl'];
  const policy = typeof acl === 'string' ? policyFromCannedAcl(acl) : 'private';
  const bucket = await createBucket(ctx.storage, bucketOf(ctx), ctx.principal, policy);
  return { status: 200, headers: { location: `/${bucket.name}` } };
};

export const deleteBucketOp: S3Operation = async (ctx) => {
  await deleteBucket(ctx.storage, bucketOf(ctx), ctx.principal);
  return { status: 204 };
};

/** The bucket, if the principal may know about it (HeadBucket, GetBucketLocation...). */
async function visibleBucket(ctx: S3Context): Promise<BucketRow> {
  const bucket = await requireBucket(ctx.storage, bucketOf(ctx));
  requireSee(bucket, ctx.principal);
  return bucket;
}

export const headBucketOp: S3Operation = async (ctx) => {
  const bucket = await visibleBucket(ctx);
  return { status: 200, headers: { 'x-amz-bucket-region': bucket.region } };
};

export const getBucketLocationOp: S3Operation = async (ctx) => {
  const bucket = await visibleBucket(ctx);
  // us-east-1 is reported as an empty LocationConstraint (GetBucketLocation docs).
  const region = bucket.region === 'us-east-1' ? '' : bucket.region;
  return xmlReply(toXml('LocationConstraint', { '#text': region }));
};

export const getBucketVersioningOp: S3Operation = async (ctx) => {
  await visibleBucket(ctx);
  // Versioning is never enabled here; S3 answers an empty configuration then.
  return xmlReply(toXml('VersioningConfiguration', {}));
};
