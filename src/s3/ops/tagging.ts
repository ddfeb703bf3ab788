// Put/Get/DeleteObjectTagging (PUT|GET|DELETE /bucket/key?tagging) and
// Put/Get/DeleteBucketTagging (PUT|GET|DELETE /bucket?tagging).
import { getBucketTags, getObjectTags, setBucketTags, setObjectTags, validateTags, type Tags } from '../../core/tagging.ts';
import { requireAdminister } from '../../core/access.ts';
import { versionHeader, versionIdOf } from './versioning.ts';
import { requireChangeOf } from '../../core/policy-checks.ts';
import { requireBucket } from '../../core/buckets.ts';
import type { BucketRow } from '../../core/bucket.ts';
import { bucketOf, keyOf, xmlReply, type S3Context, type S3Operation } from '../context.ts';
import { S3Error } from '../errors.ts';
import { readVerifiedBody } from '../request-body.ts';
import { decodeXmlText, MAX_REQUEST_XML, parseXml, toXml, xmlText } from '../xml.ts';

/** A Tagging document is small: 50 tags (a bucket's) of 128 + 256 characters, with markup. */
const MAX_TAGGING_XML = 256 * 1024;

/** `<Tagging><TagSet><Tag><Key/><Value/></Tag>*</TagSet></Tagging>`, else MalformedXML; then validated. */
export function parseTaggingXml(text: string, of: 'object' | 'bucket' = 'object'): Tags {
  // Tag values keep their leading and trailing spaces.
  const root = parseXml(text, { keepWhitespace: true }).Tagging;
  if (root === null || typeof root !== 'object') throw new S3Error('MalformedXML');
  const set = (root as { TagSet?: unknown }).TagSet;
  // <TagSet/> (no tags) parses as an empty string.
  if (set === undefined || set === null || (typeof set !== 'object' && !(typeof set === 'string' && set.trim() === ''))) {
    throw new S3Error('MalformedXML');
  }
  const list = typeof set === 'object' ? ((set as { Tag?: unknown }).Tag ?? []) : [];
  if (!Array.isArray(list)) throw new S3Error('MalformedXML');
  const pairs = list.map((t: unknown): [string, string] => {
    if (t === null || typeof t !== 'object') throw new S3Error('MalformedXML');
    const { Key, Value } = t as { Key?: unknown; Value?: unknown };
    if (typeof Key !== 'string' || typeof Value !== 'string') throw new S3Error('MalformedXML');
    return [decodeXmlText(Key), decodeXmlText(Value)];
  });
  return validateTags(pairs, of);
}

/**
 * A Put*Tagging document, read once `mayChange` allowed the change, and its
 * tags. The body's integrity (Content-MD5, x-amz-checksum-*, a signed
 * x-amz-content-sha256, aws-chunked framing) is verified when the client
 * sends it, through the same checks as an object payload.
 */
async function taggingDocument(ctx: S3Context, of: 'object' | 'bucket', mayChange: (bucket: BucketRow) => void | Promise<void>): Promise<Tags> {
  const body = await readVerifiedBody(ctx, {
    maxBytes: Math.min(MAX_TAGGING_XML, MAX_REQUEST_XML),
    beforeBody: async () => mayChange(await requireBucket(ctx.storage, bucketOf(ctx))),
  });
  const text = xmlText(body).trim();
  if (text === '') throw new S3Error('MalformedXML');
  return parseTaggingXml(text, of);
}

/** PutObjectTagging: replaces the object's tag set. */
export const putObjectTaggingOp: S3Operation = async (ctx) => {
  const tags = await taggingDocument(ctx, 'object', (bucket) => requireChangeOf(ctx.storage, bucket, ctx.principal, 'UPDATE'));
  await setObjectTags(ctx.storage, bucketOf(ctx), keyOf(ctx), ctx.principal, tags, versionIdOf(ctx));
  return { status: 200, headers: versionIdOf(ctx) !== undefined ? { 'x-amz-version-id': versionIdOf(ctx) as string } : {} };
};


/** `<Tagging><TagSet>…</TagSet></Tagging>`; an empty TagSet is written as <TagSet></TagSet>, as S3 does. */
const taggingReply = (tags: Tags) => xmlReply(toXml('Tagging', { TagSet: { Tag: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) } }));

export const getObjectTaggingOp: S3Operation = async (ctx) => {
  const { tags, version, bucket } = await getObjectTags(ctx.storage, bucketOf(ctx), keyOf(ctx), ctx.principal, versionIdOf(ctx));
  const reply = taggingReply(tags);
  return { ...reply, headers: { ...reply.headers, ...versionHeader(bucket, version) } };
};

export const deleteObjectTaggingOp: S3Operation = async (ctx) => {
  await setObjectTags(ctx.storage, bucketOf(ctx), keyOf(ctx), ctx.principal, {}, versionIdOf(ctx));
  return { status: 204, headers: versionIdOf(ctx) !== undefined ? { 'x-amz-version-id': versionIdOf(ctx) as string } : {} };
};

/** PutBucketTagging: replaces the bucket's tag set (up to 50 tags), the bucket owner's to change. */
export const putBucketTaggingOp: S3Operation = async (ctx) => {
  const tags = await taggingDocument(ctx, 'bucket', (bucket) => requireAdminister(bucket, ctx.principal));
  await setBucketTags(ctx.storage, bucketOf(ctx), ctx.principal, tags);
  return { status: 204 };
};

/** GetBucketTagging: the tag set, or NoSuchTagSet for a bucket that has none. */
export const getBucketTaggingOp: S3Operation = async (ctx) => {
  const tags = await getBucketTags(ctx.storage, bucketOf(ctx), ctx.principal);
  if (!tags) throw new S3Error('NoSuchTagSet', undefined, { BucketName: bucketOf(ctx) });
  return taggingReply(tags);
};

export const deleteBucketTaggingOp: S3Operation = async (ctx) => {
  await setBucketTags(ctx.storage, bucketOf(ctx), ctx.principal, undefined);
  return { status: 204 };
};
