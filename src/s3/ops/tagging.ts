// Put/Get/DeleteObjectTagging (PUT|GET|DELETE /bucket/key?tagging).
import { getObjectTags, setObjectTags, validateTags, type Tags } from '../../core/tagging.ts';
import { requireWrite } from '../../core/access.ts';
import { requireBucket } from '../../core/buckets.ts';
import { bucketOf, keyOf, xmlReply, type S3Operation } from '../context.ts';
import { S3Error } from '../errors.ts';
import { readVerifiedBody } from '../request-body.ts';
import { decodeXmlText, MAX_REQUEST_XML, parseXml, toXml, xmlText } from '../xml.ts';

/** A Tagging document is small: 10 tags of 128 + 256 characters, with markup. */
const MAX_TAGGING_XML = 64 * 1024;

/** `<Tagging><TagSet><Tag><Key/><Value/></Tag>*</TagSet></Tagging>`, else MalformedXML; then validated. */
export function parseTaggingXml(text: string): Tags {
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
  return validateTags(pairs);
}

/**
 * PutObjectTagging: replaces the object's tag set. The body's integrity
 * (Content-MD5, x-amz-checksum-*, a signed x-amz-content-sha256, aws-chunked
 * framing) is verified when the client sends it, through the same checks as
 * an object payload.
 */
export const putObjectTaggingOp: S3Operation = async (ctx) => {
  const body = await readVerifiedBody(ctx, {
    maxBytes: Math.min(MAX_TAGGING_XML, MAX_REQUEST_XML),
    beforeBody: async () => requireWrite(await requireBucket(ctx.storage, bucketOf(ctx)), ctx.principal),
  });
  const text = xmlText(body).trim();
  if (text === '') throw new S3Error('MalformedXML');
  const tags = parseTaggingXml(text);
  await setObjectTags(ctx.storage, bucketOf(ctx), keyOf(ctx), ctx.principal, tags);
  return { status: 200 };
};

export const getObjectTaggingOp: S3Operation = async (ctx) => {
  const tags = await getObjectTags(ctx.storage, bucketOf(ctx), keyOf(ctx), ctx.principal);
  const tag = Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
  // An empty TagSet is written as <TagSet></TagSet>, as S3 does.
  return xmlReply(toXml('Tagging', { TagSet: { Tag: tag } }));
};

export const deleteObjectTaggingOp: S3Operation = async (ctx) => {
  await setObjectTags(ctx.storage, bucketOf(ctx), keyOf(ctx), ctx.principal, {});
  return { status: 204 };
};
