// Bucket lifecycle configuration: Put/Get/DeleteBucketLifecycleConfiguration
// (S3 API Reference). The XML in and out; validation and the meaning of
// the rules are core/lifecycle.ts's, the pass that applies them
// maintenance/lifecycle.ts's.
import { requireAdminister } from '../../core/access.ts';
import type { LifecycleFilter, LifecycleRule, LifecycleTag } from '../../core/bucket.ts';
import { requireBucket } from '../../core/buckets.ts';
import { parseIsoTime, setBucketLifecycle, type LifecycleRuleInput } from '../../core/lifecycle.ts';
import { bucketOf, xmlReply, type S3Operation } from '../context.ts';
import { S3Error } from '../errors.ts';
import { readXmlBody } from '../request-body.ts';
import { decodeXmlText, toXml, type XmlNode } from '../xml.ts';

/**
 * S3 answers every lifecycle PUT and GET with the minimum size below which
 * objects are not transitioned; nothing transitions here, so the default.
 */
const MINIMUM_SIZE = { 'x-amz-transition-default-minimum-object-size': 'all_storage_classes_128K' };

type Element = Record<string, unknown>;

/** Text elements only: an element with children (or repeated) where text belongs is MalformedXML. */
function text(x: unknown): string {
  if (typeof x !== 'string') throw new S3Error('MalformedXML');
  return decodeXmlText(x);
}

/** An xs:int / xs:long: digits with an optional sign, else the document does not validate. */
function integer(x: unknown): number {
  const t = text(x).trim();
  if (!/^[-+]?\d{1,20}$/.test(t)) throw new S3Error('MalformedXML');
  return Number(t);
}

/** A container element with only the children named; `<X/>` parses as '' and is an empty container. */
function element(x: unknown, allowed: readonly string[]): Element {
  if (x === '') return {};
  if (x === null || typeof x !== 'object' || Array.isArray(x)) throw new S3Error('MalformedXML');
  for (const name of Object.keys(x)) if (!allowed.includes(name)) throw new S3Error('MalformedXML');
  return x as Element;
}

function tagFromXml(x: unknown): LifecycleTag {
  const t = element(x, ['Key', 'Value']);
  if (t.Key === undefined || t.Value === undefined) throw new S3Error('MalformedXML');
  return { key: text(t.Key), value: text(t.Value) };
}

const SIZE_AND_PREFIX = ['Prefix', 'ObjectSizeGreaterThan', 'ObjectSizeLessThan'] as const;

function filterFromXml(x: unknown): LifecycleFilter {
  const f = element(x, [...SIZE_AND_PREFIX, 'Tag', 'And']);
  // "A Filter can have exactly one of Prefix, Tag, ObjectSizeGreaterThan, ObjectSizeLessThan, or And."
  if (Object.keys(f).length > 1) throw new S3Error('MalformedXML');
  if (f.And !== undefined) {
    const and = element(f.And, [...SIZE_AND_PREFIX, 'Tag']);
    if (Object.keys(and).length === 0) throw new S3Error('MalformedXML');
    return { ...predicates(and), ...(and.Tag !== undefined ? { tags: (and.Tag as unknown[]).map(tagFromXml) } : {}), and: true };
  }
  return { ...predicates(f), ...(f.Tag !== undefined ? { tags: [tagFromXml(f.Tag)] } : {}) };
}

function predicates(f: Element): LifecycleFilter {
  return {
    ...(f.Prefix !== undefined ? { prefix: text(f.Prefix) } : {}),
    ...(f.ObjectSizeGreaterThan !== undefined ? { sizeGreaterThan: integer(f.ObjectSizeGreaterThan) } : {}),
    ...(f.ObjectSizeLessThan !== undefined ? { sizeLessThan: integer(f.ObjectSizeLessThan) } : {}),
  };
}

function expirationFromXml(x: unknown): NonNullable<LifecycleRuleInput['expiration']> {
  const e = element(x, ['Days', 'Date', 'ExpiredObjectDeleteMarker']);
  const out: NonNullable<LifecycleRuleInput['expiration']> = {};
  if (e.Days !== undefined) out.days = integer(e.Days);
  if (e.Date !== undefined) {
    // xs:dateTime (or a date alone, which S3 also takes): anything else does not validate.
    out.date = parseIsoTime(text(e.Date));
    if (out.date === undefined) throw new S3Error('MalformedXML');
  }
  if (e.ExpiredObjectDeleteMarker !== undefined) {
    const t = text(e.ExpiredObjectDeleteMarker).trim();
    // xs:boolean's lexical forms.
    if (!['true', 'false', '1', '0'].includes(t)) throw new S3Error('MalformedXML');
    out.expiredObjectDeleteMarker = t === 'true' || t === '1';
  }
  return out;
}

