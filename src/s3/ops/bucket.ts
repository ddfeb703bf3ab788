// Bucket operations: ListBuckets, CreateBucket, DeleteBucket, HeadBucket,
// GetBucketLocation, GetBucketVersioning.
import { aclRequestFromHeaders, bucketSettingsFor, objectOwnershipOf } from './acl.ts';
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

/** ListBuckets' own parameters: any of them asks for a page (S3 then pages by 10,000 by default). */
const LIST_BUCKETS_PARAMETERS = ['max-buckets', 'continuation-token', 'prefix', 'bucket-region'];
const MAX_BUCKETS = 10_000;
const INT32_MAX = 2 ** 31 - 1;

/** `max-buckets`: an integer (else S3's parse error), then 1 to 10,000 (else its range error), each as S3 words it. */
function maxBucketsOf(raw: string | null): number {
  if (raw === null) return MAX_BUCKETS;
  const n = /^-?\d{1,10}$/.test(raw) ? Number(raw) : NaN;
  if (!(Math.abs(n) <= INT32_MAX)) {
    throw new S3Error('InvalidArgument', 'Provided max-buckets not an integer or within integer range', { ArgumentName: 'max-buckets', ArgumentValue: raw });
  }
  if (n < 1 || n > MAX_BUCKETS) {
    throw new S3Error('InvalidArgument', `Argument max-buckets must be an integer between 1 and ${MAX_BUCKETS}`, {
      ArgumentName: 'max-buckets',
      ArgumentValue: String(n),
    });
  }
  return n;
}

/**
 * `bucket-region`: this server's region (compared without case, as S3
 * does), else S3's refusal — a region-shaped value is one served elsewhere,
 * anything else no region at all.
 */
function regionFilterOf(raw: string | null, served: string): string | undefined {
  if (raw === null) return undefined;
  if (raw.toLowerCase() === served.toLowerCase()) return served;
  const message = /^[a-z]{2}(-[a-z]+)+-\d+$/.test(raw)
    ? 'Requests with bucket-region specified must be made to the corresponding regional endpoint'
    : `Argument value ${raw} is not a valid AWS Region`;
  throw new S3Error('InvalidArgument', message, { ArgumentName: 'bucket-region' });
}

/** Continuation tokens are opaque to clients: the last name of the page, versioned and base64url'd. */
const bucketToken = (after: string) => Buffer.from('b1:' + after).toString('base64url');

function afterOf(token: string | null): string | undefined {
  // An empty token is no token: the listing starts at the beginning (as S3 answers it).
  if (token === null || token === '') return undefined;
  const decoded = /^[A-Za-z0-9_-]+$/.test(token) ? Buffer.from(token, 'base64url').toString('utf8') : '';
  if (!decoded.startsWith('b1:')) {
    throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', { ArgumentName: 'continuation-token' });
  }
  return decoded.slice(3);
}

export const listBucketsOp: S3Operation = async (ctx) => {
  const q = ctx.route.query;
  // The parameters are judged before the credential is, as S3 judges them.
  const maxBuckets = maxBucketsOf(q.get('max-buckets'));
  const region = regionFilterOf(q.get('bucket-region'), ctx.storage.region);
  // S3 refuses an anonymous ListBuckets; everyone else sees the buckets RLS shows them.
  if (ctx.principal.kind === 'anonymous') throw new S3Error('AccessDenied');
  const after = afterOf(q.get('continuation-token'));
  const prefix = q.get('prefix');
  const paged = LIST_BUCKETS_PARAMETERS.some((p) => q.has(p));
  const rows = await listBuckets(ctx.storage, ctx.principal, {
    prefix: prefix ?? undefined,
    after,
    region,
    limit: paged ? maxBuckets + 1 : undefined,
  });
  const page = paged ? rows.slice(0, maxBuckets) : rows;
  const truncated = rows.length > page.length;
  return xmlReply(
    toXml('ListAllMyBucketsResult', {
      Owner: ownerXml(ownerId(ctx.principal)),
      Buckets: { Bucket: page.map((b) => ({ Name: b.name, CreationDate: isoTime(b.created_at), BucketRegion: b.region })) },
      // The prefix when one was sent (an empty one too), then where the next page starts.
      Prefix: prefix ?? undefined,
      ContinuationToken: truncated ? bucketToken(page[page.length - 1].name) : undefined,
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
  // x-amz-object-ownership, and an ACL (x-amz-acl, x-amz-grant-*) that sets who may read and write (core/acl.ts).
  const ownershipHeader = ctx.req.headers['x-amz-object-ownership'];
  const objectOwnership = typeof ownershipHeader === 'string' ? objectOwnershipOf(ownershipHeader, 'x-amz-object-ownership') : undefined;
  const request = aclRequestFromHeaders(ctx.req.headers);
  const owner = { owner_id: ownerId(ctx.principal), object_ownership: null };
  const settings = request ? bucketSettingsFor(request, owner) : undefined;
  if (objectOwnership === 'BucketOwnerEnforced' && settings && (settings.policy !== 'private' || settings.memberWrites || settings.acl)) {
    throw new S3Error('InvalidBucketAclWithObjectOwnership');
  }
  const lockHeader = String(ctx.req.headers['x-amz-bucket-object-lock-enabled'] ?? '').toLowerCase();
  const bucket = await createBucket(ctx.storage, bucketOf(ctx), ctx.principal, settings?.policy ?? 'private', {
    publicList: settings?.publicList,
    memberWrites: settings?.memberWrites,
    acl: settings?.acl,
    objectOwnership,
    // Object lock at creation turns versioning on for good (core/object-lock.ts).
    objectLock: lockHeader === 'true',
  });
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

