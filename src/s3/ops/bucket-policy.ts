// Bucket policies and Block Public Access on the wire (issue 17 §5, §6):
// Put/Get/DeleteBucketPolicy (?policy, the IAM JSON document as sent),
// GetBucketPolicyStatus (?policyStatus), Put/Get/DeletePublicAccessBlock
// (?publicAccessBlock). The language is core/bucket-policy.ts's, the
// storage core/bucket-policies.ts's, evaluation Postgres's (migration 0023).
import { MalformedPolicy, PUBLIC_ACCESS_FLAGS, type PublicAccessBlock } from '../../core/bucket-policy.ts';
import {
  deleteBucketPolicy,
  getBucketPolicy,
  getPublicAccessBlock,
  publicAccessFlag,
  putBucketPolicy,
  setPublicAccessBlock,
} from '../../core/bucket-policies.ts';
import { requireAdminister } from '../../core/access.ts';
import { requireBucket } from '../../core/buckets.ts';
import { bucketOf, xmlReply, type S3Operation } from '../context.ts';
import { S3Error } from '../errors.ts';
import { readVerifiedBody, readXmlBody } from '../request-body.ts';
import { toXml } from '../xml.ts';

/** Room for S3's 20 KB limit and whitespace around it; the limit itself is compilePolicy's (its own message). */
const MAX_POLICY_BODY = 64 * 1024;

export const putBucketPolicyOp: S3Operation = async (ctx) => {
  const body = await readVerifiedBody(ctx, {
    maxBytes: MAX_POLICY_BODY,
    beforeBody: async () => requireAdminister(await requireBucket(ctx.storage, bucketOf(ctx)), ctx.principal),
  });
  let document: string;
  try {
    document = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new S3Error('MalformedPolicy', 'Policies must be valid JSON and the first byte must be \'{\'');
  }
  try {
    await putBucketPolicy(ctx.storage, bucketOf(ctx), ctx.principal, document);
  } catch (err) {
    if (err instanceof MalformedPolicy) throw new S3Error('MalformedPolicy', err.message);
    throw err;
  }
  return { status: 204 };
};

export const getBucketPolicyOp: S3Operation = async (ctx) => {
  const { bucket, document } = await getBucketPolicy(ctx.storage, bucketOf(ctx), ctx.principal);
  if (document === null) throw new S3Error('NoSuchBucketPolicy', undefined, { BucketName: bucket.name });
  return { status: 200, headers: { 'content-type': 'application/json' }, body: document };
};

export const deleteBucketPolicyOp: S3Operation = async (ctx) => {
  await deleteBucketPolicy(ctx.storage, bucketOf(ctx), ctx.principal);
  return { status: 204 };
};

/**
 * IsPublic by S3's definition of a public policy (core/bucket-policy.ts
 * isPublicStatement). A bucket's read preset is this server's other "bucket
 * policy" (README): 'public' and 'authenticated' are the AllUsers and
 * AuthenticatedUsers READ grants, which S3 calls public, so a bucket with
 * such a preset reports IsPublic true too — unless IgnorePublicAcls makes
 * them grant nothing. A bucket with neither a policy document nor a
 * non-private preset has no policy: NoSuchBucketPolicy, as S3 answers.
 */
export const getBucketPolicyStatusOp: S3Operation = async (ctx) => {
  const { bucket, document, isPublic } = await getBucketPolicy(ctx.storage, bucketOf(ctx), ctx.principal);
  const presetPublic = bucket.policy !== 'private' && !(await publicAccessFlag(ctx.storage, bucket, 'IgnorePublicAcls'));
  if (document === null && bucket.policy === 'private') throw new S3Error('NoSuchBucketPolicy', undefined, { BucketName: bucket.name });
  return xmlReply(toXml('PolicyStatus', { IsPublic: String(isPublic || presetPublic) }));
};

/** `<PublicAccessBlockConfiguration>`: each flag true or false; an absent one is false (as S3 stores it). */
export function publicAccessBlockFromXml(body: Record<string, unknown> | undefined): PublicAccessBlock {
  const doc = body?.PublicAccessBlockConfiguration;
  if (doc === '') return { BlockPublicAcls: false, IgnorePublicAcls: false, BlockPublicPolicy: false, RestrictPublicBuckets: false };
  if (doc === null || typeof doc !== 'object') throw new S3Error('MalformedXML');
  const out = {} as PublicAccessBlock;
  for (const flag of PUBLIC_ACCESS_FLAGS) {
    const v = (doc as Record<string, unknown>)[flag];
    if (v === undefined) out[flag] = false;
    else if (typeof v === 'string' && /^(true|false)$/i.test(v.trim())) out[flag] = v.trim().toLowerCase() === 'true';
    else throw new S3Error('MalformedXML');
  }
  return out;
}

export const putPublicAccessBlockOp: S3Operation = async (ctx) => {
  const doc = await readXmlBody(ctx, {
    optional: false,
    beforeBody: async () => requireAdminister(await requireBucket(ctx.storage, bucketOf(ctx)), ctx.principal),
  });
  await setPublicAccessBlock(ctx.storage, bucketOf(ctx), ctx.principal, publicAccessBlockFromXml(doc));
  return { status: 200 };
};

export const getPublicAccessBlockOp: S3Operation = async (ctx) => {
  const block = await getPublicAccessBlock(ctx.storage, bucketOf(ctx), ctx.principal);
  if (!block) throw new S3Error('NoSuchPublicAccessBlockConfiguration', undefined, { BucketName: bucketOf(ctx) });
  return xmlReply(toXml('PublicAccessBlockConfiguration', Object.fromEntries(PUBLIC_ACCESS_FLAGS.map((f) => [f, String(block[f])]))));
};

export const deletePublicAccessBlockOp: S3Operation = async (ctx) => {
  await setPublicAccessBlock(ctx.storage, bucketOf(ctx), ctx.principal, null);
  return { status: 204 };
};