const RULE_ELEMENTS = [
  'ID', 'Prefix', 'Filter', 'Status', 'Expiration', 'NoncurrentVersionExpiration', 'AbortIncompleteMultipartUpload',
  'Transition', 'NoncurrentVersionTransition',
];

/** The rules of a parsed `<LifecycleConfiguration>` (validated by core/lifecycle.ts). */
export function lifecycleRulesFromXml(doc: Record<string, unknown> | undefined): LifecycleRuleInput[] {
  const config = element(doc?.LifecycleConfiguration, ['Rule']);
  return ((config.Rule ?? []) as unknown[]).map((x) => {
    const r = element(x, RULE_ELEMENTS);
    const rule: LifecycleRuleInput = {};
    if (r.ID !== undefined) rule.id = text(r.ID);
    if (r.Status !== undefined) rule.status = text(r.Status).trim();
    if (r.Prefix !== undefined) rule.prefix = text(r.Prefix);
    if (r.Filter !== undefined) rule.filter = filterFromXml(r.Filter);
    if (r.Expiration !== undefined) rule.expiration = expirationFromXml(r.Expiration);
    if (r.NoncurrentVersionExpiration !== undefined) {
      const nc = element(r.NoncurrentVersionExpiration, ['NoncurrentDays', 'NewerNoncurrentVersions']);
      rule.noncurrentVersionExpiration = {
        ...(nc.NoncurrentDays !== undefined ? { noncurrentDays: integer(nc.NoncurrentDays) } : {}),
        ...(nc.NewerNoncurrentVersions !== undefined ? { newerNoncurrentVersions: integer(nc.NewerNoncurrentVersions) } : {}),
      };
    }
    if (r.AbortIncompleteMultipartUpload !== undefined) {
      const a = element(r.AbortIncompleteMultipartUpload, ['DaysAfterInitiation']);
      rule.abortIncompleteMultipartUpload = a.DaysAfterInitiation !== undefined ? { daysAfterInitiation: integer(a.DaysAfterInitiation) } : {};
    }
    if (r.Transition !== undefined || r.NoncurrentVersionTransition !== undefined) rule.transitions = true;
    return rule;
  });
}

const tagXml = (t: LifecycleTag) => ({ Key: t.key, Value: t.value });

function filterXml(f: LifecycleFilter): XmlNode {
  const inner: XmlNode = {
    Prefix: f.prefix,
    Tag: f.tags?.map(tagXml),
    ObjectSizeGreaterThan: f.sizeGreaterThan,
    ObjectSizeLessThan: f.sizeLessThan,
  };
  return f.and ? { And: inner } : inner;
}

/** A rule as S3's GetBucketLifecycleConfiguration writes it, in the form it was set. */
export function lifecycleRuleXml(r: LifecycleRule): XmlNode {
  const exp = r.expiration;
  const nc = r.noncurrentVersionExpiration;
  return {
    ID: r.id,
    ...(r.prefix !== undefined ? { Prefix: r.prefix } : { Filter: filterXml(r.filter ?? {}) }),
    Status: r.enabled ? 'Enabled' : 'Disabled',
    Expiration: exp && { Days: exp.days, Date: exp.date, ExpiredObjectDeleteMarker: exp.expiredObjectDeleteMarker },
    NoncurrentVersionExpiration: nc && { NoncurrentDays: nc.noncurrentDays, NewerNoncurrentVersions: nc.newerNoncurrentVersions },
    AbortIncompleteMultipartUpload: r.abortIncompleteMultipartUpload && { DaysAfterInitiation: r.abortIncompleteMultipartUpload.daysAfterInitiation },
  };
}

export const putBucketLifecycleOp: S3Operation = async (ctx) => {
  const doc = await readXmlBody(ctx, {
    optional: false,
    // S3 requires Content-MD5 or an x-amz-checksum-* with this document.
    requireDigest: true,
    beforeBody: async () => requireAdminister(await requireBucket(ctx.storage, bucketOf(ctx)), ctx.principal),
  });
  await setBucketLifecycle(ctx.storage, bucketOf(ctx), ctx.principal, lifecycleRulesFromXml(doc));
  return { status: 200, headers: MINIMUM_SIZE };
};

export const getBucketLifecycleOp: S3Operation = async (ctx) => {
  const bucket = await requireBucket(ctx.storage, bucketOf(ctx));
  requireAdminister(bucket, ctx.principal);
  if (!bucket.lifecycle) throw new S3Error('NoSuchLifecycleConfiguration', undefined, { BucketName: bucket.name });
  const reply = xmlReply(toXml('LifecycleConfiguration', { Rule: bucket.lifecycle.map(lifecycleRuleXml) }));
  return { ...reply, headers: { ...reply.headers, ...MINIMUM_SIZE } };
};

export const deleteBucketLifecycleOp: S3Operation = async (ctx) => {
  await setBucketLifecycle(ctx.storage, bucketOf(ctx), ctx.principal, null);
  return { status: 204 };
};
